package http1_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"gatehouse/engine"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// waitingHandler asks for the client watch, then waits for its context or for
// release; it reports what ended the wait on ended.
type waitingHandler struct {
	ended   chan string
	release chan struct{}
}

func newWaitingHandler() *waitingHandler {
	return &waitingHandler{ended: make(chan string, 4), release: make(chan struct{}, 4)}
}

func (h *waitingHandler) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	if r.Path() != "/wait" {
		w.WriteString("quick " + r.Path())
		return nil
	}
	io.Copy(io.Discard, r.Body())
	w.WatchClient()
	select {
	case <-r.Context().Done():
		h.ended <- "canceled"
		return r.Context().Err()
	case <-h.release:
		h.ended <- "released"
		w.WriteString("waited")
		return nil
	case <-time.After(10 * time.Second):
		h.ended <- "timeout"
		return nil
	}
}

func (h *waitingHandler) wantEnded(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-h.ended:
		if got != want {
			t.Fatalf("handler ended by %q, want %q", got, want)
		}
	case <-time.After(8 * time.Second):
		t.Fatalf("handler still waits; want it %s", want)
	}
}

// A client that closes while its handler waits cancels the request, on both
// engines; the log records an abandoned request (499), not a failure.
func TestWatchClientGone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engineName string) {
		for _, how := range []string{"close", "half-close"} {
			t.Run(how, func(t *testing.T) {
				h := newWaitingHandler()
				ts := startServer(t, engineName, h, shttp.Config{})
				c := dial(t, ts.addr)
				c.send("POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
				time.Sleep(50 * time.Millisecond) // the handler is waiting
				if how == "close" {
					c.conn.Close()
				} else {
					c.conn.(*net.TCPConn).CloseWrite()
				}
				h.wantEnded(t, "canceled")
				ts.logs.WaitFor(t, "request abandoned")
				if l := ts.logs.String(); !strings.Contains(l, "status=499") || strings.Contains(l, "level=ERROR") {
					t.Fatalf("log:\n%s", l)
				}
			})
		}
	})
}

// A client whose FIN comes with its request (printf ... | nc -N) is gone for
// a handler that asks to watch it, on both engines: on epoll the FIN arrives
// in the same read as the request, before a worker holds the connection.
func TestWatchClientGoneWithTheRequest(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engineName string) {
		h := newWaitingHandler()
		ts := startServer(t, engineName, h, shttp.Config{})
		c := dial(t, ts.addr)
		// One write of the request and the FIN right behind it.
		c.send("POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
		c.conn.(*net.TCPConn).CloseWrite()
		h.wantEnded(t, "canceled")
		ts.logs.WaitFor(t, "request abandoned")
	})
}

// A request, a pipelined one and the FIN in one write, where the pipelined
// bytes are still in the socket when the first handler watches (its head
// and body fill the first read exactly, or the body is read in large reads
// straight into the reader's slice): the pipelined request is the client's
// proof of life, and both are answered, on both engines.
func TestWatchClientPipelinedThenFIN(t *testing.T) {
	for _, mode := range []string{"buffer-full", "large-body"} {
		t.Run(mode, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, engineName string) {
				h := newWaitingHandler()
				ts := startServer(t, engineName, h, shttp.Config{})
				c := dial(t, ts.addr)
				var req1 string
				if mode == "buffer-full" {
					// Head and body exactly 1024 bytes: the loop's first read fills its inline buffer.
					head := "POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nX-Pad: "
					pad := 1024 - len(head) - len("\r\n\r\n") - 10
					req1 = head + strings.Repeat("a", pad) + "\r\n\r\n" + strings.Repeat("b", 10)
				} else {
					req1 = "POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n" + strings.Repeat("b", 65536)
				}
				c.send(req1 + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
				c.conn.(*net.TCPConn).CloseWrite()
				time.Sleep(200 * time.Millisecond)
				h.release <- struct{}{}
				h.wantEnded(t, "released")
				if r := c.read("POST"); r.StatusCode != 200 || r.body != "waited" {
					t.Fatalf("first response: %d %q", r.StatusCode, r.body)
				}
				if r := c.read("GET"); r.StatusCode != 200 || r.body != "quick /next" {
					t.Fatalf("second response: %d %q", r.StatusCode, r.body)
				}
			})
		})
	}
}

