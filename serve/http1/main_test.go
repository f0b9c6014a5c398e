package http1_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"gatehouse/engine"
	"gatehouse/engine/epoll"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// engines lists the connection engines every behaviour test runs on.
var engines = func() []string {
	if epoll.Supported {
		return []string{"goroutine", "epoll"}
	}
	return []string{"goroutine"}
}()

// engineServer is what the tests need of either engine.
type engineServer interface {
	Serve(l net.Listener) error
	Shutdown(ctx context.Context) error
	Close() error
	Conns() int
}

// forEachEngine runs f as one subtest per engine.
func forEachEngine(t *testing.T, f func(t *testing.T, engineName string)) {
	for _, e := range engines {
		t.Run(e, func(t *testing.T) { f(t, e) })
	}
}

type logBuffer = testutil.LogBuffer

// waitFor polls until the log contains s.
type testServer struct {
	addr string
	eng  engineServer
	logs *logBuffer
	done chan error
}

func startServer(t *testing.T, engineName string, h web.Handler, cfg shttp.Config) *testServer {
	t.Helper()
	logs := &logBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: l.Addr().String(), logs: logs, done: make(chan error, 1)}
	switch engineName {
	case "goroutine":
		ts.eng = &engine.Server{Handler: shttp.New(h, cfg)}
	case "epoll":
		ts.eng = &epoll.Server{Handler: shttp.New(h, cfg)}
	default:
		t.Fatalf("unknown engine %q", engineName)
	}
	go func() { ts.done <- ts.eng.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ts.eng.Shutdown(ctx)
		<-ts.done
	})
	return ts
}

// client speaks raw HTTP/1.1 and reads responses with net/http's parser, an
// independent check of the framing gatehouse sends.
type client struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, conn: c, br: bufio.NewReader(c)}
}

func (c *client) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

type resp struct {
	*http.Response
	body string
}

// read reads one response to a request with the given method.
func (c *client) read(method string) *resp {
	c.t.Helper()
	r, err := c.tryRead(method)
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	return r
}

func (c *client) tryRead(method string) (*resp, error) {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	r, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	return &resp{Response: r, body: string(b)}, nil
}

// expectClosed checks that the server closes the connection (EOF or reset) without
// sending anything more.
func (c *client) expectClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("connection still open; got %q", append([]byte{b}, rest...))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection not closed within 5 s")
	}
}

// exchange sends raw on a new connection and reads one response.
func exchange(t *testing.T, addr, raw, method string) *resp {
	t.Helper()
	c := dial(t, addr)
	c.send(raw)
	return c.read(method)
}

// echo answers with method, path, query, host and the body it read.
var echo = web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
	body, err := io.ReadAll(r.Body())
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Method", r.Method())
	w.Header().Set("X-Path", r.Path())
	w.Header().Set("X-Host", string(r.Host()))
	w.Write(body)
	return nil
})

var hello = web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
	w.Header().Set("Content-Type", "text/plain")
	_, err := w.WriteString("Hello, World!")
	return err
})

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
