package buffer

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// forEachEngine runs f once per connection engine: the drainer writes to the
// connection from a goroutine of its own, which both engines must allow.
func forEachEngine(t *testing.T, f func(t *testing.T, eng string)) {
	for _, e := range testserve.Engines() {
		t.Run(e, func(t *testing.T) { f(t, e) })
	}
}

// serve runs h behind b on the named engine and returns the address.
func serve(t *testing.T, eng string, b *Buffer, h web.HandlerFunc, cfg shttp.Config) string {
	t.Helper()
	return testserve.HTTPOn(t, eng, b.Wrap(h), cfg)
}

func newBuffer(t *testing.T, cfg Config) (*Buffer, string) {
	dir := t.TempDir()
	cfg.TempDir = dir
	return New(cfg), dir
}

// noTempFiles fails when a temporary file of the buffer kept a name.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("files left in the temporary directory: %v", names)
	}
}

// dialSmall connects with a small receive buffer, so that a client that does
// not read stops the server's writes after little data.
func dialSmall(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c net.Conn, s string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// writeIn writes body in pieces of the given size, as a gateway relays what
// it reads.
func writeIn(w web.ResponseWriter, body []byte, piece int) error {
	for rest := body; len(rest) > 0; {
		n := min(len(rest), piece)
		if _, err := w.Write(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// The handler runs only once the whole body is in: a client that sends half
// of it and stops holds no handler (no worker behind it).
func TestRequestReadBeforeHandler(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng string) {
		b, dir := newBuffer(t, Config{})
		body := randomBytes(100 << 10) // over BodyMemory: the rest goes to a file
		called := make(chan []byte, 1)
		addr := serve(t, eng, b, func(w web.ResponseWriter, r *web.Request) error {
			got, err := io.ReadAll(r.Body())
			if err != nil {
				return err
			}
			if r.ContentLength() != int64(len(got)) {
				t.Errorf("ContentLength %d, body %d", r.ContentLength(), len(got))
			}
			called <- got
			return nil
		}, shttp.Config{})
		c := dial(t, addr)
		send(t, c, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body)))
		send(t, c, string(body[:len(body)/2]))
		select {
		case <-called:
			t.Fatal("the handler ran before the body was in")
		case <-time.After(200 * time.Millisecond):
		}
		send(t, c, string(body[len(body)/2:]))
		got := <-called
		if !bytes.Equal(got, body) {
			t.Fatal("the handler read another body")
		}
		resp, _ := readResponse(t, bufio.NewReader(c), "POST")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		noTempFiles(t, dir)
	})
}

// StreamRequests hands the body over as it comes.
func TestStreamRequests(t *testing.T) {
	b, _ := newBuffer(t, Config{StreamRequests: true})
	called := make(chan struct{}, 1)
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		called <- struct{}{}
		_, err := io.Copy(io.Discard, r.Body())
		return err
	}, shttp.Config{})
	c := dial(t, addr)
	send(t, c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler waited for the body")
	}
	send(t, c, "defghij")
	if resp, _ := readResponse(t, bufio.NewReader(c), "POST"); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// A chunked body reaches the handler as one of known length: Content-Length
// set, Transfer-Encoding gone, in memory and spooled alike.
func TestChunkedBodyGetsLength(t *testing.T) {
	for _, size := range []int{0, 1, DefaultBodyMemory, DefaultBodyMemory + 1, 300 << 10} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			b, dir := newBuffer(t, Config{})
			type seen struct {
				length   int64
				cl, te   string
				body     []byte
				hasCL    bool
				readErrs error
			}
			got := make(chan seen, 1)
			addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
				body, err := io.ReadAll(r.Body())
				got <- seen{r.ContentLength(), r.Header.Get("Content-Length"), r.Header.Get("Transfer-Encoding"), body, r.Header.Has("Content-Length"), err}
				return err
			}, shttp.Config{})
			body := randomBytes(size)
			var req bytes.Buffer
			req.WriteString("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
			for rest := body; len(rest) > 0; {
				n := min(len(rest), 7000)
				fmt.Fprintf(&req, "%x\r\n%s\r\n", n, rest[:n])
				rest = rest[n:]
			}
			req.WriteString("0\r\n\r\n")
			c := dial(t, addr)
			send(t, c, req.String())
			s := <-got
			if s.readErrs != nil || s.length != int64(size) || s.cl != strconv.Itoa(size) || s.te != "" || !bytes.Equal(s.body, body) {
				t.Errorf("handler saw length %d, Content-Length %q, Transfer-Encoding %q, %d bytes (err %v); want %d",
					s.length, s.cl, s.te, len(s.body), s.readErrs, size)
			}
			readResponse(t, bufio.NewReader(c), "POST")
			noTempFiles(t, dir)
		})
	}
}

