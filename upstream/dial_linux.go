package upstream

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gatehouse/internal/rawio"
)

// dialUnix connects to a Unix stream socket with two system calls, socket
// and connect, without net.Dialer's machinery (no context, no timer, no
// getsockname or getpeername). A Unix connect never waits: it succeeds or
// fails at once (EAGAIN when the listener's backlog is full, ECONNREFUSED
// when nobody listens), so DialTimeout has nothing to bound.
func dialUnix(ua *unixAddr) (net.Conn, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	raddr := ua.net
	for {
		err = syscall.Connect(fd, ua.sa)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "unix", Addr: raddr, Err: os.NewSyscallError("connect", err)}
	}
	return &unixConn{fd: fd, raddr: raddr}, nil
}

// unixAddr is a Unix socket's address in the two forms a dial needs, made
// once per configured address.
type unixAddr struct {
	net *net.UnixAddr
	sa  *syscall.SockaddrUnix
}

func newUnixAddr(path string) *unixAddr {
	return &unixAddr{net: &net.UnixAddr{Name: path, Net: "unix"}, sa: &syscall.SockaddrUnix{Name: path}}
}

// unixConn is a connected Unix socket that joins Go's poller only when it
// must wait. A request to php-fpm or uWSGI usually fits the socket buffer,
// and on a busy machine the answer has sometimes arrived by the time it is
// read (the application ran while this thread was preempted; about one
// request in five behind uWSGI on one CPU), so those connections live and die
// without the fcntl and the two epoll_ctl calls a pollable file costs. The
// first read or write that would block turns it into an *os.File on the
// poller, with the deadlines set so far; from then on every call waits there.
// Reads and writes are raw system calls in both states (internal/rawio): an
// upstream connection is read and written once or twice per request, and
// through os.File each call would wake the runtime's sysmon.
type unixConn struct {
	fd    int
	raddr *net.UnixAddr
	f     atomic.Pointer[os.File] // set once, by the first operation that must wait
	rc    syscall.RawConn         // f's; set before f is stored
	rd    pollCall                // the read on the poller
	wr    pollCall                // the write on the poller

	mu     sync.Mutex // guards the fields below, and fd before f is set
	closed bool
	rdl    time.Time // deadlines kept until f exists
	wdl    time.Time
}

// pollCall is one direction's call through the RawConn: its callback is made
// once, with the connection's promotion, so that a call allocates nothing.
// mu orders callers (net.Conn allows concurrent ones).
type pollCall struct {
	mu  sync.Mutex
	fn  func(fd uintptr) bool
	p   []byte
	n   int
	err error
}

var errNetClosing = net.ErrClosed

