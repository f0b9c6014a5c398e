//go:build unix

package h2

import (
	"io"
	"net"
	"syscall"
)

// SniffSupported reports whether SniffPreface works on this system.
const SniffSupported = true

func sniff(c net.Conn) (bool, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, ErrNoSniff
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, ErrNoSniff
	}
	var buf [len(Preface)]byte
	var whole bool
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return false // wait for bytes
			case err != nil:
				perr = err
				return true
			case n == 0:
				perr = io.EOF
				return true
			}
			var prefix bool
			whole, prefix = matchPreface(buf[:n])
			// Wait for more only while the bytes could still be the
			// preface. Peeked bytes stay in the socket, so the poller (edge
			// triggered) wakes again only when more arrive, or at the read
			// deadline.
			return whole || !prefix
		}
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return false, err
	}
	return whole, nil
}
