package http1_test

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"gatehouse/engine"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// memConn is an in-memory connection that hands out one copy of req per Read, n
// times, then EOF, and discards what is written. With it, the benchmark below
// measures the whole connection loop except the system calls.
type memConn struct {
	req     []byte
	left    int
	written int
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.left == 0 {
		return 0, io.EOF
	}
	m.left--
	return copy(p, m.req), nil
}

func (m *memConn) Write(p []byte) (int, error)        { m.written += len(p); return len(p), nil }
func (m *memConn) Close() error                       { return nil }
func (m *memConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (m *memConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5000} }
func (m *memConn) SetDeadline(t time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(t time.Time) error { return nil }

// oneListener accepts one connection, then blocks until closed.
type oneListener struct {
	c    net.Conn
	once sync.Once
	done chan struct{}
}

func (l *oneListener) Accept() (net.Conn, error) {
	var c net.Conn
	l.once.Do(func() { c = l.c })
	if c != nil {
		return c, nil
	}
	<-l.done
	return nil, net.ErrClosed
}

func (l *oneListener) Close() error   { close(l.done); return nil }
func (l *oneListener) Addr() net.Addr { return l.c.LocalAddr() }

// BenchmarkConnLoop serves b.N keep-alive requests through the connection loop
// on an in-memory connection: parse, handler, response, buffers, deadlines.
func BenchmarkConnLoop(b *testing.B) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("Content-Type", "text/plain")
		_, err := w.Write(helloBytes)
		return err
	})
	req := []byte("GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")
	mc := &memConn{req: req, left: b.N}
	srv := &engine.Server{Handler: shttp.New(h, shttp.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})}
	l := &oneListener{c: mc, done: make(chan struct{})}
	b.ReportAllocs()
	b.ResetTimer()
	go srv.Serve(l)
	for srv.Conns() == 0 && mc.left > 0 {
		time.Sleep(time.Microsecond)
	}
	for srv.Conns() > 0 {
		time.Sleep(time.Microsecond)
	}
	b.StopTimer()
	l.Close()
	if mc.written < b.N*100 {
		b.Fatalf("wrote %d bytes for %d requests", mc.written, b.N)
	}
}
