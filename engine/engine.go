// Package engine runs connections: the goroutine-per-connection engine, used for TLS
// and wherever the epoll engine is not. It accepts, tracks every connection's
// state (active or idle) and shuts down gracefully: stop accepting, let active
// connections finish, close idle ones, and force-close what is left when the grace
// period ends. It knows nothing about HTTP.
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("engine: server closed")

// Handler serves one connection until it returns. It owns the connection and
// closes it (or hands it on, after an upgrade) before returning.
type Handler interface {
	ServeConn(c *Conn)
}

// Server accepts connections on any number of listeners and runs a Handler on
// each, one goroutine per connection.
type Server struct {
	Handler Handler
	Logger  *slog.Logger // accept errors; nil means slog.Default()
	// MaxConns bounds concurrent connections; beyond it, new connections are
	// closed at once. 0 means unlimited.
	MaxConns int

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	nconns    atomic.Int64
	draining  atomic.Bool
	connsDone chan struct{} // closed when draining and the last connection ends
	baseCtx   context.Context
	cancel    context.CancelFunc
	once      sync.Once
}

func (s *Server) init() {
	s.once.Do(func() {
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[*Conn]struct{})
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
		s.connsDone = make(chan struct{})
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Serve accepts connections on l until l fails or the server shuts down. It always
// returns a non-nil error; after Shutdown or Close, ErrServerClosed.
func (s *Server) Serve(l net.Listener) error { return s.ServeHandler(l, s.Handler) }

// ServeHandler is Serve with a handler of l's own for the connections it
// accepts, instead of s.Handler: one engine for listeners that speak
// different protocols or serve different sites.
func (s *Server) ServeHandler(l net.Listener, h Handler) error {
	if h == nil {
		return errors.New("engine: no handler")
	}
	s.init()
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.draining.Load() {
				return ErrServerClosed
			}
			if temporary(err) {
				// Out of file descriptors and the like: back off and retry, as
				// net/http does, instead of spinning or giving up.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		c := s.track(nc)
		if c == nil {
			nc.Close()
			continue
		}
		go s.run(c, h)
	}
}

func temporary(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED)
}

func (s *Server) track(nc net.Conn) *Conn {
	if s.MaxConns > 0 && s.nconns.Load() >= int64(s.MaxConns) {
		s.logger().Warn("connection limit reached; closing new connection", "max_conns", s.MaxConns)
		return nil
	}
	c := &Conn{NetConn: nc, srv: s}
	c.Remote, c.Local = addrPort(nc.RemoteAddr()), addrPort(nc.LocalAddr())
	c.ctx, c.cancel = context.WithCancel(s.baseCtx)
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		c.cancel()
		return nil
	}
	s.conns[c] = struct{}{}
	s.nconns.Add(1)
	s.mu.Unlock()
	return c
}

func (s *Server) run(c *Conn, h Handler) {
	defer func() {
		c.cancel()
		s.mu.Lock()
		delete(s.conns, c)
		last := len(s.conns) == 0
		s.mu.Unlock()
		s.nconns.Add(-1)
		if last && s.draining.Load() {
			s.signalDone()
		}
	}()
	h.ServeConn(c)
}

func (s *Server) signalDone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.connsDone:
	default:
		close(s.connsDone)
	}
}

// Shutdown stops accepting, closes idle connections and waits for active ones to
// finish (a connection that finishes a request while draining closes instead of
// going idle). When ctx ends first, it closes every remaining connection and
// returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.mu.Lock()
	s.draining.Store(true) // before the scans below: see Conn.SetIdle
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.closeIfIdle()
	}
	empty := len(s.conns) == 0
	s.mu.Unlock()
	if empty {
		s.signalDone()
	}
	select {
	case <-s.connsDone:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops accepting and closes every connection at once.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.draining.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.NetConn.Close()
	}
	empty := len(s.conns) == 0
	s.mu.Unlock()
	if empty {
		s.signalDone()
	}
	s.cancel()
	return nil
}

