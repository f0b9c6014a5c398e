// Package rawio reads and writes non-blocking descriptors with raw system
// calls. ReadNoWait reads from a descriptor Go's netpoller owns without
// waiting, for the gateways that stream a backend's output: they send what
// has arrived and flush to the client only when nothing more is ready. Read,
// Write and Peek are the calls themselves, for code that waits on the poller
// only after one of them said EAGAIN.
//
// The calls go without telling the scheduler (syscall.RawSyscall): on a
// non-blocking descriptor they never wait, so there is nothing to hand the P
// off for, and no entersyscall, which would wake the runtime's sysmon thread
// from its sleep whenever the process had been idle. Woken, sysmon polls every
// 20 µs for a millisecond or more: on a busy proxy that goes idle between
// bursts (waiting for its upstream), a context switch every few requests on
// the CPU the work needs.
//
// So every descriptor given to them must be non-blocking (SOCK_NONBLOCK
// sockets, os.Pipe's ends): a blocking one would hold a scheduler slot and
// stall garbage collection for as long as it waited. Being raw, the calls
// are also unseen by the race detector's accounting of the buffers they
// fill.
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
		n, rerr = Read(int(fd), p)
		return true // never wait: EAGAIN is the answer
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