// MaxBody: at the limit the body passes, one byte past it is 413, in memory
// and in the file.
func TestMaxBody(t *testing.T) {
	for _, limit := range []int64{1000, 64 << 10} {
		for _, size := range []int64{limit, limit + 1} {
			t.Run(fmt.Sprintf("%d/%d", limit, size), func(t *testing.T) {
				b, dir := newBuffer(t, Config{MaxBody: limit, BodyMemory: 4096})
				addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error { return nil }, shttp.Config{})
				c := dial(t, addr)
				send(t, c, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", size, strings.Repeat("a", int(size))))
				resp, _ := readResponse(t, bufio.NewReader(c), "POST")
				want := 200
				if size > limit {
					want = 413
				}
				if resp.StatusCode != want {
					t.Errorf("status %d, want %d", resp.StatusCode, want)
				}
				noTempFiles(t, dir)
			})
		}
	}
}

// The body's own failures are the client's answer, and the handler never
// runs: a malformed chunk is 400, a stalled body 408.
func TestBodyErrors(t *testing.T) {
	for _, c := range []struct {
		name, req string
		status    int
	}{
		{"malformed chunk", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"stalled", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc", 408},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := newBuffer(t, Config{})
			ran := make(chan struct{}, 1)
			addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
				ran <- struct{}{}
				return nil
			}, shttp.Config{BodyReadTimeout: 300 * time.Millisecond})
			conn := dial(t, addr)
			send(t, conn, c.req)
			resp, _ := readResponse(t, bufio.NewReader(conn), "POST")
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			select {
			case <-ran:
				t.Error("the handler ran")
			default:
			}
		})
	}
}

// A response larger than the client's buffers is taken from the handler at
// once: the handler returns while the client reads nothing, then the client
// gets every byte, with a Content-Length.
func TestResponseFreesHandler(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng string) {
		b, dir := newBuffer(t, Config{})
		body := randomBytes(24 << 20)
		returned := make(chan struct{})
		addr := serve(t, eng, b, func(w web.ResponseWriter, r *web.Request) error {
			defer close(returned)
			return writeIn(w, body, 10000)
		}, shttp.Config{})
		c := dialSmall(t, addr)
		send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case <-returned:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler waited for the client")
		}
		resp, got := readResponse(t, bufio.NewReader(c), "GET")
		if !bytes.Equal(got, body) {
			t.Fatalf("got %d bytes, not the %d written", len(got), len(body))
		}
		if resp.ContentLength != int64(len(body)) && resp.ContentLength != -1 {
			t.Errorf("Content-Length %d", resp.ContentLength)
		}
		noTempFiles(t, dir)
	})
}

// Unbuffered (StreamResponses), the same handler waits for the client: the
// case the buffering exists for.
func TestStreamResponsesWaits(t *testing.T) {
	b, _ := newBuffer(t, Config{StreamResponses: true})
	body := randomBytes(24 << 20)
	returned := make(chan struct{})
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		defer close(returned)
		_, err := w.Write(body)
		return err
	}, shttp.Config{})
	c := dialSmall(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case <-returned:
		t.Fatal("an unbuffered handler finished before its client read")
	case <-time.After(300 * time.Millisecond):
	}
	_, got := readResponse(t, bufio.NewReader(c), "GET")
	if !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes", len(got))
	}
}

// A response that fits in memory goes out whole, with its Content-Length,
// even when it is longer than what the server would otherwise hold back.
func TestWholeResponseHasLength(t *testing.T) {
	b, _ := newBuffer(t, Config{})
	body := randomBytes(50 << 10)
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(body[:1000])
		w.Write(body[1000:])
		return nil
	}, shttp.Config{})
	for _, method := range []string{"GET", "HEAD"} {
		c := dial(t, addr)
		send(t, c, method+" / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, got := readResponse(t, bufio.NewReader(c), method)
		if resp.ContentLength != int64(len(body)) || len(resp.TransferEncoding) != 0 {
			t.Errorf("%s: Content-Length %d, Transfer-Encoding %v", method, resp.ContentLength, resp.TransferEncoding)
		}
		if method == "GET" && !bytes.Equal(got, body) {
			t.Errorf("GET: body differs")
		}
		if resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("%s: Content-Type %q", method, resp.Header.Get("Content-Type"))
		}
	}
}

