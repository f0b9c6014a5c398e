package uwsgi_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/engine"
	"gatehouse/internal/testutil"
	puwsgi "gatehouse/proto/uwsgi"
	"gatehouse/serve/uwsgi"
	"gatehouse/web"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

type logBuffer = testutil.LogBuffer

// start serves h over the uwsgi protocol on network ("tcp" on 127.0.0.1, or
// "unix") and returns the address to dial and the server's log.
func start(t testing.TB, network string, h web.Handler, cfg uwsgi.Config) (string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(testutil.ShortTempDir(t), "s")
	}
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &engine.Server{Handler: uwsgi.New(h, cfg)}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return l.Addr().String(), logs
}

// nginxVars are the variables of /etc/nginx/uwsgi_params for a request, as
// nginx would fill them.
func nginxVars(method, uri string, extra ...string) []string {
	path, query, _ := strings.Cut(uri, "?")
	v := []string{
		"QUERY_STRING", query, "REQUEST_METHOD", method, "CONTENT_TYPE", "", "CONTENT_LENGTH", "",
		"REQUEST_URI", uri, "PATH_INFO", path, "DOCUMENT_ROOT", "/usr/share/nginx/html",
		"SERVER_PROTOCOL", "HTTP/1.1", "REQUEST_SCHEME", "http",
		"REMOTE_ADDR", "192.0.2.7", "REMOTE_PORT", "40000", "SERVER_PORT", "8080",
		"SERVER_NAME", "example.test", "HTTP_HOST", "example.test",
	}
	return append(v, extra...)
}

// set replaces the value of key in vars (name, value, ...).
func set(vars []string, key, value string) []string {
	out := append([]string(nil), vars...)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == key {
			out[i+1] = value
			return out
		}
	}
	return append(out, key, value)
}

func packet(t testing.TB, mod1 uint8, vars []string) []byte {
	t.Helper()
	var b puwsgi.Builder
	b.Reset(nil, mod1, 0, 0)
	for i := 0; i+1 < len(vars); i += 2 {
		b.Add(vars[i], vars[i+1])
	}
	pkt, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// exchange sends raw bytes and reads the HTTP response with net/http's parser,
// an independent check of the framing.
func exchange(t *testing.T, addr string, raw []byte, method string) (*http.Response, string, error) {
	t.Helper()
	c := dial(t, addr)
	if _, err := c.Write(raw); err != nil {
		return nil, "", err
	}
	r, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(r.Body)
	return r, string(b), err
}

func do(t *testing.T, addr string, vars []string, body string) (*http.Response, string) {
	t.Helper()
	method := "GET"
	for i := 0; i+1 < len(vars); i += 2 {
		if vars[i] == "REQUEST_METHOD" {
			method = vars[i+1]
		}
	}
	r, b, err := exchange(t, addr, append(packet(t, 0, vars), body...), method)
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

// seen is what a handler saw of a request.
type seen struct {
	Method, Target, Path, Query, Host, Scheme, Proto string
	Length                                           int64
	Remote, Local                                    netip.AddrPort
	Fields                                           []string
	Body                                             string
}

func recorder(out *seen) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		body, err := io.ReadAll(r.Body())
		if err != nil {
			return err
		}
		*out = seen{Method: r.Method(), Target: string(r.Target()), Path: string(r.RawPath()),
			Query: string(r.RawQuery()), Host: string(r.Host()), Scheme: r.Scheme(), Proto: r.Proto(),
			Length: r.ContentLength(), Remote: r.RemoteAddr(), Local: r.LocalAddr(), Body: string(body)}
		for name, value := range r.Header.All() {
			out.Fields = append(out.Fields, string(name)+": "+string(value))
		}
		w.Header().Set("Content-Type", "text/plain")
		_, err = w.WriteString("ok")
		return err
	})
}

