package http1

import (
	"io"
	"os"
	"syscall"
)

// sendFile writes the pending output, then count bytes of f from offset, with
// sendfile(2) at an explicit offset. The pending output (the response head) is
// sent with MSG_MORE, so the kernel joins it to the file's first bytes instead
// of sending a small packet of its own, as nginx's tcp_nopush does.
//
// The transfer goes in pieces of 4 MiB, each under a fresh write deadline:
// WriteTimeout bounds time without progress, not the whole transfer.
func (c *conn) sendFile(f *os.File, offset, count int64) error {
	w := &c.resp
	fd := int(f.Fd())
	if len(c.out) > 0 {
		c.setWriteDeadline(c.coarse(), c.cfg.WriteTimeout)
		c.sendOut = c.out
		err := c.rc.Write(c.sendMoreFn)
		c.resetOut()
		if err == nil {
			err = c.sfErr
		}
		if err != nil {
			c.writeFailed(err)
			return err
		}
	}
	const piece = 4 << 20
	c.sfFile, c.sfOff = fd, offset
	for left := count; left > 0; {
		c.sfLeft, c.sfN, c.sfErr = min(left, piece), 0, nil
		c.setWriteDeadline(c.coarse(), c.cfg.WriteTimeout)
		err := c.rc.Write(c.sendfileFn)
		left -= c.sfN
		w.written += c.sfN
		w.sent += c.sfN
		if err == nil {
			err = c.sfErr
		}
		if err != nil {
			c.writeFailed(err)
			return err
		}
	}
	return nil
}

// sendMore sends c.sendOut with MSG_MORE; called by RawConn.Write, it returns
// false to wait until the socket is writable.
func (c *conn) sendMore(fd uintptr) bool {
	for len(c.sendOut) > 0 {
		n, err := sendMsgMore(int(fd), c.sendOut)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			c.sfErr = err
			return true
		}
		c.sendOut = c.sendOut[n:]
	}
	c.sfErr = nil
	return true
}

// sendfile moves c.sfLeft bytes from c.sfFile at c.sfOff to the socket.
func (c *conn) sendfile(fd uintptr) bool {
	for c.sfLeft > 0 {
		n, err := syscall.Sendfile(int(fd), c.sfFile, &c.sfOff, int(c.sfLeft))
		if n > 0 {
			c.sfLeft -= int64(n)
			c.sfN += int64(n)
		}
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			c.sfErr = err
			return true
		case n == 0:
			c.sfErr = io.ErrUnexpectedEOF // the file is shorter than announced
			return true
		}
	}
	return true
}