// With MaxTempFile reached, the handler's writes wait for the client, and
// nothing is lost.
func TestMaxTempFileWaits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng string) {
		b, dir := newBuffer(t, Config{ResponseMemory: 16 << 10, MaxTempFile: 64 << 10})
		body := randomBytes(24 << 20)
		returned := make(chan struct{})
		addr := serve(t, eng, b, func(w web.ResponseWriter, r *web.Request) error {
			defer close(returned)
			return writeIn(w, body, 30000)
		}, shttp.Config{})
		c := dialSmall(t, addr)
		send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case <-returned:
			t.Fatal("the handler finished with its response over the file's bound")
		case <-time.After(300 * time.Millisecond):
		}
		_, got := readResponse(t, bufio.NewReader(c), "GET")
		if !bytes.Equal(got, body) {
			t.Fatalf("got %d bytes, not the %d written", len(got), len(body))
		}
		<-returned
		noTempFiles(t, dir)
	})
}

// A flushed block reaches the client while the handler still runs (PEP 3333:
// no block is held back), and the handler does not wait for the client.
func TestFlushReachesClient(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng string) {
		b, _ := newBuffer(t, Config{})
		seen := make(chan struct{})
		addr := serve(t, eng, b, func(w web.ResponseWriter, r *web.Request) error {
			w.WriteString("first block\n")
			if err := w.Flush(); err != nil {
				return err
			}
			select {
			case <-seen:
			case <-time.After(10 * time.Second):
				return errors.New("the client never saw the first block")
			}
			w.WriteString("second block\n")
			return nil
		}, shttp.Config{})
		c := dial(t, addr)
		send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || line != "first block\n" {
			t.Fatalf("first read %q, %v", line, err)
		}
		close(seen)
		rest, _ := io.ReadAll(resp.Body)
		if string(rest) != "second block\n" {
			t.Fatalf("then %q", rest)
		}
	})
}

// A Flush with nothing written sends the head (a long poll's headers).
func TestFlushSendsHead(t *testing.T) {
	b, _ := newBuffer(t, Config{})
	seen := make(chan struct{})
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("X-Early", "yes")
		w.Flush()
		select {
		case <-seen:
		case <-time.After(10 * time.Second):
		}
		return nil
	}, shttp.Config{})
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
	close(seen)
	if err != nil || resp.Header.Get("X-Early") != "yes" {
		t.Fatalf("head %v, %v", resp, err)
	}
	io.ReadAll(resp.Body)
}

// Server-Sent Events and X-Accel-Buffering: no pass through (the writes go
// to the connection as they come, so a long one goes chunked); the field is
// the proxy's, not passed to the client. X-Accel-Buffering: yes buffers
// even an event stream.
func TestStreamsPassThrough(t *testing.T) {
	for _, c := range []struct {
		name    string
		fields  [][2]string
		passing bool
	}{
		{"event stream", [][2]string{{"Content-Type", "text/event-stream"}}, true},
		{"event stream with charset", [][2]string{{"Content-Type", "text/event-stream; charset=utf-8"}}, true},
		{"x-accel-buffering no", [][2]string{{"X-Accel-Buffering", "no"}}, true},
		{"x-accel-buffering yes on an event stream", [][2]string{{"Content-Type", "text/event-stream"}, {"X-Accel-Buffering", "yes"}}, false},
		{"x-accel-buffering yes before an event stream", [][2]string{{"X-Accel-Buffering", "yes"}, {"Content-Type", "text/event-stream"}}, false},
		{"plain", [][2]string{{"Content-Type", "text/plain"}}, false},
		{"not quite an event stream", [][2]string{{"Content-Type", "text/event-streams"}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := newBuffer(t, Config{})
			addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
				for _, f := range c.fields {
					w.Header().Set(f[0], f[1])
				}
				w.Write(bytes.Repeat([]byte("data: x\n\n"), 2000))
				return nil
			}, shttp.Config{})
			conn := dial(t, addr)
			send(t, conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, _ := readResponse(t, bufio.NewReader(conn), "GET")
			chunked := len(resp.TransferEncoding) > 0
			if chunked != c.passing {
				t.Errorf("chunked %v, want passing %v", chunked, c.passing)
			}
			if v := resp.Header.Get("X-Accel-Buffering"); v != "" {
				t.Errorf("X-Accel-Buffering %q reached the client", v)
			}
		})
	}
}