func TestRequestFromVariables(t *testing.T) {
	var got seen
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr, _ := start(t, network, recorder(&got), uwsgi.Config{})
			vars := nginxVars("POST", "/a%20b/c?x=1&y=2",
				"HTTP_USER_AGENT", "test/1", "HTTP_X_FORWARDED_FOR", "198.51.100.1",
				"HTTP_ACCEPT_ENCODING", "gzip", "HTTP_COOKIE", "a=b; c=d", "HTTPS", "on", "SERVER_ADDR", "127.0.0.1")
			vars = set(vars, "CONTENT_LENGTH", "5")
			vars = set(vars, "CONTENT_TYPE", "text/plain")
			r, body := do(t, addr, vars, "hello")
			if r.StatusCode != 200 || body != "ok" || r.ContentLength != 2 {
				t.Fatalf("%d %q %d", r.StatusCode, body, r.ContentLength)
			}
			want := seen{Method: "POST", Target: "/a%20b/c?x=1&y=2", Path: "/a%20b/c", Query: "x=1&y=2",
				Host: "example.test", Scheme: "https", Proto: "HTTP/1.1", Length: 5,
				Remote: netip.MustParseAddrPort("192.0.2.7:40000"), Local: netip.MustParseAddrPort("127.0.0.1:8080"),
				Fields: []string{"Host: example.test", "User-Agent: test/1", "X-Forwarded-For: 198.51.100.1",
					"Accept-Encoding: gzip", "Cookie: a=b; c=d", "Content-Type: text/plain", "Content-Length: 5"},
				Body: "hello"}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestIgnoredVariables: uWSGI's magic variables act on nothing, and HTTP_PROXY
// (httpoxy) and framing fields never reach the handler as fields.
func TestIgnoredVariables(t *testing.T) {
	var got seen
	addr, _ := start(t, "tcp", recorder(&got), uwsgi.Config{})
	vars := nginxVars("GET", "/app",
		"UWSGI_SCRIPT", "evil:app", "UWSGI_CHDIR", "/tmp", "UWSGI_FILE", "/tmp/evil.py", "UWSGI_SCHEME", "https",
		"UWSGI_APPID", "x", "SCRIPT_NAME", "/elsewhere", "HTTP_PROXY", "http://evil.test:3128",
		"HTTP_CONTENT_LENGTH", "999", "HTTP_TRANSFER_ENCODING", "chunked", "HTTP_X_OK", "1")
	vars = set(vars, "PATH_INFO", "/not-used")
	r, _ := do(t, addr, vars, "")
	if r.StatusCode != 200 {
		t.Fatal(r.Status)
	}
	if got.Path != "/app" || got.Scheme != "http" || got.Length != 0 ||
		strings.Join(got.Fields, "|") != "Host: example.test|X-Ok: 1" {
		t.Fatalf("%+v", got)
	}
}

func TestTargetFallbacks(t *testing.T) {
	var got seen
	addr, _ := start(t, "tcp", recorder(&got), uwsgi.Config{})
	cases := []struct {
		name                string
		vars                []string
		target, path, query string
		host                string
		remote              string
	}{
		{"no REQUEST_URI", []string{"REQUEST_METHOD", "GET", "SCRIPT_NAME", "/app", "PATH_INFO", "/a b%?", "QUERY_STRING", "q=1", "HTTP_HOST", "h"},
			"/app/a%20b%25%3F?q=1", "/app/a%20b%25%3F", "q=1", "h", "invalid AddrPort"},
		{"absolute-form", []string{"REQUEST_METHOD", "GET", "REQUEST_URI", "http://a.test:81/p?q", "HTTP_HOST", "b.test"},
			"http://a.test:81/p?q", "/p", "q", "a.test:81", "invalid AddrPort"},
		{"SERVER_NAME without HTTP_HOST", []string{"REQUEST_METHOD", "GET", "REQUEST_URI", "/", "SERVER_NAME", "s.test", "REMOTE_ADDR", "::ffff:192.0.2.1", "REMOTE_PORT", "1"},
			"/", "/", "", "s.test", "192.0.2.1:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := do(t, addr, c.vars, "")
			if r.StatusCode != 200 || got.Target != c.target || got.Path != c.path || got.Query != c.query ||
				got.Host != c.host || got.Remote.String() != c.remote {
				t.Fatalf("%d %+v", r.StatusCode, got)
			}
		})
	}
}

