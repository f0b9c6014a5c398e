package fastcgi

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/proto/fcgi"
	shttp "gatehouse/serve/http1"
	"gatehouse/upstream"
)

// echoBody answers with the params it was asked about and a digest of the body.
func echoBody(c *fakeConn, req *fakeReq) bool {
	in, err := c.stdin()
	if err != nil {
		return false
	}
	sum := sha256.Sum256(in)
	c.respond(req.id, fmt.Sprintf("Content-Type: text/plain\r\n\r\n%s %s %d %s", req.params["SCRIPT_NAME"], req.params["PATH_INFO"], len(in), hex.EncodeToString(sum[:4])))
	return true
}

func TestFakeKeepConn(t *testing.T) {
	a := startFake(t, echoBody)
	logs := &logBuffer{}
	h := fakeHandler(t, a, Config{Prefix: "/app/", Logger: logs.Logger()})
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	for i := range 10 {
		resp, body := do(t, c, "POST", "http://"+addr+"/app/x/y", strings.NewReader("hello"))
		if resp.StatusCode != 200 || body != "/app /x/y 5 2cf24dba" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if n := a.accepts.Load(); n != 1 {
		t.Fatalf("%d connections for 10 requests", n)
	}
	// Outside the prefix: not this handler's.
	if resp, _ := do(t, c, "GET", "http://"+addr+"/appx", nil); resp.StatusCode != 404 {
		t.Fatalf("%d", resp.StatusCode)
	}

	h2 := fakeHandler(t, a, Config{NoKeepConn: true})
	addr2 := serve(t, h2, logs, shttp.Config{})
	for range 3 {
		if resp, _ := do(t, c, "GET", "http://"+addr2+"/", nil); resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
	}
	if n := a.accepts.Load(); n != 4 {
		t.Fatalf("NoKeepConn: %d connections", n)
	}
}

// Bodies of every size around the first write and the send chunk, with known
// and unknown lengths.
func TestFakeBodies(t *testing.T) {
	a := startFake(t, echoBody)
	logs := &logBuffer{}
	h := fakeHandler(t, a, Config{Logger: logs.Logger()})
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	for _, n := range []int{0, 1, 7, 8, firstBody - 1, firstBody, firstBody + 1, fcgi.MaxContent, fcgi.MaxContent + 1, spoolMem + 1, 1 << 20} {
		body := strings.Repeat("b", n)
		sum := sha256.Sum256([]byte(body))
		want := fmt.Sprintf(" / %d %s", n, hex.EncodeToString(sum[:4]))
		resp, got := do(t, c, "PUT", "http://"+addr+"/", strings.NewReader(body))
		if resp.StatusCode != 200 || got != want {
			t.Errorf("%d bytes: %d %q, want %q", n, resp.StatusCode, got, want)
		}
		// chunked: spooled, sent with a length
		resp, got = do(t, c, "PUT", "http://"+addr+"/", struct{ *strings.Reader }{strings.NewReader(body)})
		if resp.StatusCode != 200 || got != want {
			t.Errorf("%d bytes chunked: %d %q, want %q", n, resp.StatusCode, got, want)
		}
	}
}

func TestFakeSpoolLimits(t *testing.T) {
	a := startFake(t, echoBody)
	logs := &logBuffer{}
	c := client(t)
	limited := serve(t, fakeHandler(t, a, Config{MaxSpoolBytes: 100 << 10, SpoolDir: t.TempDir()}), logs, shttp.Config{})
	refused := serve(t, fakeHandler(t, a, Config{MaxSpoolBytes: -1}), logs, shttp.Config{})
	for _, c2 := range []struct {
		addr   string
		n      int
		status int
	}{
		{limited, 100 << 10, 200}, {limited, 100<<10 + 1, 413}, {limited, spoolMem, 200},
		{refused, 1, 411}, {refused, 0, 411},
	} {
		resp, _ := do(t, c, "PUT", "http://"+c2.addr+"/", struct{ *strings.Reader }{strings.NewReader(strings.Repeat("z", c2.n))})
		if resp.StatusCode != c2.status {
			t.Errorf("%d bytes: %d, want %d", c2.n, resp.StatusCode, c2.status)
		}
	}
	// A known length is streamed whatever the spool limit.
	if resp, _ := do(t, c, "PUT", "http://"+limited+"/", strings.NewReader(strings.Repeat("z", 200<<10))); resp.StatusCode != 200 {
		t.Errorf("known length: %d", resp.StatusCode)
	}
}

// An application that answers before it reads a large body, and reads it
// only afterwards: the gateway sends and reads at once, so neither side
// waits for the other forever.
func TestFakeEarlyAnswer(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB, more than the socket buffers
	a := startFake(t, func(c *fakeConn, req *fakeReq) bool {
		c.write(fcgi.AppendRecord(nil, fcgi.TypeStdout, req.id, []byte("Content-Type: text/plain\r\n\r\n"+big)))
		in, err := c.stdin()
		if err != nil {
			return false
		}
		c.write(fcgi.AppendRecord(nil, fcgi.TypeStdout, req.id, []byte(fmt.Sprintf("|%d", len(in)))))
		c.write(fcgi.AppendEndRequest(fcgi.AppendRecord(nil, fcgi.TypeStdout, req.id, nil), req.id, 0, 0))
		return true
	})
	logs := &logBuffer{}
	h := fakeHandler(t, a, Config{ReadTimeout: 10 * time.Second})
	addr := serve(t, h, logs, shttp.Config{})
	resp, body := do(t, client(t), "POST", "http://"+addr+"/", strings.NewReader(strings.Repeat("u", 4<<20)))
	if resp.StatusCode != 200 || body != big+fmt.Sprintf("|%d", 4<<20) {
		t.Fatalf("%d, %d bytes", resp.StatusCode, len(body))
	}
}

// A kept connection that the application drops as the next request arrives
// (the race no liveness check can rule out) is retried once on a new one.
func TestFakeRetryStale(t *testing.T) {
	a := startFake(t, func(c *fakeConn, req *fakeReq) bool {
		if req.n == 1 {
			return false // the second request on a connection: close without answering
		}
		return echoBody(c, req)
	})
	logs := &logBuffer{}
	h := fakeHandler(t, a, Config{})
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	for i := range 3 {
		resp, body := do(t, c, "POST", "http://"+addr+"/p", strings.NewReader("abc"))
		if resp.StatusCode != 200 || !strings.HasPrefix(body, " /p 3 ") {
			t.Fatalf("request %d: %d %q\n%s", i, resp.StatusCode, body, logs.String())
		}
	}
	if n := a.accepts.Load(); n != 3 {
		t.Fatalf("%d connections", n)
	}
	// With more body than the first write holds, part of it has gone and
	// cannot be sent again: 502, no retry.
	resp, _ := upload(t, addr, "/p", 1<<20)
	if resp.StatusCode != 502 {
		t.Fatalf("large body on a stale connection: %d", resp.StatusCode)
	}
}

// Each malformed or refused answer is a 502 (503 for overload), with the
// reason in the log, and its connection is not reused.
func TestFakeBadResponses(t *testing.T) {
	cases := []struct {
		name   string
		answer func(c *fakeConn, id uint16)
		status int
		reason string
	}{
		{"no head", func(c *fakeConn, id uint16) { c.respond(id, "") }, 502, "response ended before its head"},
		{"head without end", func(c *fakeConn, id uint16) { c.respond(id, "Content-Type: text/plain\r\n") }, 502, "response ended before its head"},
		{"bare CR", func(c *fakeConn, id uint16) { c.respond(id, "A: b\rc\r\n\r\n") }, 502, "bare CR"},
		{"head too large", func(c *fakeConn, id uint16) {
			c.respond(id, "X: "+strings.Repeat("a", 40<<10)+"\r\n\r\n")
		}, 502, "response head too large"},
		{"bad status", func(c *fakeConn, id uint16) { c.respond(id, "Status: 99\r\n\r\n") }, 502, "invalid Status"},
		{"overloaded", func(c *fakeConn, id uint16) {
			c.write(fcgi.AppendEndRequest(nil, id, 0, fcgi.StatusOverloaded))
		}, 503, "overloaded"},
		{"unknown role", func(c *fakeConn, id uint16) {
			c.write(fcgi.AppendEndRequest(nil, id, 0, fcgi.StatusUnknownRole))
		}, 502, "protocol status 3"},
		{"other request id", func(c *fakeConn, id uint16) { c.respond(id+1, "A: b\r\n\r\n") }, 502, "for request 2"},
		{"closed before end", func(c *fakeConn, id uint16) {
			c.write(fcgi.AppendRecord(nil, fcgi.TypeStdout, id, []byte("A: b\r\n")))
		}, 502, "EOF"},
		{"bad version", func(c *fakeConn, id uint16) { c.write([]byte("HTTP/1.1 200 OK\r\n\r\n")) }, 502, "unsupported record version"},
		{"discrete record too large", func(c *fakeConn, id uint16) {
			c.write(fcgi.AppendRecord(nil, fcgi.TypeEndRequest, id, make([]byte, 40<<10)))
		}, 502, "larger than the read buffer"},
		{"stdin from the application", func(c *fakeConn, id uint16) {
			c.write(fcgi.AppendRecord(nil, fcgi.TypeStdin, id, []byte("x")))
		}, 502, "unexpected STDIN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := startFake(t, func(c *fakeConn, req *fakeReq) bool {
				c.stdin()
				tc.answer(c, req.id)
				return false
			})
			logs := &logBuffer{}
			h := fakeHandler(t, a, Config{})
			addr := serve(t, h, logs, shttp.Config{})
			resp, _ := do(t, client(t), "GET", "http://"+addr+"/", nil)
			if resp.StatusCode != tc.status || !strings.Contains(logs.String(), tc.reason) {
				t.Fatalf("%d, want %d; log:\n%s", resp.StatusCode, tc.status, logs.String())
			}
			if st := h.pool.Stats()[0]; st.Idle != 0 {
				t.Fatalf("kept a broken connection: %+v", st)
			}
		})
	}
}

