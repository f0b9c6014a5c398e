package uwsgi

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	puwsgi "gatehouse/proto/uwsgi"
	"gatehouse/upstream"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

// received is what the fake uWSGI read: the packet's variables and the body.
type received struct {
	mod1, mod2 uint8
	vars       map[string]string
	order      []string
	body       string
}

// fake is a uwsgi server written against proto/uwsgi: it reads one packet and
// its body per connection, answers with respond's bytes, and closes.
type fake struct {
	addr string
	mu   sync.Mutex
	got  []received
}

func startFake(t *testing.T, respond func(rc received) string) *fake {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				rc, err := readRequest(c)
				if err != nil {
					return
				}
				f.mu.Lock()
				f.got = append(f.got, rc)
				f.mu.Unlock()
				io.WriteString(c, respond(rc))
			}()
		}
	}()
	return f
}

func (f *fake) last(t *testing.T) received {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		t.Fatal("the fake received nothing")
	}
	return f.got[len(f.got)-1]
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

func readRequest(c net.Conn) (received, error) {
	buf := make([]byte, 0, 1<<16)
	var p puwsgi.Parser
	var pkt puwsgi.Packet
	for {
		n, err := p.Parse(buf, &pkt)
		if err == nil {
			rc := received{mod1: pkt.Modifier1, mod2: pkt.Modifier2, vars: map[string]string{}}
			for _, v := range pkt.Vars {
				rc.vars[string(v.Key)] = string(v.Value)
				rc.order = append(rc.order, string(v.Key))
			}
			length, _ := strconv.Atoi(rc.vars["CONTENT_LENGTH"])
			body := append([]byte(nil), buf[n:]...)
			for len(body) < length {
				chunk := make([]byte, length-len(body))
				k, err := c.Read(chunk)
				body = append(body, chunk[:k]...)
				if err != nil {
					return rc, err
				}
			}
			rc.body = string(body)
			return rc, nil
		}
		if err != puwsgi.ErrNeedMore {
			return received{}, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		k, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if err != nil {
			return received{}, err
		}
	}
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

func TestPacketSent(t *testing.T) {
	f := startFake(t, func(received) string { return okResponse })
	h, _ := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{f.addr}}, Mount: "/app",
		Modifier1: 5, Modifier2: 1, Params: [][2]string{{"APP_ENV", "test"}}})
	addr := serve(t, h)
	r, body, err := do(t, addr, request("POST", "/app/x/y?q=1", "hello", "X-Custom: yes", "Proxy: http://evil.test:3128",
		"Content-Type: text/plain"))
	if err != nil || r.StatusCode != 200 || body != "ok" {
		t.Fatalf("%v %v %q", err, r.Status, body)
	}
	rc := f.last(t)
	want := map[string]string{
		"REQUEST_METHOD": "POST", "REQUEST_URI": "/app/x/y?q=1", "SCRIPT_NAME": "/app", "PATH_INFO": "/x/y",
		"QUERY_STRING": "q=1", "CONTENT_LENGTH": "5", "CONTENT_TYPE": "text/plain", "HTTP_X_CUSTOM": "yes",
		"HTTP_HOST": "example.test", "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "gatehouse",
		"REMOTE_ADDR": "127.0.0.1", "APP_ENV": "test", "GATEWAY_INTERFACE": "CGI/1.1",
	}
	for k, v := range want {
		if rc.vars[k] != v {
			t.Errorf("%s=%q, want %q", k, rc.vars[k], v)
		}
	}
	if _, ok := rc.vars["HTTP_PROXY"]; ok {
		t.Error("HTTP_PROXY sent (httpoxy)")
	}
	if rc.mod1 != 5 || rc.mod2 != 1 || rc.body != "hello" {
		t.Fatalf("modifiers %d %d, body %q", rc.mod1, rc.mod2, rc.body)
	}
}

// TestVarsTooLarge: a request whose variables do not fit is answered 431 and
// never reaches uWSGI; at the limit it does.
func TestVarsTooLarge(t *testing.T) {
	f := startFake(t, func(received) string { return okResponse })
	for _, c := range []struct {
		name  string
		limit int
		value int // size of an X-Big field
		want  int
	}{
		{"protocol limit", 0, 65535, 431},
		{"configured limit", 4096, 4096, 431},
		{"under the configured limit", 4096, 3000, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, _ := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{f.addr}}, MaxVarsBytes: c.limit})
			before := f.count()
			w := webtest.NewRecorder()
			webtest.Serve(h, w, webtest.NewRequest("GET", "/", nil, "X-Big: "+strings.Repeat("b", c.value)))
			if w.Code != c.want {
				t.Fatalf("%d, want %d", w.Code, c.want)
			}
			if sent := f.count() - before; c.want == 431 && sent != 0 {
				t.Fatal("a refused request reached uWSGI")
			}
		})
	}
	// Exactly at the limit, then one byte past it.
	h, _ := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{f.addr}}, MaxVarsBytes: 2000})
	req := func(n int) *web.Request { return webtest.NewRequest("GET", "/", nil, "X-Big: "+strings.Repeat("b", n)) }
	base, err := h.packet(nil, req(0), 0)
	if err != nil {
		t.Fatal(err)
	}
	room := 2000 - (len(base) - puwsgi.HeaderSize) // the X-Big value "" already counts its name
	if _, err := h.packet(nil, req(room), 0); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := h.packet(nil, req(room+1), 0); !errors.Is(err, puwsgi.ErrVarsTooLarge) {
		t.Fatalf("one past: %v", err)
	}
}