// A handler that fails after writing, before anything reached the client,
// gets an error page, not half a response.
func TestFailedHandlerGetsErrorPage(t *testing.T) {
	b, _ := newBuffer(t, Config{})
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("X-Partial", "yes")
		w.Write(bytes.Repeat([]byte("x"), 30000))
		return web.ErrBadGateway
	}, shttp.Config{})
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readResponse(t, bufio.NewReader(c), "GET")
	if resp.StatusCode != 502 || resp.Header.Get("X-Partial") != "" || bytes.Contains(body, []byte("xxx")) {
		t.Fatalf("status %d, X-Partial %q, body %.40q", resp.StatusCode, resp.Header.Get("X-Partial"), body)
	}
}

// A file the handler sends and closes at once still goes out whole: the
// queue holds its own descriptor.
func TestSendFileQueued(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng string) {
		b, _ := newBuffer(t, Config{})
		content := randomBytes(3 << 20)
		path := t.TempDir() + "/f"
		os.WriteFile(path, content, 0o600)
		returned := make(chan struct{})
		addr := serve(t, eng, b, func(w web.ResponseWriter, r *web.Request) error {
			defer close(returned)
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			w.WriteString("head:")
			return w.SendFile(f, 100, int64(len(content)-100))
		}, shttp.Config{})
		c := dialSmall(t, addr)
		send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-returned
		resp, got := readResponse(t, bufio.NewReader(c), "GET")
		want := append([]byte("head:"), content[100:]...)
		if !bytes.Equal(got, want) || resp.ContentLength != int64(len(want)) {
			t.Fatalf("got %d bytes (Content-Length %d), want %d", len(got), resp.ContentLength, len(want))
		}
	})
}

// A client that leaves while its response drains: the handler's next write
// fails, and nothing is left behind (TestMain checks goroutines; the
// directory, files).
func TestClientGoneWhileDraining(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng string) {
		b, dir := newBuffer(t, Config{ResponseMemory: 16 << 10, MaxTempFile: 64 << 10})
		failed := make(chan error, 1)
		addr := serve(t, eng, b, func(w web.ResponseWriter, r *web.Request) error {
			block := make([]byte, 32<<10)
			for i := 0; i < 10000; i++ {
				if _, err := w.Write(block); err != nil {
					failed <- err
					return err
				}
			}
			failed <- nil
			return nil
		}, shttp.Config{})
		c := dialSmall(t, addr)
		send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 4096)
		io.ReadFull(c, buf)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		select {
		case err := <-failed:
			if err == nil {
				t.Fatal("every write succeeded after the client left")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the handler never learned the client left")
		}
		noTempFiles(t, dir)
	})
}

// The handler's WatchClient reaches the client's writer while the handler
// still owns it, and not once the drainer runs: the writer is the drainer's
// then, and its writes are what notices a client that left.
func TestWatchClient(t *testing.T) {
	b, _ := newBuffer(t, Config{})
	rec := webtest.NewRecorder()
	x := b.getWriter(rec, webtest.NewRequest("GET", "/", nil))
	x.WatchClient()
	if !rec.Watched {
		t.Fatal("the watch did not reach the client's writer")
	}
	rec.Watched = false
	x.mu.Lock()
	x.running = true
	x.mu.Unlock()
	x.WatchClient()
	if rec.Watched {
		t.Fatal("the watch reached the client's writer while the drainer owned it")
	}
}

// Spooled request bodies and responses leave no file behind, even while in
// use: the files are unlinked at creation.
func TestTempFilesUnlinked(t *testing.T) {
	b, dir := newBuffer(t, Config{ResponseMemory: 16 << 10})
	inside := make(chan []os.DirEntry, 1)
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		w.Write(make([]byte, 200<<10)) // spills
		names, _ := os.ReadDir(dir)
		inside <- names
		_, err := io.Copy(io.Discard, r.Body())
		return err
	}, shttp.Config{})
	c := dial(t, addr)
	send(t, c, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", 100<<10, make([]byte, 100<<10)))
	readResponse(t, bufio.NewReader(c), "POST")
	if names := <-inside; len(names) != 0 {
		t.Errorf("named files while in use: %v", names)
	}
}