// Conns returns the number of open connections.
func (s *Server) Conns() int { return int(s.nconns.Load()) }

// Draining reports whether the server is shutting down.
func (s *Server) Draining() bool { return s.draining.Load() }

const (
	stateActive int32 = iota
	stateIdle
	stateClosed
)

// Conn is one accepted connection, with the state the engine needs for shutdown.
type Conn struct {
	NetConn net.Conn
	Remote  netip.AddrPort // zero for Unix sockets
	Local   netip.AddrPort // zero for Unix sockets
	// TLS is the connection's TLS state once HandshakeTLS has run; nil for
	// a plain connection.
	TLS *tls.ConnectionState

	srv    *Server
	state  atomic.Int32
	ctx    context.Context
	cancel context.CancelFunc

	// The watch (WatchPeer): its goroutine's result, handed over on watchDone.
	watching  bool
	watchDone chan struct{}
	watchByte [1]byte
	watchN    int
	watchErr  error
}

// Context is canceled when the connection ends or the server is force-closed.
func (c *Conn) Context() context.Context { return c.ctx }

// WatchPeer watches for the peer closing the connection while a handler
// waits on something else: this engine reads only when the protocol asks, so
// without it a client that leaves goes unseen until the response is written.
// A goroutine reads one byte with no deadline; EOF or a reset cancels the
// connection's context (a half-close counts, as for nginx). The protocol calls
// it only with nothing of the peer's left unread that it must see first (the
// request body read to its end), from the goroutine serving the connection,
// and ends it with StopWatch before it reads or hands over the connection.
func (c *Conn) WatchPeer() {
	if c.watching {
		return
	}
	if c.watchDone == nil {
		c.watchDone = make(chan struct{}, 1)
	}
	c.watching = true
	c.NetConn.SetReadDeadline(time.Time{})
	go func() {
		c.watchN, c.watchErr = c.NetConn.Read(c.watchByte[:])
		if c.watchN == 0 && !errors.Is(c.watchErr, os.ErrDeadlineExceeded) {
			c.cancel()
		}
		c.watchDone <- struct{}{}
	}()
}

// Watching reports whether WatchPeer's watch runs.
func (c *Conn) Watching() bool { return c.watching }

// StopWatch ends WatchPeer's watch and waits for its goroutine. It returns
// the byte the watch read, if it read one (the start of a pipelined request,
// which the caller must parse first), and whether the peer is gone (the
// context is then canceled). The read deadline is left in the past: set a new
// one before reading. Without a watch it returns zeros.
func (c *Conn) StopWatch() (b byte, got, gone bool) {
	if !c.watching {
		return 0, false, false
	}
	c.NetConn.SetReadDeadline(time.Unix(1, 0))
	<-c.watchDone
	c.watching = false
	got = c.watchN > 0
	gone = !got && !errors.Is(c.watchErr, os.ErrDeadlineExceeded)
	c.watchN, c.watchErr = 0, nil
	return c.watchByte[0], got, gone
}

// SetIdle marks the connection idle: between requests, with nothing buffered. It
// returns false when the server is draining: the caller closes the connection
// instead of waiting for another request.
func (c *Conn) SetIdle() bool {
	c.state.Store(stateIdle)
	// Shutdown sets draining before it scans for idle connections, and this
	// store comes before the load below; with sequentially consistent atomics
	// either the scan sees this connection idle or this load sees draining.
	return !c.srv.draining.Load()
}

// SetActive marks the connection active again once bytes of a new request have
// arrived. It returns false if the server closed the connection while it was idle.
func (c *Conn) SetActive() bool {
	return c.state.CompareAndSwap(stateIdle, stateActive)
}

// Draining reports whether the server is shutting down; a connection finishing a
// request should then say "Connection: close" and close.
func (c *Conn) Draining() bool { return c.srv.draining.Load() }

func (c *Conn) closeIfIdle() {
	if c.state.CompareAndSwap(stateIdle, stateClosed) {
		c.NetConn.Close()
	}
}

func addrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case interface{ AddrPort() netip.AddrPort }:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}
