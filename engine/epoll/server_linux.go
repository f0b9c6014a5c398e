package epoll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gatehouse/engine"
)

// Supported reports whether this system has the epoll engine.
const Supported = true

// Server runs an engine.EventHandler on the connections of any number of
// listeners. Its zero fields mean their defaults.
type Server struct {
	Handler engine.EventHandler
	Logger  *slog.Logger // accept errors; nil means slog.Default()
	// MaxConns bounds concurrent connections; beyond it, new connections are
	// closed at once. 0 means unlimited.
	MaxConns int
	// Loops is the number of event loops. 0 means GOMAXPROCS.
	Loops int
	// MaxWorkers bounds the worker goroutines running handlers. 0 means
	// DefaultMaxWorkers.
	MaxWorkers int
	// OutputLimit is the output, in bytes, one connection may queue before its
	// writer waits and its loop stops reading it. 0 means DefaultOutputLimit.
	OutputLimit int
	// ReusePort gives each loop a listening socket of its own for a TCP
	// listener: Serve binds Loops-1 more sockets to the listener's address
	// with SO_REUSEPORT, and the kernel spreads new connections over them by
	// a hash of their addresses. The listener given to Serve must have
	// SO_REUSEPORT set before it was bound (listen.Config.ReusePort). false
	// (the default) shares the one socket between the loops, waking one loop
	// per burst of connections (EPOLLEXCLUSIVE). Unix listeners are always
	// shared: Linux does not spread them over SO_REUSEPORT sockets. See
	// docs/engines.md for the measured difference.
	ReusePort bool

	once        sync.Once
	initErr     error
	loops       []*loop
	pool        *pool[*conn]
	outputLimit int
	nconns      atomic.Int64
	draining    atomic.Bool
	mu          sync.Mutex
	listeners   map[*listener]struct{}
	connsDone   chan struct{}
	doneOnce    sync.Once
	stopped     chan struct{}
}

// listener is one listening address: one socket shared by every loop
// (EPOLLEXCLUSIVE wakes one of them per connection), or with ReusePort one
// socket per loop in the address's SO_REUSEPORT group.
type listener struct {
	// fds holds our duplicate of the listener's descriptor, then with
	// ReusePort the sockets bound for the other loops: loop i watches
	// fds[i], or fds[0] when there is only one.
	fds  []int
	l    net.Listener
	h    engine.EventHandler   // the protocol of the connections it accepts
	pp   *engine.ProxyProtocol // non-nil: each connection starts with a PROXY header
	unix bool
	refs sync.WaitGroup // loops that still watch it
	stop chan struct{}
}

func (ln *listener) removed() { ln.refs.Done() }

// fd returns the socket loop l accepts from.
func (ln *listener) fd(l *loop) int {
	if len(ln.fds) == 1 {
		return ln.fds[0]
	}
	return ln.fds[l.id]
}

// events is what a loop watches the listener's socket for: with one socket for
// all loops, EPOLLEXCLUSIVE wakes one of them rather than all.
func (ln *listener) events() uint32 {
	if len(ln.fds) == 1 {
		return syscall.EPOLLIN | epollExclusive
	}
	return syscall.EPOLLIN
}

func (ln *listener) closeFDs() {
	for _, fd := range ln.fds {
		syscall.Close(fd)
	}
}

// Supports reports whether l can run on the epoll engine: a TCP or Unix stream
// listener with a descriptor (wrappers that keep SyscallConn qualify; TLS
// listeners do not).
func Supports(l net.Listener) bool {
	if _, ok := l.(syscall.Conn); !ok {
		return false
	}
	switch l.Addr().Network() {
	case "tcp", "tcp4", "tcp6", "unix":
		return true
	}
	return false
}