// The writer is reused between requests: nothing crosses from one response
// to the next (headers, status, bytes, a failed client).
func TestNothingCrossesRequests(t *testing.T) {
	b, _ := newBuffer(t, Config{})
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		n := r.Path()[1:]
		w.Header().Set("X-N", n)
		if n == "1" {
			w.WriteHeader(201)
		}
		w.WriteString("body " + n)
		return nil
	}, shttp.Config{})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	for i := range 20 {
		n := strconv.Itoa(i)
		send(t, c, "GET /"+n+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, body := readResponse(t, br, "GET")
		want := 200
		if i == 1 {
			want = 201
		}
		if resp.StatusCode != want || resp.Header.Values("X-N")[0] != n || len(resp.Header.Values("X-N")) != 1 || string(body) != "body "+n {
			t.Fatalf("request %d: %d %v %q", i, resp.StatusCode, resp.Header.Values("X-N"), body)
		}
	}
}

// A streamed request body and a buffered response share the connection: the
// handler reads the body while the drainer sends what it flushed (run with
// -race), and the client sends the body only once it has seen the first
// block.
func TestStreamedBodyWhileDraining(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng string) {
		b, _ := newBuffer(t, Config{StreamRequests: true})
		addr := serve(t, eng, b, func(w web.ResponseWriter, r *web.Request) error {
			w.WriteString("ready\n")
			if err := w.Flush(); err != nil {
				return err
			}
			n, err := io.Copy(io.Discard, r.Body())
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "got %d\n", n)
			return nil
		}, shttp.Config{})
		c := dial(t, addr)
		body := bytes.Repeat([]byte("b"), 300<<10)
		send(t, c, fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body)))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			t.Fatal(err)
		}
		rb := bufio.NewReader(resp.Body)
		if line, err := rb.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("first block %q, %v", line, err)
		}
		send(t, c, string(body))
		rest, _ := io.ReadAll(rb)
		if string(rest) != fmt.Sprintf("got %d\n", len(body)) {
			t.Fatalf("then %q", rest)
		}
	})
}

// With the body streamed, the response is still buffered once the body is
// in: a handler that reads exactly its declared length (never seeing EOF)
// and answers at length does not wait for a client that reads nothing.
func TestStreamedBodyThenBufferedResponse(t *testing.T) {
	b, _ := newBuffer(t, Config{StreamRequests: true})
	returned := make(chan struct{})
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		defer close(returned)
		buf := make([]byte, r.ContentLength())
		if _, err := io.ReadFull(r.Body(), buf); err != nil {
			return err
		}
		big := make([]byte, 24<<20)
		for i := 0; i < len(big); i += 8192 {
			w.Write(big[i : i+8192])
			w.Flush()
		}
		return nil
	}, shttp.Config{})
	c := dialSmall(t, addr)
	send(t, c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler waited for the client")
	}
	_, got := readResponse(t, bufio.NewReader(c), "POST")
	if len(got) != 24<<20 {
		t.Fatalf("got %d bytes", len(got))
	}
}

// With StreamResponses, responses pass through, unless the application asks
// for buffering with X-Accel-Buffering: yes (as nginx's proxy_buffering off
// does); the field never reaches the client.
func TestStreamResponsesAndAccelYes(t *testing.T) {
	b, _ := newBuffer(t, Config{StreamResponses: true})
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		if r.Path() == "/yes" {
			w.Header().Set("X-Accel-Buffering", "yes")
		}
		w.Write(bytes.Repeat([]byte("x"), 50000))
		return nil
	}, shttp.Config{})
	for path, buffered := range map[string]bool{"/yes": true, "/plain": false} {
		c := dial(t, addr)
		send(t, c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, _ := readResponse(t, bufio.NewReader(c), "GET")
		if got := resp.ContentLength == 50000; got != buffered {
			t.Errorf("%s: Content-Length %d, transfer %v; want buffered %v", path, resp.ContentLength, resp.TransferEncoding, buffered)
		}
		if resp.Header.Get("X-Accel-Buffering") != "" {
			t.Errorf("%s: X-Accel-Buffering reached the client", path)
		}
	}
}

