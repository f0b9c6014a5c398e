package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	"gatehouse/middleware/realip"
)

// fake is an upstream that runs serve on each connection it accepts and
// records the requests' raw bytes.
type fake struct {
	ln    net.Listener
	conns atomic.Int32
	mu    sync.Mutex
	got   []string // each connection's bytes, as read by readRequest
	wg    sync.WaitGroup
}

func newFake(t *testing.T, serve func(f *fake, c net.Conn, br *bufio.Reader)) *fake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				serve(f, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

func (f *fake) addr() string { return f.ln.Addr().String() }

// readRequest reads one request head and its Content-Length body, and
// records them.
func (f *fake) readRequest(br *bufio.Reader) (*http.Request, error) {
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, r.Method+" "+r.RequestURI+" "+string(b))
	f.mu.Unlock()
	return r, nil
}

func (f *fake) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

// answer returns a fake upstream that answers every request with raw.
func answer(t *testing.T, raw string) *fake {
	return newFake(t, func(f *fake, c net.Conn, br *bufio.Reader) {
		for {
			if _, err := f.readRequest(br); err != nil {
				return
			}
			if _, err := io.WriteString(c, raw); err != nil {
				return
			}
		}
	})
}

// Malformed responses are 502 with nothing of them relayed, and their
// connections are closed, not pooled.
func TestBadResponses(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"two CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
		{"CL junk", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nx"},
		{"TE not chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 0\r\n\r\n"},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"},
		{"status 2 digits", "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n"},
		{"HTTP/01.1", "HTTP/01.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"tab separator", "HTTP/1.1\t200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"NUL in value", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n"},
		{"101 unasked", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
		{"HTTP/2 status", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"head over 64 KiB", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 70<<10) + "\r\nContent-Length: 0\r\n\r\n"},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := answer(t, tc.raw)
			h, logs := newProxy(t, Config{Retries: -1}, f.addr())
			addr := front(t, "goroutine", h, realip.Trust{})
			resp, body, _ := do(t, addr, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			if resp == nil || resp.StatusCode != 502 || strings.Contains(body, "hello") {
				t.Fatalf("got %v %q, want 502", resp, body)
			}
			if st := h.Pool().Stats(); st[0].Idle != 0 {
				t.Errorf("connection kept after a bad response: %+v", st)
			}
			logs.WaitFor(t, "proxy upstream")
		})
	}
}

// A body cut short by the upstream (chunked without its last chunk, or
// short of its Content-Length) is never relayed as a complete response:
// once part of it went out, the client's response is cut; when the cut
// comes before anything went out, the answer is 502.
func TestTruncatedBody(t *testing.T) {
	for _, tc := range []struct{ name, raw string }{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nonly this\r\n"},
	} {
		for _, pause := range []time.Duration{0, 100 * time.Millisecond} {
			t.Run(fmt.Sprintf("%s pause %v", tc.name, pause), func(t *testing.T) {
				f := newFake(t, func(f *fake, c net.Conn, br *bufio.Reader) {
					f.readRequest(br)
					io.WriteString(c, tc.raw)
					time.Sleep(pause)
				})
				h, _ := newProxy(t, Config{}, f.addr())
				for _, engine := range testserve.Engines() {
					addr := front(t, engine, h, realip.Trust{})
					resp, body, err := do(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
					switch {
					case resp == nil:
						t.Fatalf("%s: no response", engine)
					case resp.StatusCode == 502 && pause == 0:
					case resp.StatusCode == 200 && err != nil && strings.HasPrefix("only this", body):
					default:
						t.Fatalf("%s: %d %q %v: want the response cut (or 502 before anything went out)", engine, resp.StatusCode, body, err)
					}
					if pause > 0 && resp.StatusCode != 200 {
						t.Fatalf("%s: %d, want the head relayed while the upstream paused", engine, resp.StatusCode)
					}
				}
			})
		}
	}
}

// A response past its length, or bytes after a complete one, make the
// connection unusable: it is never pooled, so they never reach the next
// client (response queue poisoning).
func TestNoPoisoning(t *testing.T) {
	f := answer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON")
	h, _ := newProxy(t, Config{}, f.addr())
	addr := front(t, "goroutine", h, realip.Trust{})
	for i := 0; i < 3; i++ {
		resp, body, err := do(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if err != nil || resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %v %v %q", i, err, resp, body)
		}
	}
	if n := f.conns.Load(); n != 3 {
		t.Errorf("%d upstream connections for 3 requests, want 3: a connection with bytes past its response was kept", n)
	}
}

// "Connection: close" from the upstream closes its connection; an HTTP/1.0
// response without keep-alive too.
func TestUpstreamClose(t *testing.T) {
	for _, raw := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
		"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\n\r\nok", // until the connection's end
	} {
		f := newFake(t, func(f *fake, c net.Conn, br *bufio.Reader) {
			f.readRequest(br)
			io.WriteString(c, raw)
		})
		h, _ := newProxy(t, Config{}, f.addr())
		addr := front(t, "goroutine", h, realip.Trust{})
		for i := 0; i < 2; i++ {
			resp, body, err := do(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			if err != nil || resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("%q: %v %v %q", raw, err, resp, body)
			}
		}
		if n := f.conns.Load(); n != 2 {
			t.Errorf("%q: %d connections, want 2", raw, n)
		}
	}
}