func (s *Server) init() error {
	s.once.Do(func() {
		s.listeners = make(map[*listener]struct{})
		s.connsDone = make(chan struct{})
		s.stopped = make(chan struct{})
		s.outputLimit = s.OutputLimit
		if s.outputLimit <= 0 {
			s.outputLimit = DefaultOutputLimit
		}
		max := s.MaxWorkers
		if max <= 0 {
			max = DefaultMaxWorkers
		}
		s.pool = newPool(max, workerIdle, s.serve)
		n := s.Loops
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		for i := range n {
			l, err := newLoop(s, i)
			if err != nil {
				s.initErr = err
				for _, l := range s.loops {
					l.file.Close()
					syscall.Close(l.efd)
				}
				s.loops = nil
				close(s.stopped)
				return
			}
			s.loops = append(s.loops, l)
		}
		for _, l := range s.loops {
			go l.run()
		}
	})
	return s.initErr
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Serve accepts connections on l until the server shuts down, and returns
// ErrServerClosed then (engine.ErrServerClosed). l must be a TCP or Unix
// listener; the server closes it.
func (s *Server) Serve(l net.Listener) error { return s.ServeHandler(l, s.Handler) }

// ServeHandler is Serve with a handler of l's own for the connections it
// accepts, instead of s.Handler: one engine, its loops and its workers, for
// listeners that speak different protocols or serve different sites.
func (s *Server) ServeHandler(l net.Listener, h engine.EventHandler) error {
	return s.ServeProxied(l, h, nil)
}

// ServeProxied is ServeHandler for a listener whose connections each start
// with a PROXY protocol header (pp; nil: none): the loop reads it before
// the protocol sees the connection (see engine.ProxyProtocol).
func (s *Server) ServeProxied(l net.Listener, h engine.EventHandler, pp *engine.ProxyProtocol) error {
	if h == nil {
		return errors.New("epoll: no handler")
	}
	if !Supports(l) {
		return ErrUnsupported
	}
	if err := s.init(); err != nil {
		return err
	}
	fd := -1
	rc, err := l.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	var derr error
	if err := rc.Control(func(f uintptr) { fd, derr = dupCloexec(int(f)) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	syscall.SetNonblock(fd, true)
	ln := &listener{fds: []int{fd}, l: l, h: h, pp: pp, unix: l.Addr().Network() == "unix", stop: make(chan struct{})}
	if s.ReusePort && !ln.unix && len(s.loops) > 1 {
		for range len(s.loops) - 1 {
			nfd, err := reusePortSocket(fd)
			if err != nil {
				ln.closeFDs()
				l.Close()
				return fmt.Errorf("epoll: a listening socket per loop on %s: %w", l.Addr(), err)
			}
			ln.fds = append(ln.fds, nfd)
		}
	}
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		ln.closeFDs()
		l.Close()
		return engine.ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	ln.refs.Add(len(s.loops))
	for _, lp := range s.loops {
		lp := lp
		if !lp.command(func() { lp.addListener(ln) }) {
			ln.refs.Done()
		}
	}
	s.mu.Unlock()
	<-ln.stop
	return engine.ErrServerClosed
}

func (l *loop) addListener(ln *listener) {
	select {
	case <-ln.stop:
		ln.refs.Done()
		return
	default:
	}
	fd := ln.fd(l)
	ev := syscall.EpollEvent{Events: ln.events(), Fd: int32(fd)}
	if err := watchListener(l.epfd, fd, &ev); err != nil {
		l.srv.logger().Error("epoll: cannot watch listener", "err", err)
		ln.unwatched(l)
		ln.refs.Done()
		return
	}
	l.listeners = append(l.listeners, ln)
}

// watchListener adds a listening socket to a loop's epoll set; tests replace
// it to make it fail.
var watchListener = func(epfd, fd int, ev *syscall.EpollEvent) error {
	return syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, ev)
}

// unwatched handles a loop that cannot watch ln: with a socket of its own
// (ReusePort), the kernel would still hash connections onto it, to wait
// there with nobody accepting, so that socket stops listening (shutdown on a
// listening socket takes it out of the SO_REUSEPORT group) and the other
// loops' sockets take them all. A shared socket needs nothing: the other
// loops accept from it.
func (ln *listener) unwatched(l *loop) {
	if len(ln.fds) > 1 {
		syscall.Shutdown(ln.fds[l.id], syscall.SHUT_RD)
	}
}

func (l *loop) removeListener(ln *listener) {
	for i, x := range l.paused {
		if x == ln {
			l.paused = append(l.paused[:i], l.paused[i+1:]...)
			ln.refs.Done()
			return
		}
	}
	for i, x := range l.listeners {
		if x == ln {
			syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, ln.fd(l), nil)
			l.listeners = append(l.listeners[:i], l.listeners[i+1:]...)
			ln.refs.Done()
			return
		}
	}
}

// stopListeners takes every listener out of the loops, then closes it: every
// socket of it at once, after no loop watches any. Connections the kernel has
// queued on a socket but no loop has accepted are reset when it closes, as
// with any listener that closes; with ReusePort that is true of each loop's
// socket (unless net.ipv4.tcp_migrate_req moves them to a socket still open,
// which here is none for long).
func (s *Server) stopListeners() {
	s.mu.Lock()
	lns := make([]*listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, ln)
		delete(s.listeners, ln)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		for _, lp := range s.loops {
			lp := lp
			lp.command(func() { lp.removeListener(ln) }) // a stopped loop released it already
		}
		ln.refs.Wait()
		ln.closeFDs()
		ln.l.Close()
		close(ln.stop)
	}
}