// RFC 9112 §3.2.2, as over HTTP: a peer that passes an absolute-form
// REQUEST_URI (nginx passes the origin form, other front ends may not) gets
// its authority as the handler's Host field too, not the HTTP_HOST beside it.
func TestAbsoluteFormReplacesHost(t *testing.T) {
	var got seen
	addr, _ := start(t, "tcp", recorder(&got), uwsgi.Config{})
	cases := []struct {
		name   string
		vars   []string
		fields string
	}{
		{"other HTTP_HOST", []string{"REQUEST_METHOD", "GET", "REQUEST_URI", "http://shop.test/x", "HTTP_HOST", "attacker.test", "HTTP_X_A", "1"},
			"Host: shop.test|X-A: 1"},
		{"no HTTP_HOST", []string{"REQUEST_METHOD", "GET", "REQUEST_URI", "http://shop.test:81/x", "SERVER_NAME", "s.test"},
			"Host: shop.test:81"},
		{"origin form", []string{"REQUEST_METHOD", "GET", "REQUEST_URI", "/x", "HTTP_HOST", "shop.test"},
			"Host: shop.test"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := do(t, addr, c.vars, "")
			if r.StatusCode != 200 || strings.Join(got.Fields, "|") != c.fields {
				t.Fatalf("%d %q, want %q", r.StatusCode, got.Fields, c.fields)
			}
		})
	}
}

// TestRefused: requests whose variables cannot be trusted get an error
// response and a log line with the reason; the handler never runs.
func TestRefused(t *testing.T) {
	ran := false
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error { ran = true; return nil })
	addr, logs := start(t, "tcp", h, uwsgi.Config{MaxBodyBytes: 100, Limits: puwsgi.Limits{MaxVarsSize: 1000, MaxVars: 30}})
	base := nginxVars("GET", "/")
	many := append([]string(nil), base...)
	for i := range 20 {
		many = append(many, fmt.Sprintf("HTTP_X_%d", i), "v")
	}
	cases := []struct {
		name   string
		vars   []string
		status int
		reason string
	}{
		{"no method", set(base, "REQUEST_METHOD", ""), 400, "REQUEST_METHOD"},
		{"method not a token", set(base, "REQUEST_METHOD", "GE T"), 400, "REQUEST_METHOD"},
		{"unknown method", set(base, "REQUEST_METHOD", "BREW"), 501, "unknown method"},
		{"target with a space", set(base, "REQUEST_URI", "/a b"), 400, "REQUEST_URI"},
		{"target with a newline", set(base, "REQUEST_URI", "/a\nb"), 400, "REQUEST_URI"},
		{"relative target", set(base, "REQUEST_URI", "a"), 400, "REQUEST_URI"},
		{"userinfo", set(base, "REQUEST_URI", "http://u@h/"), 400, "REQUEST_URI"},
		// As over HTTP: where a fragment ends the authority is where URL
		// parsers disagree (evil.test or, as userinfo, good.test).
		{"fragment hiding the authority", set(base, "REQUEST_URI", "http://evil.test#@good.test/"), 400, "REQUEST_URI"},
		{"fragment", set(base, "REQUEST_URI", "/p?q#frag"), 400, "REQUEST_URI"},
		{"bad host", set(base, "HTTP_HOST", "a b"), 400, "HTTP_HOST"},
		{"bad length", set(base, "CONTENT_LENGTH", "-1"), 400, "CONTENT_LENGTH"},
		{"length over the limit", set(base, "CONTENT_LENGTH", "101"), 413, "body limit"},
		{"two lengths", append(set(base, "CONTENT_LENGTH", "1"), "CONTENT_LENGTH", "2"), 400, "duplicate request variable CONTENT_LENGTH"},
		{"two targets", append(base, "REQUEST_URI", "/admin"), 400, "duplicate request variable REQUEST_URI"},
		{"two methods", append(base, "REQUEST_METHOD", "DELETE"), 400, "duplicate request variable REQUEST_METHOD"},
		{"two queries", append(base, "QUERY_STRING", "admin=1"), 400, "duplicate request variable QUERY_STRING"},
		{"field name", append(base, "HTTP_X-Y", "1"), 400, "no field name"},
		{"CR in a field", append(base, "HTTP_X", "a\rb"), 400, "control character"},
		{"NUL in content type", set(base, "CONTENT_TYPE", "a\x00"), 400, "control character"},
		{"vars over the limit", append(base, "HTTP_X", strings.Repeat("v", 1000)), 431, "block size"},
		{"too many vars", many, 431, "too many variables"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran = false
			r, _ := do(t, addr, c.vars, "")
			if r.StatusCode != c.status || ran {
				t.Fatalf("%d (handler ran: %v), want %d", r.StatusCode, ran, c.status)
			}
			logs.WaitFor(t, c.reason)
		})
	}
	t.Run("vars at the limit", func(t *testing.T) {
		vars := append([]string(nil), base...)
		size := len(packet(t, 0, vars)) - 4
		vars = append(vars, "HTTP_X", strings.Repeat("v", 1000-size-4-6))
		if n := len(packet(t, 0, vars)) - 4; n != 1000 {
			t.Fatalf("fixture: %d", n)
		}
		if r, _ := do(t, addr, vars, ""); r.StatusCode != 200 || !ran {
			t.Fatalf("%d", r.StatusCode)
		}
	})
	t.Run("body at the limit", func(t *testing.T) {
		if r, _ := do(t, addr, set(base, "CONTENT_LENGTH", "100"), strings.Repeat("b", 100)); r.StatusCode != 200 {
			t.Fatalf("%d", r.StatusCode)
		}
	})
}