// Interim responses are skipped; 100 Continue from the upstream never
// reaches the client as a final answer.
func TestInterimSkipped(t *testing.T) {
	f := answer(t, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	h, _ := newProxy(t, Config{}, f.addr())
	addr := front(t, "goroutine", h, realip.Trust{})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	resp, body, err := roundTrip(t, c, br, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhi")
	if err == nil && resp.StatusCode == 100 { // the server's own, as the handler read the body
		resp, err = http.ReadResponse(br, nil)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
	}
	if err != nil || resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("%v %v %q", err, resp, body)
	}
	if got := f.requests(); len(got) != 1 || got[0] != "POST / hi" {
		t.Errorf("upstream got %q", got)
	}
}

// Request smuggling from the client side: framings the server refuses never
// reach the upstream, and one request never becomes two.
func TestSmugglingAttempts(t *testing.T) {
	f := answer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	h, _ := newProxy(t, Config{}, f.addr())
	addr := front(t, "goroutine", h, realip.Trust{})
	for _, raw := range []string{
		// CL.TE
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		// TE.CL
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n",
		// obfuscated TE
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		c := dial(t, addr)
		io.WriteString(c, raw)
		all, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(all), "HTTP/1.1 400 ") && !strings.HasPrefix(string(all), "HTTP/1.1 501 ") {
			t.Errorf("%.60q answered %.40q, want 400 or 501", raw, all)
		}
	}
	for _, r := range f.requests() {
		if strings.Contains(r, "smuggled") || strings.Contains(r, "SMUGGLED") {
			t.Errorf("upstream got %q", r)
		}
	}
	if got := f.requests(); len(got) != 0 {
		t.Errorf("upstream got %q, want nothing", got)
	}
}

