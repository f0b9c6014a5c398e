// Package rawio reads from a descriptor Go's netpoller owns without waiting,
// for the gateways that stream a backend's output: they send what has arrived
// and flush to the client only when nothing more is ready.
package rawio

import (
	"errors"
	"io"
	"syscall"
)

// ErrNotReady: nothing has arrived yet.
var ErrNotReady = errors.New("rawio: nothing ready")

// ReadNoWait reads what rc's descriptor holds, never waiting: ErrNotReady
// when it holds nothing, io.EOF at its end. An error of rc itself (a passed
// deadline, a closed descriptor) is returned as it is.
func ReadNoWait(rc syscall.RawConn, p []byte) (int, error) {
	var n int
	var rerr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), p)
			if rerr != syscall.EINTR {
				return true // never wait: EAGAIN is the answer
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case rerr == syscall.EAGAIN:
		return 0, ErrNotReady
	case rerr != nil:
		return 0, rerr
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}