// accept takes new connections from ln, a batch at a time.
func (l *loop) accept(ln *listener) {
	fd := ln.fd(l)
	for range 64 {
		nfd, sa, err := syscall.Accept4(fd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		switch {
		case err == syscall.EAGAIN:
			return
		case err == syscall.EINTR || err == syscall.ECONNABORTED:
			continue
		case err != nil:
			l.pauseAccept(ln, err)
			return
		}
		l.open(ln, nfd, sa)
	}
}

// pauseAccept stops watching ln for a while after an accept error such as
// EMFILE, instead of spinning on a listener that stays readable.
func (l *loop) pauseAccept(ln *listener, err error) {
	l.srv.logger().Warn("accept failed; retrying", "err", err, "delay", 100*time.Millisecond)
	for i, x := range l.listeners {
		if x == ln {
			syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, ln.fd(l), nil)
			l.listeners = append(l.listeners[:i], l.listeners[i+1:]...)
			l.paused = append(l.paused, ln)
			break
		}
	}
	time.AfterFunc(100*time.Millisecond, func() { l.command(func() { l.resumeAccept(ln) }) })
}

func (l *loop) resumeAccept(ln *listener) {
	for i, x := range l.paused {
		if x == ln {
			l.paused = append(l.paused[:i], l.paused[i+1:]...)
			fd := ln.fd(l)
			ev := syscall.EpollEvent{Events: ln.events(), Fd: int32(fd)}
			if err := watchListener(l.epfd, fd, &ev); err == nil {
				l.listeners = append(l.listeners, ln)
			} else {
				l.srv.logger().Error("epoll: cannot watch listener again", "err", err)
				ln.unwatched(l)
				ln.refs.Done()
			}
			return
		}
	}
}

func (l *loop) open(ln *listener, fd int, sa syscall.Sockaddr) {
	s := l.srv
	if s.MaxConns > 0 && s.nconns.Load() >= int64(s.MaxConns) {
		s.logger().Warn("connection limit reached; closing new connection", "max_conns", s.MaxConns)
		syscall.Close(fd)
		return
	}
	if s.draining.Load() {
		syscall.Close(fd)
		return
	}
	c := &conn{fd: fd, l: l, h: ln.h}
	c.tn.v = c
	if !ln.unix {
		c.remote = addrPort(sa)
		if la, err := syscall.Getsockname(fd); err == nil {
			c.local = addrPort(la)
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	}
	if ln.pp != nil {
		if !ln.pp.Allowed(c.remote) {
			s.logger().Warn("proxy protocol: connection refused", "remote", c.remote, "reason", engine.ErrUntrusted)
			syscall.Close(fd)
			return
		}
		c.pp = ln.pp
	}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: connEvents, Fd: int32(fd)}); err != nil {
		syscall.Close(fd)
		return
	}
	for fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*conn, max(len(l.conns), 64))...)
	}
	l.conns[fd] = c
	c.inTable = true
	s.nconns.Add(1)
	l.accepted.Add(1)
	if c.pp != nil {
		// The header first, within its timeout; the protocol opens the
		// connection once it is read (readProxy). Idle meanwhile: a
		// shutdown closes it, as a connection that has sent nothing.
		c.idle.Store(true)
		c.rdl.Store(time.Now().UnixNano() + int64(c.pp.Wait()))
		l.fileDeadline(c)
		l.readProxy(c)
		return
	}
	l.apply(c, c.h.OnOpen(c))
}

// readProxy reads a PROXY header that may have arrived. Once it is whole,
// the connection takes the client's addresses and the protocol opens it;
// a malformed header closes it, with a log line.
func (l *loop) readProxy(c *conn) {
	h, done, err := engine.PeekHeader(c.fd)
	if err != nil {
		l.srv.logger().Warn("proxy protocol: connection refused", "remote", c.remote, "reason", err)
		l.closeNow(c)
		return
	}
	if !done {
		return
	}
	c.pp = nil
	c.rdl.Store(0)
	c.idle.Store(false)
	if !h.Local {
		c.remote, c.local = h.Source, h.Dest
	}
	l.apply(c, c.h.OnOpen(c))
	if c.owner.Load() == ownLoop && !c.closeWant.Load() {
		l.service(c) // what followed the header may be here already
	}
}

