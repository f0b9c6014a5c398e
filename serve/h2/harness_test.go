package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"gatehouse/engine"
	"gatehouse/internal/testutil"
	"gatehouse/web"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// transports are the two ways a connection reaches the HTTP/2 server.
var transports = []string{"tls", "h2c"}

// harness runs a Server on the goroutine engine on 127.0.0.1, as the
// dispatcher does (the TLS handshake first, or straight to the server for
// h2c with prior knowledge), and counts the bytes the server side reads.
type harness struct {
	t     *testing.T
	tr    string
	addr  string
	srv   *Server
	eng   *engine.Server
	read  atomic.Int64  // bytes read by the server, all connections
	ended chan struct{} // one value per connection ServeConn let go
}

func newHarness(t *testing.T, tr string, h web.Handler, cfg Config) *harness {
	t.Helper()
	if cfg.Request.Logger == nil {
		cfg.Request.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Unencrypted = tr == "h2c"
	x := &harness{t: t, tr: tr, srv: New(h, cfg), ended: make(chan struct{}, 64)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x.addr = l.Addr().String()
	var ln net.Listener = &countingListener{Listener: l, n: &x.read}
	if tr == "tls" {
		cert := testutil.SelfSigned(t)
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	}
	x.eng = &engine.Server{Logger: cfg.Request.Logger, Handler: handlerFunc(func(c *engine.Conn) {
		if err := c.HandshakeTLS(5 * time.Second); err != nil {
			c.NetConn.Close()
		} else {
			x.srv.ServeConn(c)
		}
		x.ended <- struct{}{}
	})}
	done := make(chan struct{})
	go func() { x.eng.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdown(ctx, x.eng, x.srv)
		<-done
	})
	return x
}

// shutdown is the server's: the engine and the HTTP/2 server at once.
func shutdown(ctx context.Context, eng *engine.Server, srv *Server) {
	errc := make(chan error, 1)
	go func() { errc <- srv.Shutdown(ctx) }()
	eng.Shutdown(ctx)
	<-errc
	srv.Close()
}

type handlerFunc func(c *engine.Conn)

func (f handlerFunc) ServeConn(c *engine.Conn) { f(c) }

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, n: l.n}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// waitEnded waits for one connection to be let go by the server.
func (x *harness) waitEnded(within time.Duration) bool {
	select {
	case <-x.ended:
		return true
	case <-time.After(within):
		return false
	}
}

// client is a raw HTTP/2 client: a Framer over a TCP (and TLS) connection
// whose frames a goroutine reads, so that the test writes what it likes.
type client struct {
	t      *testing.T
	nc     net.Conn
	fr     *http2.Framer
	wmu    sync.Mutex
	enc    *hpack.Encoder
	encBuf bytes.Buffer

	mu       sync.Mutex
	frames   []http2.Frame // copies of what the server sent (headers, settings, goaway, rst)
	goAway   *http2.GoAwayFrame
	settings []http2.Setting
	closed   chan struct{} // closed when reading fails: EOF, reset
	changed  chan struct{} // a frame arrived (buffered, one)
	nextID   uint32
	pings    atomic.Uint32
}

// dial opens a connection; rcvbuf > 0 makes the socket's receive buffer
// that small, so a peer that does not read fills it soon.
func (x *harness) dial(rcvbuf int) *client {
	x.t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	nc, err := d.Dial("tcp", x.addr)
	if err != nil {
		x.t.Fatal(err)
	}
	if x.tr == "tls" {
		tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
		if err := tc.Handshake(); err != nil {
			x.t.Fatal(err)
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			x.t.Fatalf("ALPN chose %q", p)
		}
		nc = tc
	}
	x.t.Cleanup(func() { nc.Close() })
	c := &client{t: x.t, nc: nc, closed: make(chan struct{}), changed: make(chan struct{}, 1), nextID: 1}
	c.fr = http2.NewFramer(nc, nc)
	c.fr.AllowIllegalWrites = true
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.encBuf)
	if _, err := io.WriteString(nc, Preface); err != nil {
		x.t.Fatal(err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		x.t.Fatal(err)
	}
	return c
}

// read reads frames until the connection fails, answering SETTINGS.
func (c *client) read() {
	defer close(c.closed)
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return
		}
		c.mu.Lock()
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				f.ForeachSetting(func(s http2.Setting) error { c.settings = append(c.settings, s); return nil })
				c.mu.Unlock()
				c.write(func() error { return c.fr.WriteSettingsAck() })
				c.mu.Lock()
			}
		case *http2.GoAwayFrame:
			g := *f
			c.goAway = &g
		}
		c.frames = append(c.frames, copyFrame(f))
		c.mu.Unlock()
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}
}