// Management records and empty STDERR are ignored; STDERR is logged by line,
// also across records and without a final newline; padding after
// END_REQUEST is consumed so the connection stays usable.
func TestFakeRecords(t *testing.T) {
	a := startFake(t, func(c *fakeConn, req *fakeReq) bool {
		c.stdin()
		var out []byte
		out = fcgi.AppendUnknownType(out, 99)
		out = fcgi.AppendRecord(out, fcgi.TypeStderr, req.id, []byte("first li"))
		out = fcgi.AppendRecord(out, fcgi.TypeStderr, req.id, []byte("ne\r\nsecond\n\nthird"))
		out = fcgi.AppendRecord(out, fcgi.TypeStdout, req.id, []byte("Status: 201 Created\nX-A: 1\nConnection: close\nTransfer-Encoding: chunked\n\nbo"))
		out = fcgi.AppendRecord(out, fcgi.TypeStdout, req.id, []byte("dy"))
		out = fcgi.AppendRecord(out, fcgi.TypeStdout, req.id, nil)
		// An END_REQUEST with padding the writer did not need.
		out = append(out, fcgi.Header{Version: 1, Type: fcgi.TypeEndRequest, RequestID: req.id, ContentLength: 8, PaddingLength: 5}.Append(nil)...)
		out = append(out, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9)
		c.write(out)
		return true
	})
	logs := &logBuffer{}
	h := fakeHandler(t, a, Config{Logger: logs.Logger()})
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	for range 2 {
		resp, body := do(t, c, "GET", "http://"+addr+"/", nil)
		if resp.StatusCode != 201 || body != "body" || resp.Header.Get("X-A") != "1" || resp.Close {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
	}
	out := logs.String()
	for _, want := range []string{`line="first line"`, "line=second", "line=third"} {
		if strings.Count(out, want) != 2 {
			t.Errorf("log lacks %s twice:\n%s", want, out)
		}
	}
	if a.accepts.Load() != 1 {
		t.Errorf("%d connections: padding broke reuse", a.accepts.Load())
	}
}

// The client going away mid-response stops the exchange and closes the
// application's connection.
func TestFakeClientGone(t *testing.T) {
	gone := make(chan struct{})
	a := startFake(t, func(c *fakeConn, req *fakeReq) bool {
		c.stdin()
		c.write(fcgi.AppendRecord(nil, fcgi.TypeStdout, req.id, []byte("A: b\r\n\r\nstart")))
		chunk := fcgi.AppendRecord(nil, fcgi.TypeStdout, req.id, make([]byte, 60000))
		for {
			if _, err := c.Conn.Write(chunk); err != nil {
				close(gone) // the gateway closed the connection
				return false
			}
		}
	})
	logs := &logBuffer{}
	h := fakeHandler(t, a, Config{})
	addr := serve(t, h, logs, shttp.Config{})
	got := raw0(t, addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 100)
	if !strings.HasPrefix(got, "HTTP/1.1 200") {
		t.Fatalf("%q", got)
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the application's connection stayed open")
	}
}

// An application that answers and then stops reading, leaving the body
// unread: the exchange ends with its answer, not after WriteTimeout, and the
// connection is not kept.
func TestFakeAnswerWithoutReading(t *testing.T) {
	hold := make(chan struct{})
	a := startFake(t, func(c *fakeConn, req *fakeReq) bool {
		c.respond(req.id, "Status: 413\r\nContent-Type: text/plain\r\n\r\ntoo big")
		select {
		case <-hold:
		case <-time.After(30 * time.Second):
		}
		return false
	})
	t.Cleanup(func() { close(hold) }) // before the fake stops
	logs := &logBuffer{}
	h := fakeHandler(t, a, Config{WriteTimeout: 20 * time.Second})
	addr := serve(t, h, logs, shttp.Config{})
	start := time.Now()
	resp, body := upload(t, addr, "/", 8<<20)
	if resp.StatusCode != 413 || body != "too big" || time.Since(start) > 10*time.Second {
		t.Fatalf("%d %q after %v", resp.StatusCode, body, time.Since(start))
	}
	if st := h.pool.Stats()[0]; st.Idle != 0 {
		t.Fatalf("kept: %+v", st)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// upload POSTs size bytes on a raw connection and reads the response while
// the body is still being sent: a server that answers early and closes the
// connection resets the upload, which net/http's client reports instead of
// the response.
func upload(t *testing.T, addr, path string, size int) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		io.WriteString(conn, "POST "+path+" HTTP/1.1\r\nHost: a\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n")
		io.Copy(conn, io.LimitReader(zeros{}, int64(size))) // fails once the server closes: fine
	}()
	defer func() { conn.Close(); <-sent }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// Timeout is on by default, so that nothing waits on an application forever
// whatever progress it makes (a script trickling output, php-fpm holding a
// request); a negative Timeout turns it off.
func TestTimeoutDefault(t *testing.T) {
	a := startFake(t, func(c *fakeConn, req *fakeReq) bool { return false })
	for _, c := range []struct {
		set, want time.Duration
	}{{0, DefaultTimeout}, {-1, -1}, {5 * time.Second, 5 * time.Second}} {
		h := fakeHandler(t, a, Config{Timeout: c.set})
		if h.cfg.Timeout != c.want {
			t.Errorf("Timeout %v: %v, want %v", c.set, h.cfg.Timeout, c.want)
		}
	}
	if DefaultTimeout <= 0 {
		t.Fatal("no default timeout")
	}
}

// An [[upstream]] balanced by ip_hash keeps a client on one application
// server: the handler gives the pool the client's address as the key.
func TestFakeIPHash(t *testing.T) {
	a, b := startFake(t, echoBody), startFake(t, echoBody)
	logs := &logBuffer{}
	for _, c := range []struct {
		balance string
		spread  bool
	}{{"ip_hash", false}, {"round_robin", true}} {
		h, err := New(Config{NoKeepConn: true, Logger: logs.Logger(),
			Upstream: upstream.Config{Addrs: []string{a.addr, b.addr}, Balance: c.balance}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		addr := serve(t, h, logs, shttp.Config{})
		before := a.accepts.Load() + b.accepts.Load()
		na := a.accepts.Load()
		for range 6 {
			if resp, _ := do(t, client(t), "GET", "http://"+addr+"/", nil); resp.StatusCode != 200 {
				t.Fatal(resp.StatusCode)
			}
		}
		gotA := a.accepts.Load() - na
		if n := a.accepts.Load() + b.accepts.Load() - before; n != 6 {
			t.Fatalf("%s: %d connections for 6 requests", c.balance, n)
		}
		if spread := gotA != 0 && gotA != 6; spread != c.spread {
			t.Errorf("%s: %d of 6 requests on the first server", c.balance, gotA)
		}
	}
}