func addrPort(sa syscall.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// serve runs on a worker: the protocol serves the connection, then the
// connection goes back to its loop (or closes).
func (s *Server) serve(c *conn) {
	h := c.h
	v := h.Serve(c)
	for {
		switch v {
		case engine.Dispatch:
			v = h.Serve(c)
			continue
		case engine.Detached:
			c.proto = nil
			s.connEnded(c)
			return
		case engine.Close:
			c.closeWant.Store(true)
			c.owner.Store(ownLoop)
			c.l.post(c, opClose)
			return
		}
		if c.isBroken() {
			v = engine.Close
			continue
		}
		// Wait or Idle: bytes that came while the worker held the connection
		// are read here, not left for an edge that already passed.
		wseq := c.wseq.Load()
		if c.queued() > 0 {
			c.flushQueue()
		}
		c.idle.Store(v == engine.Idle)
		if c.readable() && c.queued() <= s.outputLimit {
			if v = h.OnData(c); v == engine.Dispatch {
				v = h.Serve(c)
			}
			continue
		}
		c.mu.Lock()
		if c.readable() || c.wseq.Load() != wseq && len(c.out) > 0 {
			c.mu.Unlock()
			continue // an edge came meanwhile: look again
		}
		c.owner.Store(ownLoop)
		c.mu.Unlock()
		// Shutdown sets draining before it closes idle connections on the
		// loop; with the stores above first, either it sees this one idle
		// or this sees draining.
		if v == engine.Idle && s.draining.Load() || c.closeWant.Load() {
			c.l.post(c, opClose)
			return
		}
		if d := earliest(c.rdl.Load(), c.wdl.Load()); d != 0 {
			if at := c.wheelAt.Load(); at == 0 || at > d {
				c.l.post(c, opRefile)
			}
		}
		return
	}
}

func (s *Server) connEnded(c *conn) {
	c.mu.Lock()
	c.cancelLocked()
	c.mu.Unlock()
	if s.nconns.Add(-1) == 0 && s.draining.Load() {
		s.signalDone()
	}
}

func (s *Server) signalDone() {
	s.doneOnce.Do(func() {
		close(s.connsDone)
		go s.stop()
	})
}

// stop ends the loops and the worker pool once no connection is left.
func (s *Server) stop() {
	s.stopListeners()
	for _, l := range s.loops {
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		l.kick()
	}
	for _, l := range s.loops {
		<-l.done
	}
	s.pool.close()
	close(s.stopped)
}

// Shutdown stops accepting, closes idle connections and waits for active ones
// to finish. When ctx ends first, it closes every remaining connection and
// returns ctx.Err().
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.init(); err != nil {
		return err
	}
	s.draining.Store(true) // before the scans: see serve
	s.stopListeners()
	for _, l := range s.loops {
		l.command(l.closeIdle)
	}
	if s.nconns.Load() == 0 {
		s.signalDone()
	}
	select {
	case <-s.connsDone:
		<-s.stopped
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close stops accepting and closes every connection at once; a worker still
// running a handler sees its connection fail and its context canceled.
func (s *Server) Close() error {
	if err := s.init(); err != nil {
		return err
	}
	s.draining.Store(true)
	s.stopListeners()
	for _, l := range s.loops {
		l.command(l.closeAll)
	}
	if s.nconns.Load() == 0 {
		s.signalDone()
	}
	return nil
}

// Conns returns the number of open connections.
func (s *Server) Conns() int { return int(s.nconns.Load()) }

// Draining reports whether the server is shutting down.
func (s *Server) Draining() bool { return s.draining.Load() }

// Accepted returns how many connections each loop has accepted and kept, in
// loop order: how evenly the loops share the connections.
func (s *Server) Accepted() []int64 {
	if s.init() != nil {
		return nil
	}
	n := make([]int64, len(s.loops))
	for i, l := range s.loops {
		n[i] = l.accepted.Load()
	}
	return n
}

// Workers returns the number of worker goroutines (running or idle).
func (s *Server) Workers() int {
	if s.pool == nil {
		return 0
	}
	return s.pool.workers()
}
