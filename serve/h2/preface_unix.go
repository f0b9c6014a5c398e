//go:build unix

package h2

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// SniffSupported reports whether Sniff works on this system.
const SniffSupported = true

var peekBufs sync.Pool

func sniff(c net.Conn, size int) (Sniffed, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, ErrNoSniff
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, ErrNoSniff
	}
	bp, _ := peekBufs.Get().(*[]byte)
	if bp == nil || cap(*bp) < size {
		b := make([]byte, size)
		bp = &b
	}
	defer peekBufs.Put(bp)
	buf := (*bp)[:size]
	var got Sniffed
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, _, err := syscall.Recvfrom(int(fd), buf, syscall.MSG_PEEK)
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
			// Undecided: wait for more. Peeked bytes stay in the socket, so
			// the poller (edge triggered) wakes again only when more arrive,
			// or at the read deadline.
			got = classify(buf[:n], n == len(buf))
			if got == SniffedNeither {
				// Read what was looked at: a socket closed with bytes
				// unread resets the connection (RST) instead of ending it.
				syscall.Read(int(fd), buf[:n])
			}
			return got != 0
		}
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return 0, err
	}
	return got, nil
}