// TestResponses covers the response reader against canned answers.
func TestResponses(t *testing.T) {
	cases := []struct {
		name     string
		method   string
		response string
		status   int
		body     string // "*": any
		complete bool   // the client reads a complete body
		check    func(t *testing.T, hdr map[string][]string)
	}{
		{"content-length", "GET", okResponse, 200, "ok", true, nil},
		{"until close", "GET", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", 200, "all of it", true, nil},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 200, "hello world", true, nil},
		{"interim responses skipped", "GET", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + okResponse, 200, "ok", true, nil},
		{"HTTP/1.0 status line", "GET", "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope", 404, "nope", true, nil},
		{"HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 200, "", true, func(t *testing.T, hdr map[string][]string) {
			if hdr["Content-Length"][0] != "1000" {
				t.Errorf("Content-Length %v", hdr["Content-Length"])
			}
		}},
		{"hop-by-hop fields dropped", "GET", "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Kept: 1\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok", 200, "ok", true,
			func(t *testing.T, hdr map[string][]string) {
				if _, ok := hdr["X-Hop"]; ok || hdr["X-Kept"] == nil || len(hdr["Set-Cookie"]) != 2 || hdr["Keep-Alive"] != nil {
					t.Errorf("%v", hdr)
				}
			}},
		{"bytes past the length dropped", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 200, "ok", true, nil},
		// The body falls short: 502 when the close came with the bytes, a
		// cut 200 when the head went out before it (see the loop below).
		{"short body", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 502, "*", true, nil},
		// Past the server's buffer the head is out: the client sees the cut.
		{"long body cut", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("x", 50000), 200, strings.Repeat("x", 50000), false, nil},
		{"bad head", "GET", "HTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n", 502, "502 Bad Gateway\n", true, nil},
		{"both framings", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 502, "502 Bad Gateway\n", true, nil},
		{"switching protocols", "GET", "HTTP/1.1 101 Switching Protocols\r\n\r\n", 502, "502 Bad Gateway\n", true, nil},
		{"no response", "GET", "", 502, "502 Bad Gateway\n", true, nil},
		{"half a head", "GET", "HTTP/1.1 200 OK\r\nX: ", 502, "502 Bad Gateway\n", true, nil},
		{"bad chunk", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 502, "*", true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := startFake(t, func(received) string { return c.response })
			h, _ := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{f.addr}}})
			addr := serve(t, h)
			r, body, err := do(t, addr, request(c.method, "/", ""))
			if c.name == "short body" && r.StatusCode == 200 {
				// The bytes came before the close: they were flushed while the
				// rest was awaited, so the client must see the body cut.
				if body != "short" || err == nil {
					t.Fatalf("cut 200: body %q, err %v; want \"short\" and an incomplete body", body, err)
				}
				return
			}
			if r.StatusCode != c.status || body != c.body && c.body != "*" || (err == nil) != c.complete {
				t.Fatalf("%d %q %v", r.StatusCode, body, err)
			}
			if c.check != nil {
				c.check(t, r.Header)
			}
		})
	}
}

func TestUpstreamDown(t *testing.T) {
	h, logs := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{"127.0.0.1:1"}}})
	w := webtest.NewRecorder()
	webtest.Serve(h, w, webtest.NewRequest("GET", "/", nil))
	if w.Code != 502 {
		t.Fatalf("%d %s", w.Code, logs)
	}
}

func TestReadTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() { // accepts and never answers
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	h, logs := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{l.Addr().String()}}, ReadTimeout: 200 * time.Millisecond})
	w := webtest.NewRecorder()
	start := time.Now()
	webtest.Serve(h, w, webtest.NewRequest("GET", "/", nil))
	if w.Code != 504 || time.Since(start) > 3*time.Second {
		t.Fatalf("%d after %v", w.Code, time.Since(start))
	}
	if !strings.Contains(logs.String(), "timed out") {
		t.Fatalf("log: %s", logs)
	}
}

func TestNewRefusesBadMount(t *testing.T) {
	for _, m := range []string{"app", "/app/"} {
		if _, err := New(Config{Upstream: upstream.Config{Addrs: []string{"127.0.0.1:1"}}, Mount: m}); err == nil {
			t.Errorf("mount %q accepted", m)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("no address accepted")
	}
}

// An [[upstream]] balanced by ip_hash keeps a client on one uWSGI server:
// the handler gives the pool the client's address as the key.
func TestIPHash(t *testing.T) {
	a := startFake(t, func(received) string { return okResponse })
	b := startFake(t, func(received) string { return okResponse })
	for _, c := range []struct {
		balance string
		spread  bool
	}{{"ip_hash", false}, {"round_robin", true}} {
		h, _ := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{a.addr, b.addr}, Balance: c.balance}})
		addr := serve(t, h)
		na, nb := a.count(), b.count()
		for range 6 {
			if r, body, err := do(t, addr, request("GET", "/", "")); err != nil || r.StatusCode != 200 || body != "ok" {
				t.Fatalf("%v %v %q", err, r.Status, body)
			}
		}
		gotA, gotB := a.count()-na, b.count()-nb
		if gotA+gotB != 6 || (gotA != 0 && gotB != 0) != c.spread {
			t.Errorf("%s: %d and %d of 6 requests", c.balance, gotA, gotB)
		}
	}
}