func TestModifierRefused(t *testing.T) {
	addr, logs := start(t, "tcp", recorder(new(seen)), uwsgi.Config{})
	c := dial(t, addr)
	c.Write(packet(t, 5, nginxVars("GET", "/")))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("%q %v", b, err)
	}
	logs.WaitFor(t, "unsupported packet type")
}

func TestPeerAllowList(t *testing.T) {
	cfg := uwsgi.Config{Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	addr, logs := start(t, "tcp", recorder(new(seen)), cfg)
	c := dial(t, addr)
	c.Write(packet(t, 0, nginxVars("GET", "/")))
	if b, _ := io.ReadAll(c); len(b) != 0 {
		t.Fatalf("refused peer got %q", b)
	}
	logs.WaitFor(t, "not in the allow-list")

	// Unix-socket peers are served whatever the list.
	uaddr, _ := start(t, "unix", recorder(new(seen)), cfg)
	if r, _ := do(t, uaddr, nginxVars("GET", "/"), ""); r.StatusCode != 200 {
		t.Fatal(r.Status)
	}
}

func TestResponseFraming(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB: over the write buffer
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		switch r.Path() {
		case "/small":
			w.Header().Set("X-A", "1")
			w.WriteString("small")
		case "/big":
			w.WriteString(big)
		case "/declared":
			w.Header().Set("Content-Length", "3")
			w.Flush()
			w.WriteString("abc")
		case "/stream":
			for i := range 3 {
				fmt.Fprintf(w, "part %d\n", i)
				if err := w.Flush(); err != nil {
					return err
				}
			}
		case "/nocontent":
			w.WriteHeader(204)
		case "/error":
			return web.ErrForbidden
		case "/late-error":
			w.Header().Set("Content-Length", "10")
			w.WriteString("abc")
			w.Flush()
			return fmt.Errorf("broken after writing")
		case "/split":
			w.Header().Set("X-Bad", "a\r\nInjected: yes")
			w.Header().Set("Transfer-Encoding", "chunked")
		case "/file":
			f, err := os.Open("server_test.go")
			if err != nil {
				return err
			}
			defer f.Close()
			w.Header().Set("Content-Length", "100")
			return w.SendFile(f, 10, 100)
		}
		return nil
	})
	addr, logs := start(t, "tcp", h, uwsgi.Config{})
	src, _ := os.ReadFile("server_test.go")
	cases := []struct {
		path, method string
		status       int
		length       int64
		body         string
	}{
		{"/small", "GET", 200, 5, "small"},
		{"/small", "HEAD", 200, 5, ""},
		{"/big", "GET", 200, -1, big},
		{"/declared", "GET", 200, 3, "abc"},
		{"/stream", "GET", 200, -1, "part 0\npart 1\npart 2\n"},
		{"/nocontent", "GET", 204, 0, ""},
		{"/error", "GET", 403, 14, "403 Forbidden\n"},
		{"/split", "GET", 200, 0, ""},
		{"/file", "GET", 200, 100, string(src[10:110])},
	}
	for _, c := range cases {
		t.Run(c.method+c.path, func(t *testing.T) {
			r, body := do(t, addr, nginxVars(c.method, c.path), "")
			if r.StatusCode != c.status || r.ContentLength != c.length || body != c.body {
				t.Fatalf("%d %d %d bytes", r.StatusCode, r.ContentLength, len(body))
			}
			if r.Header.Get("Injected") != "" || len(r.TransferEncoding) > 0 {
				t.Fatalf("handler's fields leaked into the framing: %v", r.Header)
			}
		})
	}
	t.Run("late error cuts the body", func(t *testing.T) {
		_, _, err := exchange(t, addr, packet(t, 0, nginxVars("GET", "/late-error")), "GET")
		if err == nil {
			t.Fatal("a response cut short read as complete")
		}
		logs.WaitFor(t, "handler failed after responding")
	})
}

