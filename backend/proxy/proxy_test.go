package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	"gatehouse/middleware/realip"
	shttp "gatehouse/serve/http1"
	"gatehouse/upstream"
	"gatehouse/web"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// goUpstream starts a net/http server on 127.0.0.1 and returns its address.
func goUpstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// newProxy builds a handler for cfg with addrs and closes it with the test.
func newProxy(t testing.TB, cfg Config, addrs ...string) (*Handler, *testutil.LogBuffer) {
	t.Helper()
	logs := &testutil.LogBuffer{}
	cfg.Logger = logs.Logger()
	cfg.Upstream.Addrs = addrs
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, logs
}

// front runs h, behind the realip layer with trust, on the real HTTP server.
func front(t *testing.T, engine string, h web.Handler, trust realip.Trust) string {
	t.Helper()
	return testserve.HTTPOn(t, engine, trust.Middleware()(h), shttp.Config{})
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// roundTrip sends raw on c and reads one response with net/http's parser.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, raw string) (*http.Response, string, error) {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadResponse(br, &http.Request{Method: strings.Fields(raw)[0]})
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(r.Body)
	return r, string(b), err
}

func do(t *testing.T, addr, raw string) (*http.Response, string, error) {
	t.Helper()
	c := dial(t, addr)
	return roundTrip(t, c, bufio.NewReader(c), raw)
}

func TestPassesRequestAndResponse(t *testing.T) {
	var seen atomic.Pointer[http.Request]
	var body atomic.Value
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body.Store(string(b))
		seen.Store(r)
		w.Header().Set("X-App", "yes")
		w.Header().Set("Alt-Svc", `h3=":443"`)
		w.Header().Set("Server", "upstream/1.0")
		w.Header().Set("Keep-Alive", "timeout=5")
		fmt.Fprintf(w, "hello %s %s", r.Method, r.URL.RequestURI())
	})
	for _, engine := range testserve.Engines() {
		t.Run(engine, func(t *testing.T) {
			h, _ := newProxy(t, Config{}, up)
			addr := front(t, engine, h, realip.Trust{})
			resp, got, err := do(t, addr, "POST /a/b?x=1&y=%20 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n"+
				"X-Custom: 1\r\nConnection: close, X-Drop-Me\r\nX-Drop-Me: secret\r\nTE: trailers\r\n"+
				"Keep-Alive: 300\r\nProxy-Authorization: Basic eA==\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Proto: https\r\n"+
				"X-Forwarded-Host: evil.test\r\nForwarded: for=6.6.6.6\r\n\r\nhello")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || got != "hello POST /a/b?x=1&y=%20" {
				t.Fatalf("got %d %q", resp.StatusCode, got)
			}
			if resp.Header.Get("X-App") != "yes" || resp.Header.Get("Alt-Svc") != "" || resp.Header.Get("Keep-Alive") != "" {
				t.Errorf("response header %v: want X-App, no Alt-Svc, no Keep-Alive", resp.Header)
			}
			if s := resp.Header.Get("Server"); s != "gatehouse" {
				t.Errorf("Server %q: want the server's own", s)
			}
			r := seen.Load()
			if body.Load() != "hello" || r.Host != "app.test" || r.Header.Get("X-Custom") != "1" {
				t.Errorf("upstream saw host %q, body %q, header %v", r.Host, body.Load(), r.Header)
			}
			for _, name := range []string{"X-Drop-Me", "Te", "Keep-Alive", "Proxy-Authorization", "Forwarded", "Connection"} {
				if v, ok := r.Header[name]; ok {
					t.Errorf("upstream got %s: %q", name, v)
				}
			}
			// From an untrusted peer: its forwarding fields replaced.
			if v := r.Header.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
				t.Errorf("X-Forwarded-For %q, want the peer alone", v)
			}
			if v := r.Header.Get("X-Forwarded-Proto"); v != "http" {
				t.Errorf("X-Forwarded-Proto %q, want http", v)
			}
			if v := r.Header.Get("X-Forwarded-Host"); v != "app.test" {
				t.Errorf("X-Forwarded-Host %q, want app.test", v)
			}
		})
	}
}

// From a trusted proxy, X-Forwarded-For is appended to and -Proto/-Host
// kept; Forwarded and Via are added when asked.
func TestTrustedPeerForwarding(t *testing.T) {
	var seen atomic.Pointer[http.Request]
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) { seen.Store(r) })
	trust := realip.Trust{Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	h, _ := newProxy(t, Config{Trust: trust, Forwarded: true, Via: true, Host: "internal.test"}, up)
	addr := front(t, "goroutine", h, trust)
	resp, _, err := do(t, addr, "GET / HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 203.0.113.7, 198.51.100.2\r\n"+
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: www.example\r\nVia: 1.1 lb\r\nForwarded: for=198.51.100.2\r\n"+
		"Connection: X-Forwarded-For, Via, close\r\n\r\n")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	r := seen.Load()
	want := map[string]string{
		"X-Forwarded-For":   "203.0.113.7, 198.51.100.2, 127.0.0.1",
		"X-Forwarded-Proto": "https",
		"X-Forwarded-Host":  "www.example",
		"Via":               "1.1 lb, 1.1 gatehouse",
		"Forwarded":         `for=198.51.100.2, for=127.0.0.1;host="app.test";proto=https`,
	}
	for name, v := range want {
		if got := strings.Join(r.Header.Values(name), "|"); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	if r.Host != "internal.test" {
		t.Errorf("Host %q, want the configured one", r.Host)
	}
	if resp.Header.Get("Via") != "1.1 gatehouse" {
		t.Errorf("response Via %q", resp.Header.Get("Via"))
	}
}

// Kept connections: many requests, one upstream connection, bodies of every
// framing.
func TestKeepsConnections(t *testing.T) {
	var conns atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte("part1 "))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
		case "/big":
			w.Write([]byte(strings.Repeat("x", 1<<20)))
		case "/echo":
			b, _ := io.ReadAll(r.Body) // net/http reads no body once the response began
			w.Write(b)
		default:
			w.Write([]byte("ok"))
		}
	}), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}}
	go srv.Serve(ln)
	defer srv.Close()
	h, _ := newProxy(t, Config{}, ln.Addr().String())
	for _, engine := range testserve.Engines() {
		addr := front(t, engine, h, realip.Trust{})
		c := dial(t, addr)
		br := bufio.NewReader(c)
		for i := 0; i < 5; i++ {
			for _, tc := range []struct{ raw, want string }{
				{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "ok"},
				{"GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n", "part1 part2"},
				{"GET /big HTTP/1.1\r\nHost: a\r\n\r\n", strings.Repeat("x", 1<<20)},
				{"HEAD /big HTTP/1.1\r\nHost: a\r\n\r\n", ""},
				{"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "hello"},
				{"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n" + strings.Repeat("y", 200000), strings.Repeat("y", 200000)},
			} {
				resp, got, err := roundTrip(t, c, br, tc.raw)
				if err != nil || resp.StatusCode != 200 || got != tc.want {
					t.Fatalf("%s %.30q: %v %d %d bytes", engine, tc.raw, err, resp.StatusCode, len(got))
				}
			}
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d upstream connections for sequential requests, want 1", n)
	}
	if st := h.Pool().Stats(); st[0].Idle != 1 {
		t.Errorf("pool %+v, want the connection idle", st)
	}
}

func upstreamCfg(addrs ...string) upstream.Config { return upstream.Config{Addrs: addrs} }