// copyFrame keeps what a test checks of a frame (the Framer reuses them).
func copyFrame(f http2.Frame) http2.Frame {
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		g := *f
		g.Fields = append([]hpack.HeaderField(nil), f.Fields...)
		return &g
	case *http2.RSTStreamFrame:
		g := *f
		return &g
	case *http2.PingFrame:
		g := *f
		return &g
	case *http2.DataFrame:
		return &dataFrame{id: f.StreamID, n: len(f.Data()), end: f.StreamEnded()}
	}
	return nil
}

type dataFrame struct {
	http2.Frame
	id  uint32
	n   int
	end bool
}

func (c *client) start() *client {
	go c.read()
	return c
}

func (c *client) write(f func() error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return f()
}

// headers encodes a request's header block.
func (c *client) headers(method, path string, extra ...string) []byte {
	c.encBuf.Reset()
	for _, kv := range [][2]string{{":method", method}, {":scheme", "https"}, {":authority", "localhost"}, {":path", path}} {
		c.enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	for i := 0; i+1 < len(extra); i += 2 {
		c.enc.WriteField(hpack.HeaderField{Name: extra[i], Value: extra[i+1]})
	}
	return append([]byte(nil), c.encBuf.Bytes()...)
}

// request opens a stream; endStream says it has no body.
func (c *client) request(method, path string, endStream bool) (uint32, error) {
	id := c.nextID
	c.nextID += 2
	block := c.headers(method, path)
	return id, c.write(func() error {
		return c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: endStream, EndHeaders: true})
	})
}

// waitFor waits until cond holds on what was read, or the connection
// closes, or within passes; it reports whether cond held.
func (c *client) waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.After(within)
	for {
		c.mu.Lock()
		ok := cond()
		c.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-c.changed:
		case <-c.closed:
			c.mu.Lock()
			ok := cond()
			c.mu.Unlock()
			return ok
		case <-deadline:
			return false
		}
	}
}

// response returns the status and body length of stream id once it ended.
func (c *client) response(id uint32) (status string, n int, done bool) {
	for _, f := range c.frames {
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == id {
				status = f.PseudoValue("status")
				if f.StreamEnded() {
					done = true
				}
			}
		case *dataFrame:
			if f.id == id {
				n += f.n
				done = done || f.end
			}
		}
	}
	return status, n, done
}

// sync sends a PING and waits for its ACK: the server has then processed
// every frame written before it.
func (c *client) sync() bool {
	data := [8]byte{'s', 'y', 'n', 'c'}
	data[7] = byte(c.pings.Add(1))
	if c.write(func() error { return c.fr.WritePing(false, data) }) != nil {
		return false
	}
	return c.waitFor(10*time.Second, func() bool {
		for _, f := range c.frames {
			if p, ok := f.(*http2.PingFrame); ok && p.IsAck() && p.Data == data {
				return true
			}
		}
		return false
	})
}

// resetOf reports whether the server reset stream id, and with which code
// (under c.mu).
func (c *client) resetOf(id uint32) (http2.ErrCode, bool) {
	for _, f := range c.frames {
		if r, ok := f.(*http2.RSTStreamFrame); ok && r.StreamID == id {
			return r.ErrCode, true
		}
	}
	return 0, false
}

func (c *client) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// concurrency is a handler that counts how many of it run at once and
// blocks until its stream ends; "/quick" answers at once.
type concurrency struct {
	cur, peak, total atomic.Int64
	zero             chan struct{} // a value when cur drops to 0
	once             sync.Once
}

func (cc *concurrency) zeroCh() chan struct{} {
	cc.once.Do(func() { cc.zero = make(chan struct{}, 1) })
	return cc.zero
}

// waitIdle waits until no handler runs, within d.
func (cc *concurrency) waitIdle(d time.Duration) bool {
	deadline := time.After(d)
	for cc.cur.Load() != 0 {
		select {
		case <-cc.zeroCh():
		case <-deadline:
			return false
		}
	}
	return true
}

func (cc *concurrency) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	if r.Path() == "/quick" {
		_, err := w.WriteString("quick")
		return err
	}
	n := cc.cur.Add(1)
	cc.total.Add(1)
	defer func() {
		if cc.cur.Add(-1) == 0 {
			select {
			case cc.zeroCh() <- struct{}{}:
			default:
			}
		}
	}()
	for {
		p := cc.peak.Load()
		if n <= p || cc.peak.CompareAndSwap(p, n) {
			break
		}
	}
	<-r.Context().Done()
	return r.Context().Err()
}