// A killed upstream (refused connections) is passed over; the request
// goes to the one alive. A black-holed one (accepts, never answers) times
// out as 504, and an idempotent request then goes to the other.
func TestDeadAndBlackHoled(t *testing.T) {
	good := answer(t, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood")
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	hole := newFake(t, func(f *fake, c net.Conn, br *bufio.Reader) { io.Copy(io.Discard, br) })

	t.Run("killed", func(t *testing.T) {
		h, _ := newProxy(t, Config{}, deadAddr, good.addr())
		addr := front(t, "goroutine", h, realip.Trust{})
		for i := 0; i < 4; i++ {
			resp, body, err := do(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
			if err != nil || resp.StatusCode != 200 || body != "good" {
				t.Fatalf("request %d: %v %v %q", i, err, resp, body)
			}
		}
		if st := h.Pool().Stats(); !st[0].Down {
			t.Errorf("killed upstream not down: %+v", st)
		}
	})
	t.Run("black hole, GET retried", func(t *testing.T) {
		h, _ := newProxy(t, Config{ReadTimeout: 300 * time.Millisecond}, hole.addr(), good.addr())
		addr := front(t, "goroutine", h, realip.Trust{})
		start := time.Now()
		resp, body, err := do(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if err != nil || resp.StatusCode != 200 || body != "good" {
			t.Fatalf("%v %v %q", err, resp, body)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("black hole, POST not retried", func(t *testing.T) {
		h, logs := newProxy(t, Config{ReadTimeout: 300 * time.Millisecond}, hole.addr())
		addr := front(t, "goroutine", h, realip.Trust{})
		resp, _, _ := do(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
		if resp == nil || resp.StatusCode != 504 {
			t.Fatalf("%v, want 504", resp)
		}
		logs.WaitFor(t, "proxy upstream timed out")
	})
	t.Run("black hole, POST with an Idempotency-Key retried", func(t *testing.T) {
		h, _ := newProxy(t, Config{ReadTimeout: 300 * time.Millisecond}, hole.addr(), good.addr())
		addr := front(t, "goroutine", h, realip.Trust{})
		resp, body, err := do(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nIdempotency-Key: 8e03978e\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
		if err != nil || resp.StatusCode != 200 || body != "good" {
			t.Fatalf("%v %v %q", err, resp, body)
		}
	})
	t.Run("black hole, past the retry window", func(t *testing.T) {
		h, _ := newProxy(t, Config{ReadTimeout: 300 * time.Millisecond, RetryWindow: 100 * time.Millisecond}, hole.addr(), good.addr())
		addr := front(t, "goroutine", h, realip.Trust{})
		resp, _, _ := do(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if resp == nil || resp.StatusCode != 504 {
			t.Fatalf("%v, want 504: a retry may start only within retry_window", resp)
		}
	})
	t.Run("nothing alive", func(t *testing.T) {
		h, _ := newProxy(t, Config{}, deadAddr)
		addr := front(t, "goroutine", h, realip.Trust{})
		resp, _, _ := do(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if resp == nil || resp.StatusCode != 502 {
			t.Fatalf("%v, want 502", resp)
		}
	})
}

// A kept connection the upstream closed while it sat idle is retried on a
// new one, POST included when the upstream took nothing of it... and an
// upstream that closes after every response without saying so never costs
// a client a 502.
func TestStaleKeptConnection(t *testing.T) {
	f := newFake(t, func(f *fake, c net.Conn, br *bufio.Reader) {
		if _, err := f.readRequest(br); err != nil {
			return
		}
		// Answers as if it kept the connection, then closes it.
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		time.Sleep(20 * time.Millisecond)
	})
	h, _ := newProxy(t, Config{}, f.addr())
	addr := front(t, "goroutine", h, realip.Trust{})
	for i := 0; i < 6; i++ {
		method := "GET"
		if i%2 == 1 {
			method = "DELETE"
		}
		resp, body, err := do(t, addr, method+" / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if err != nil || resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %v %v %q", i, err, resp, body)
		}
		time.Sleep(50 * time.Millisecond) // the upstream has closed the kept connection by now
	}
}

// A client that goes away ends the exchange: the upstream's connection is
// closed and the handler returns.
func TestClientGoesAway(t *testing.T) {
	closed := make(chan struct{})
	f := newFake(t, func(f *fake, c net.Conn, br *bufio.Reader) {
		f.readRequest(br)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
		_, err := br.ReadByte() // until the proxy closes
		if errors.Is(err, io.EOF) {
			close(closed)
		}
	})
	h, _ := newProxy(t, Config{}, f.addr())
	addr := front(t, "goroutine", h, realip.Trust{})
	c := dial(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	line, _ := br.ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("%q", line)
	}
	c.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream connection still open after the client left")
	}
}

// A Connection field may make an end-to-end field hop-by-hop (RFC 9110
// §7.6.1): it is honoured, and naming Cookie or Authorization, which an
// application relies on, is logged.
func TestConnectionListsCookie(t *testing.T) {
	var saw atomic.Value
	f := newFake(t, func(f *fake, c net.Conn, br *bufio.Reader) {
		r, err := f.readRequest(br)
		if err != nil {
			return
		}
		saw.Store(r.Header.Get("Cookie") + "|" + r.Header.Get("X-Other"))
		io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
	})
	h, logs := newProxy(t, Config{}, f.addr())
	addr := front(t, "goroutine", h, realip.Trust{})
	resp, _, err := do(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close, Cookie\r\nCookie: s=1\r\nX-Other: kept\r\n\r\n")
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("%v %v", err, resp)
	}
	if got := saw.Load(); got != "|kept" {
		t.Errorf("the upstream saw Cookie|X-Other = %q, want the cookie removed", got)
	}
	logs.WaitFor(t, "proxy request's Connection field removes a field the application may rely on")
}