// The watch reads the first byte of a pipelined request; that request is
// served whole after the one that waited, and nothing is canceled.
func TestWatchClientPipelined(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engineName string) {
		h := newWaitingHandler()
		ts := startServer(t, engineName, h, shttp.Config{})
		c := dial(t, ts.addr)
		c.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(50 * time.Millisecond)
		c.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(50 * time.Millisecond)
		h.release <- struct{}{}
		h.wantEnded(t, "released")
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "waited" {
			t.Fatalf("first response: %d %q", r.StatusCode, r.body)
		}
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "quick /next" {
			t.Fatalf("second response: %d %q", r.StatusCode, r.body)
		}
		// And the connection goes on.
		c.send("GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "quick /third" {
			t.Fatalf("third response: %d %q", r.StatusCode, r.body)
		}
	})
}

// A request whose handler waited and was answered leaves the connection as it
// was: the next request on it is read with its deadlines, byte for byte.
func TestWatchClientKeepAlive(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engineName string) {
		h := newWaitingHandler()
		ts := startServer(t, engineName, h, shttp.Config{})
		c := dial(t, ts.addr)
		for i := range 3 {
			c.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
			h.release <- struct{}{}
			h.wantEnded(t, "released")
			if r := c.read("GET"); r.StatusCode != 200 || r.body != "waited" {
				t.Fatalf("response %d: %d %q", i, r.StatusCode, r.body)
			}
		}
	})
}

// On TLS (the goroutine engine): the watch's read through tls.Conn is ended
// by a deadline without breaking the connection, and a client that closes
// cancels the request.
func TestWatchClientTLS(t *testing.T) {
	cert := testutil.SelfSigned(t)
	h := newWaitingHandler()
	logs := &logBuffer{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &engine.Server{Handler: shttp.New(h, shttp.Config{Scheme: "https", Logger: logs.Logger()})}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}})) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	tc, err := tls.Dial("tcp", l.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: tc, br: bufio.NewReader(tc)}
	t.Cleanup(func() { tc.Close() })
	for i := range 2 {
		c.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(20 * time.Millisecond)
		h.release <- struct{}{}
		h.wantEnded(t, "released")
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "waited" {
			t.Fatalf("response %d: %d %q", i, r.StatusCode, r.body)
		}
	}
	c.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	tc.Close()
	h.wantEnded(t, "canceled")
}

// A handler that watched the client, then takes the connection over, gets the
// byte the watch read first: nothing of the tunnel is lost.
func TestWatchClientThenUpgrade(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			w.WatchClient()
			time.Sleep(100 * time.Millisecond) // the client's first tunnel bytes arrive meanwhile
			conn, err := w.Upgrade()
			if err != nil {
				return err
			}
			defer conn.Close()
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			got := make([]byte, 5)
			if _, err := io.ReadFull(conn, got); err != nil {
				return nil
			}
			conn.Write(got)
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{})
		c := dial(t, ts.addr)
		c.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		time.Sleep(30 * time.Millisecond)
		c.send("hello")
		if r, err := c.tryReadUpgrade(); err != nil || r != 101 {
			t.Fatalf("%d %v", r, err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c.br, buf); err != nil || string(buf) != "hello" {
			t.Fatalf("echo %q %v; want \"hello\"", buf, err)
		}
	})
}

// With no idle timeout (idle_timeout = "0s"), a watched request that ended
// normally leaves the connection usable: the watch's stop moved the read
// deadline, and the next read must not inherit it.
func TestWatchClientNoIdleTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engineName string) {
		h := newWaitingHandler()
		ts := startServer(t, engineName, h, shttp.Config{IdleTimeout: -1})
		c := dial(t, ts.addr)
		for i := range 3 {
			c.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
			h.release <- struct{}{}
			h.wantEnded(t, "released")
			if r := c.read("GET"); r.StatusCode != 200 || r.body != "waited" {
				t.Fatalf("response %d: %d %q", i, r.StatusCode, r.body)
			}
		}
	})
}

// A byte the watch read on a connection that then closes (here after one
// request) is dropped with it: the pooled state must not put it in front of
// the next client's request.
func TestWatchByteStaysWithItsConnection(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engineName string) {
		h := newWaitingHandler()
		ts := startServer(t, engineName, h, shttp.Config{MaxRequestsPerConn: 1})
		for i := range 5 {
			a := dial(t, ts.addr)
			a.send("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
			time.Sleep(20 * time.Millisecond)
			a.send("X") // the start of a request this connection will not serve
			time.Sleep(20 * time.Millisecond)
			h.release <- struct{}{}
			h.wantEnded(t, "released")
			a.read("GET")
			a.expectClosed()

			b := dial(t, ts.addr)
			b.send("GET /b HTTP/1.1\r\nHost: x\r\n\r\n")
			if r := b.read("GET"); r.StatusCode != 200 || r.body != "quick /b" {
				t.Fatalf("round %d: the next connection got %d %q", i, r.StatusCode, r.body)
			}
		}
	})
}