// TestBody: a body larger than the buffers streams through; one left unread
// does not cost the response (the server lingers instead of resetting).
func TestBody(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if r.Path() == "/ignore" {
			w.WriteString("ignored")
			return nil
		}
		n, err := io.Copy(io.Discard, r.Body())
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%d", n)
		return nil
	})
	addr, _ := start(t, "tcp", h, uwsgi.Config{})
	body := strings.Repeat("x", 3<<20)
	r, got := do(t, addr, set(nginxVars("POST", "/"), "CONTENT_LENGTH", fmt.Sprint(len(body))), body)
	if r.StatusCode != 200 || got != fmt.Sprint(len(body)) {
		t.Fatalf("%d %q", r.StatusCode, got)
	}
	body = strings.Repeat("y", 200<<10)
	r, got = do(t, addr, set(nginxVars("POST", "/ignore"), "CONTENT_LENGTH", fmt.Sprint(len(body))), body)
	if r.StatusCode != 200 || got != "ignored" {
		t.Fatalf("%d %q", r.StatusCode, got)
	}
}

func TestTimeouts(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		_, err := io.ReadAll(r.Body())
		return err
	})
	addr, logs := start(t, "tcp", h, uwsgi.Config{ReadHeaderTimeout: 200 * time.Millisecond, BodyReadTimeout: 200 * time.Millisecond})
	t.Run("packet", func(t *testing.T) {
		pkt := packet(t, 0, nginxVars("GET", "/"))
		r, _, err := exchange(t, addr, pkt[:len(pkt)-3], "GET")
		if err != nil || r.StatusCode != 408 {
			t.Fatalf("%v %v", r, err)
		}
		logs.WaitFor(t, "not received in time")
	})
	t.Run("silent connection", func(t *testing.T) {
		c := dial(t, addr)
		if b, _ := io.ReadAll(c); len(b) != 0 {
			t.Fatalf("%q", b)
		}
	})
	t.Run("body", func(t *testing.T) {
		r, _, err := exchange(t, addr, append(packet(t, 0, set(nginxVars("POST", "/"), "CONTENT_LENGTH", "10")), "abc"...), "POST")
		if err != nil || r.StatusCode != 408 {
			t.Fatalf("%v %v", r, err)
		}
	})
}

