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
// poller, with the deadlines set so far; from then on every call goes there.
type unixConn struct {
	fd    int
	raddr *net.UnixAddr
	f     atomic.Pointer[os.File] // set once, by the first operation that must wait

	mu     sync.Mutex // guards the fields below, and fd before f is set
	closed bool
	rdl    time.Time // deadlines kept until f exists
	wdl    time.Time
}

var errNetClosing = net.ErrClosed

func (c *unixConn) Read(p []byte) (int, error) {
	if f := c.f.Load(); f != nil {
		n, err := f.Read(p)
		return n, c.fileError("read", err)
	}
	c.mu.Lock()
	if f := c.f.Load(); f != nil || c.closed {
		c.mu.Unlock()
		if f == nil {
			return 0, c.opError("read", errNetClosing)
		}
		n, err := f.Read(p)
		return n, c.fileError("read", err)
	}
	if expired(c.rdl) {
		c.mu.Unlock()
		return 0, c.opError("read", os.ErrDeadlineExceeded)
	}
	var n int
	var err error
	for {
		n, err = syscall.Read(c.fd, p)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EAGAIN {
		f := c.promote()
		c.mu.Unlock()
		n, err := f.Read(p)
		return n, c.fileError("read", err)
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

func (c *unixConn) Write(p []byte) (int, error) {
	if f := c.f.Load(); f != nil {
		n, err := f.Write(p)
		return n, c.fileError("write", err)
	}
	c.mu.Lock()
	if f := c.f.Load(); f != nil || c.closed {
		c.mu.Unlock()
		if f == nil {
			return 0, c.opError("write", errNetClosing)
		}
		n, err := f.Write(p)
		return n, c.fileError("write", err)
	}
	if expired(c.wdl) {
		c.mu.Unlock()
		return 0, c.opError("write", os.ErrDeadlineExceeded)
	}
	done := 0
	for done < len(p) {
		n, err := syscall.Write(c.fd, p[done:])
		if n > 0 {
			done += n
		}
		switch err {
		case nil, syscall.EINTR:
			continue
		case syscall.EAGAIN:
			f := c.promote()
			c.mu.Unlock()
			n, err := f.Write(p[done:])
			return done + n, c.fileError("write", err)
		}
		c.mu.Unlock()
		return done, c.opError("write", os.NewSyscallError("write", err))
	}
	c.mu.Unlock()
	return done, nil
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
	c.f.Store(f)
	return f
}

// expired reports whether a deadline set by SetReadDeadline or
// SetWriteDeadline has passed. These are net.Conn deadlines: instants of the
// real clock, which Go's poller keeps once the socket is promoted, so they
// are read against time.Now, not a pool's clock.
func expired(t time.Time) bool { return !t.IsZero() && !time.Now().Before(t) }

// fileError gives an error of the poller's file the form a net.Conn's has: a
// *net.OpError, net.ErrClosed once closed; io.EOF stays as it is.
func (c *unixConn) fileError(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if errors.Is(err, os.ErrClosed) {
		return c.opError(op, errNetClosing)
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
