package upstream

import (
	"net"
	"syscall"
	"time"

	"gatehouse/internal/rawio"
)

// alive reports whether an idle connection can carry a new request: its peer
// has not closed it (recv returns 0) and has sent nothing unasked (bytes
// waiting mean the stream is out of step). One non-blocking peek, as nginx's
// keepalive module watches idle connections for the same two events.
func alive(c net.Conn) bool {
	if uc, ok := c.(*unixConn); ok {
		return uc.alive()
	}
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		// TLS: the socket under it. A close_notify the server sent while
		// the connection sat idle is bytes waiting: not alive, rightly.
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	// RawConn.Read fails at once past the read deadline, and the last
	// exchange's may have passed while the connection sat idle.
	c.SetReadDeadline(time.Time{})
	ok = false
	err = rc.Read(func(fd uintptr) bool {
		ok = peekQuiet(fd)
		return true // never wait for readiness
	})
	return err == nil && ok
}

// peekQuiet reports a socket with nothing to read and not closed: EAGAIN.
func peekQuiet(fd uintptr) bool {
	_, err := rawio.Peek(int(fd))
	return err == syscall.EAGAIN
}

// alive is the idle check of a Unix connection, on its descriptor directly:
// the pool hands it out to one caller, so nothing else uses it meanwhile, and
// neither the poller's read lock nor its deadline is needed.
// A connection that passes starts its new use with no read deadline, as one
// checked through SyscallConn does: the last exchange's must not cut the next
// short.
func (c *unixConn) alive() bool {
	c.mu.Lock()
	ok := !c.closed && peekQuiet(uintptr(c.fd))
	c.mu.Unlock()
	if ok {
		c.SetReadDeadline(time.Time{})
	}
	return ok
}