func TestPanic(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error { panic("boom") })
	addr, logs := start(t, "tcp", h, uwsgi.Config{})
	if r, _ := do(t, addr, nginxVars("GET", "/"), ""); r.StatusCode != 500 {
		t.Fatal(r.Status)
	}
	logs.WaitFor(t, "handler panicked")
}

type accessLog struct {
	mu      sync.Mutex
	entries []string
}

func (a *accessLog) LogAccess(e *web.AccessEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	target := "-"
	if e.Request != nil {
		target = string(e.Request.Target())
	}
	a.entries = append(a.entries, fmt.Sprintf("%d %s %s %d", e.Status, target, e.Remote, e.BodyBytes))
}

func TestAccessLog(t *testing.T) {
	al := &accessLog{}
	addr, _ := start(t, "tcp", recorder(new(seen)), uwsgi.Config{AccessLog: al, Limits: puwsgi.Limits{MaxVarsSize: 600}})
	do(t, addr, nginxVars("GET", "/x"), "")
	do(t, addr, append(nginxVars("GET", "/y"), "HTTP_X", strings.Repeat("v", 600)), "")
	// An entry is written once its response is out: the client can read the
	// response first.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		al.mu.Lock()
		n := len(al.entries)
		al.mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	if len(al.entries) != 2 || al.entries[0] != "200 /x 192.0.2.7:40000 2" || !strings.HasPrefix(al.entries[1], "431 - 127.0.0.1:") {
		t.Fatalf("%q", al.entries)
	}
}

// FuzzServeConn sends arbitrary bytes as a uwsgi connection: the server never
// panics, and whatever it answers is one well-formed HTTP response.
func FuzzServeConn(f *testing.F) {
	f.Add(packet(f, 0, nginxVars("GET", "/a?b")))
	f.Add(append(packet(f, 0, set(nginxVars("POST", "/"), "CONTENT_LENGTH", "4")), "body"...))
	f.Add(packet(f, 0, append(nginxVars("GET", "http://h.test/x"), "HTTP_X_A", "1", "UWSGI_FILE", "/x")))
	f.Add(packet(f, 0, []string{"REQUEST_METHOD", "GET", "PATH_INFO", "/x y"}))
	f.Add([]byte("\x00\x05\x00\x00\x01\x00A\x09\x00"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	// A Unix socket: a TCP run would exhaust the ephemeral ports.
	addr, _ := start(f, "unix", recorder(new(seen)), uwsgi.Config{Logger: slog.New(slog.DiscardHandler),
		ReadHeaderTimeout: time.Second, BodyReadTimeout: time.Second})
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := net.Dial("unix", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(raw)
		c.(*net.UnixConn).CloseWrite()
		out, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if len(out) == 0 {
			return
		}
		r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("unreadable answer %q: %v", out, err)
		}
		if _, err := io.ReadAll(r.Body); err != nil && !bytes.Contains(raw, []byte("HEAD")) {
			t.Fatalf("answer body: %v", err) // a HEAD answer has a length and no body
		}
	})
}

