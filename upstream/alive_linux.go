package upstream

import (
	"net"
	"syscall"
	"time"
)

// alive reports whether an idle connection can carry a new request: its peer
// has not closed it (recv returns 0) and has sent nothing unasked (bytes
// waiting mean the stream is out of step). One non-blocking peek, as nginx's
// keepalive module watches idle connections for the same two events.
func alive(c net.Conn) bool {
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
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// EAGAIN: nothing to read and not closed. No error: a byte or EOF.
		ok = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // never wait for readiness
	})
	return err == nil && ok
}