func (c *unixConn) Read(p []byte) (int, error) {
	if c.f.Load() != nil {
		return c.pollRead(p)
	}
	c.mu.Lock()
	if f := c.f.Load(); f != nil || c.closed {
		c.mu.Unlock()
		if f == nil {
			return 0, c.opError("read", errNetClosing)
		}
		return c.pollRead(p)
	}
	if expired(c.rdl) {
		c.mu.Unlock()
		return 0, c.opError("read", os.ErrDeadlineExceeded)
	}
	n, err := rawio.Read(c.fd, p)
	if err == syscall.EAGAIN {
		c.promote()
		c.mu.Unlock()
		return c.pollRead(p)
	}
	c.mu.Unlock()
	switch {
	case err != nil:
		return 0, c.opError("read", os.NewSyscallError("read", err))
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// pollRead reads on the poller: at once when bytes wait, else once they
// come, or the deadline passes.
func (c *unixConn) pollRead(p []byte) (int, error) {
	r := &c.rd
	r.mu.Lock()
	r.p, r.n, r.err = p, 0, nil
	err := c.rc.Read(r.fn)
	n, rerr := r.n, r.err
	r.p = nil
	r.mu.Unlock()
	switch {
	case err != nil:
		return 0, c.fileError("read", err)
	case rerr != nil:
		return 0, c.opError("read", os.NewSyscallError("read", rerr))
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// readFn is the read's RawConn callback: false (wait) on EAGAIN.
func (r *pollCall) readFn(fd uintptr) bool {
	r.n, r.err = rawio.Read(int(fd), r.p)
	return r.err != syscall.EAGAIN
}

// writeFn is the write's: it writes all of r.p, waiting when the socket is full.
func (r *pollCall) writeFn(fd uintptr) bool {
	for len(r.p) > 0 {
		n, err := rawio.Write(int(fd), r.p)
		r.n += n
		r.p = r.p[n:]
		switch {
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			r.err = err
			return true
		}
	}
	return true
}

func (c *unixConn) Write(p []byte) (int, error) {
	if c.f.Load() != nil {
		return c.pollWrite(p, 0)
	}
	c.mu.Lock()
	if f := c.f.Load(); f != nil || c.closed {
		c.mu.Unlock()
		if f == nil {
			return 0, c.opError("write", errNetClosing)
		}
		return c.pollWrite(p, 0)
	}
	if expired(c.wdl) {
		c.mu.Unlock()
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	done := 0
	for done < len(p) {
		n, err := rawio.Write(c.fd, p[done:])
		done += n
		switch {
		case err == syscall.EAGAIN:
			c.promote()
			c.mu.Unlock()
			return c.pollWrite(p[done:], done)
		case err != nil:
			c.mu.Unlock()
			return done, c.opError("write", os.NewSyscallError("write", err))
		}
	}
	c.mu.Unlock()
	return done, nil
}

// pollWrite writes p on the poller, waiting while the socket is full; done
// bytes of the caller's were written before.
func (c *unixConn) pollWrite(p []byte, done int) (int, error) {
	w := &c.wr
	w.mu.Lock()
	w.p, w.n, w.err = p, 0, nil
	err := c.rc.Write(w.fn)
	n, werr := w.n, w.err
	w.p = nil
	w.mu.Unlock()
	switch {
	case err != nil:
		return done + n, c.fileError("write", err)
	case werr != nil:
		return done + n, c.opError("write", os.NewSyscallError("write", werr))
	}
	return done + n, nil
}

// promote puts the socket on Go's poller, under c.mu.
func (c *unixConn) promote() *os.File {
	f := os.NewFile(uintptr(c.fd), c.raddr.Name) // non-blocking: a pollable file
	if !c.rdl.IsZero() {
		f.SetReadDeadline(c.rdl)
	}
	if !c.wdl.IsZero() {
		f.SetWriteDeadline(c.wdl)
	}
	c.rc, _ = f.SyscallConn() // fails only for a nil file
	c.rd.fn, c.wr.fn = c.rd.readFn, c.wr.writeFn
	c.f.Store(f)
	return f
}

// expired reports whether a deadline set by SetReadDeadline or
// SetWriteDeadline has passed. These are net.Conn deadlines: instants of the
// real clock, which Go's poller keeps once the socket is promoted, so they
// are read against time.Now, not a pool's clock.
func expired(t time.Time) bool { return !t.IsZero() && !time.Now().Before(t) }

// fileError gives an error of the poller's file the form a net.Conn's has: a
// *net.OpError, net.ErrClosed once closed.
func (c *unixConn) fileError(op string, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed || errors.Is(err, os.ErrClosed) {
			return c.opError(op, errNetClosing)
		}
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return c.opError(op, err)
}

func (c *unixConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "unix", Addr: c.raddr, Err: err}
}

// CloseWrite shuts the sending side down (a tunnel's half-close).
func (c *unixConn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("close", errNetClosing)
	}
	if err := syscall.Shutdown(c.fd, syscall.SHUT_WR); err != nil {
		return c.opError("close", os.NewSyscallError("shutdown", err))
	}
	return nil
}

func (c *unixConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opError("close", errNetClosing)
	}
	c.closed = true
	if f := c.f.Load(); f != nil {
		return f.Close()
	}
	return syscall.Close(c.fd)
}

func (c *unixConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.f.Load(); f != nil {
		return f.SetDeadline(t)
	}
	c.rdl, c.wdl = t, t
	return nil
}

func (c *unixConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.f.Load(); f != nil {
		return f.SetReadDeadline(t)
	}
	c.rdl = t
	return nil
}

func (c *unixConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.f.Load(); f != nil {
		return f.SetWriteDeadline(t)
	}
	c.wdl = t
	return nil
}

// SyscallConn puts the socket on the poller (callers of RawConn.Read may
// wait) and returns the file's.
func (c *unixConn) SyscallConn() (syscall.RawConn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, c.opError("raw-control", errNetClosing)
	}
	f := c.f.Load()
	if f == nil {
		f = c.promote()
	}
	c.mu.Unlock()
	return f.SyscallConn()
}

func (c *unixConn) LocalAddr() net.Addr  { return &net.UnixAddr{Net: "unix"} }
func (c *unixConn) RemoteAddr() net.Addr { return c.raddr }