// A peer (nginx) that closes the connection while the handler waits cancels
// the request: the handler asked for the watch with w.WatchClient. The log
// records an abandoned request (499); a peer that waits gets its answer.
func TestWatchPeerGone(t *testing.T) {
	ended := make(chan string, 2)
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		io.Copy(io.Discard, r.Body())
		w.WatchClient()
		select {
		case <-r.Context().Done():
			ended <- "canceled"
			return r.Context().Err()
		case <-time.After(200 * time.Millisecond):
			ended <- "answered"
			_, err := w.WriteString("late")
			return err
		}
	})
	al := &accessLog{}
	addr, logs := start(t, "unix", h, uwsgi.Config{AccessLog: al})

	// A peer that waits: the watch is ended, the answer arrives whole.
	r, body := do(t, addr, set(nginxVars("POST", "/wait"), "CONTENT_LENGTH", "3"), "abc")
	if r.StatusCode != 200 || body != "late" || <-ended != "answered" {
		t.Fatalf("waiting peer: %d %q", r.StatusCode, body)
	}

	// A peer that leaves.
	c := dial(t, addr)
	c.Write(packet(t, 0, nginxVars("GET", "/wait")))
	time.Sleep(50 * time.Millisecond)
	c.Close()
	select {
	case got := <-ended:
		if got != "canceled" {
			t.Fatalf("handler %s; want it canceled when the peer left", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler not ended")
	}
	logs.WaitFor(t, "request abandoned")
	if l := logs.String(); !strings.Contains(l, "status=499") || strings.Contains(l, "level=ERROR") {
		t.Fatalf("log:\n%s", l)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		al.mu.Lock()
		n := len(al.entries)
		last := ""
		if n > 0 {
			last = al.entries[n-1]
		}
		al.mu.Unlock()
		if n == 2 {
			if !strings.HasPrefix(last, "499 /wait") {
				t.Fatalf("access log entry %q, want 499", last)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log has %d entries, want 2", n)
		}
	}
}

// TestDuplicateVariables: uWSGI takes the last of a variable sent twice,
// which nginx does whenever a uwsgi_param names one uwsgi_params (or the
// request's own fields) already sent, as the common
// "uwsgi_param HTTP_HOST $http_host;" after "include uwsgi_params;" does.
// Those whose value only describes the request are resolved the same way;
// the ones that decide which request it is (method, target, query, body
// length) are refused (see TestRefused).
func TestDuplicateVariables(t *testing.T) {
	var got seen
	addr, _ := start(t, "tcp", recorder(&got), uwsgi.Config{})
	base := nginxVars("GET", "/", "HTTP_USER_AGENT", "ua")
	base = base[:len(base):len(base)] // each case's append copies
	cases := []struct {
		name   string
		vars   []string
		host   string
		local  string
		fields string
	}{
		{"HTTP_HOST again, as uwsgi_param HTTP_HOST $http_host", append(base, "HTTP_HOST", "example.test"),
			"example.test", "0.0.0.0:8080", "User-Agent: ua|Host: example.test"},
		{"HTTP_HOST again, another value: the last", append(base, "HTTP_HOST", "other.test"),
			"other.test", "0.0.0.0:8080", "User-Agent: ua|Host: other.test"},
		{"SERVER_PORT again", append(base, "SERVER_PORT", "8443"),
			"example.test", "0.0.0.0:8443", "Host: example.test|User-Agent: ua"},
		{"SERVER_NAME and CONTENT_TYPE again", append(base, "SERVER_NAME", "b.test", "CONTENT_TYPE", "text/plain"),
			"example.test", "0.0.0.0:8080", "Host: example.test|User-Agent: ua|Content-Type: text/plain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, _ := do(t, addr, c.vars, "")
			if r.StatusCode != 200 || got.Host != c.host || got.Local.String() != c.local ||
				strings.Join(got.Fields, "|") != c.fields {
				t.Fatalf("%d %+v", r.StatusCode, got)
			}
		})
	}
}

// TestServerPortWithoutAddr: nginx's stock uwsgi_params send SERVER_PORT
// and no SERVER_ADDR; the port nginx took the request on is still the
// request's (SERVER_PORT for the application), not 80.
func TestServerPortWithoutAddr(t *testing.T) {
	var got seen
	addr, _ := start(t, "tcp", recorder(&got), uwsgi.Config{})
	if r, _ := do(t, addr, nginxVars("GET", "/"), ""); r.StatusCode != 200 || got.Local.Port() != 8080 ||
		!got.Local.Addr().IsUnspecified() {
		t.Fatalf("%d %v", r.StatusCode, got.Local)
	}
}