// A HEAD response's body is counted for its Content-Length, never stored: a
// large one writes no temporary file (here the directory is missing, so a
// file would fail and log). The GET beside it spills, and its failed file
// leaves it waiting for the client instead of failing.
func TestHeadStoresNothing(t *testing.T) {
	logs := &testutil.LogBuffer{}
	b := New(Config{TempDir: t.TempDir() + "/missing", Logger: logs.Logger()})
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		block := make([]byte, 64<<10)
		for range 16 {
			if _, err := w.Write(block); err != nil {
				return err
			}
		}
		return nil
	}, shttp.Config{})
	c := dial(t, addr)
	send(t, c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, _ := readResponse(t, bufio.NewReader(c), "HEAD")
	if resp.ContentLength != 1<<20 {
		t.Errorf("HEAD: Content-Length %d", resp.ContentLength)
	}
	if strings.Contains(logs.String(), "temporary file failed") {
		t.Fatalf("HEAD stored its body:\n%s", logs.String())
	}
	c = dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := readResponse(t, bufio.NewReader(c), "GET"); len(body) != 1<<20 {
		t.Errorf("GET: %d bytes", len(body))
	}
	if !strings.Contains(logs.String(), "temporary file failed") {
		t.Errorf("the GET's failed file was not logged:\n%s", logs.String())
	}
}

// A handler that panics while its response drains: the drainer stops before
// the server deals with the panic (TestMain finds any goroutine left).
func TestPanicWhileDraining(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng string) {
		b, _ := newBuffer(t, Config{})
		addr := serve(t, eng, b, func(w web.ResponseWriter, r *web.Request) error {
			w.Write(make([]byte, 300<<10))
			w.Flush()
			panic("boom")
		}, shttp.Config{})
		c := dialSmall(t, addr)
		send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("the connection was not closed: %v", err)
		}
	})
}

// A long response through a slow client keeps its temporary files about as
// large as what waits in them (MaxTempFile), not as the whole response: a
// spill file that is full takes no more, and goes once sent.
func TestSpillFilesBounded(t *testing.T) {
	const maxTemp = 1 << 20
	b, _ := newBuffer(t, Config{ResponseMemory: 64 << 10, MaxTempFile: maxTemp})
	var peak int64
	done := make(chan struct{})
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		defer close(done)
		block := make([]byte, 32<<10)
		for i := range 2000 { // 62.5 MiB
			if _, err := w.Write(block); err != nil {
				return err
			}
			if i%16 == 0 {
				peak = max(peak, spillBytes(t))
			}
		}
		return nil
	}, shttp.Config{})
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	var got int64
	for {
		n, err := resp.Body.Read(buf)
		got += int64(n)
		if err != nil {
			break
		}
		time.Sleep(200 * time.Microsecond) // a client a little slower than the handler
	}
	<-done
	if got != 2000*32<<10 {
		t.Fatalf("got %d bytes", got)
	}
	if peak > 4*maxTemp {
		t.Fatalf("temporary files held %d bytes at once; at most %d wait", peak, maxTemp)
	}
	t.Logf("peak of the temporary files: %d bytes", peak)
}

// spillBytes adds up the sizes of this process's open, unlinked response
// files.
func spillBytes(t *testing.T) int64 {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, fd := range fds {
		p := "/proc/self/fd/" + fd.Name()
		if target, err := os.Readlink(p); err == nil && strings.Contains(target, "gatehouse-response-") {
			if fi, err := os.Stat(p); err == nil {
				total += fi.Size()
			}
		}
	}
	return total
}

// A Flush followed at once by the end of the response (a gateway that has
// read all its application sent so far, just before the end arrives) hands
// nothing to the drainer: the response goes out whole, with its length.
func TestFlushThenEndGoesOutWhole(t *testing.T) {
	b, _ := newBuffer(t, Config{})
	addr := serve(t, "goroutine", b, func(w web.ResponseWriter, r *web.Request) error {
		w.Write(bytes.Repeat([]byte("a"), 30000))
		w.Flush()
		w.Write(bytes.Repeat([]byte("b"), 10))
		return nil
	}, shttp.Config{})
	c := dial(t, addr)
	send(t, c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readResponse(t, bufio.NewReader(c), "GET")
	if resp.ContentLength != 30010 || len(body) != 30010 {
		t.Fatalf("Content-Length %d (transfer %v), %d bytes", resp.ContentLength, resp.TransferEncoding, len(body))
	}
}
