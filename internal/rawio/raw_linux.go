package rawio

import (
	"syscall"
	"unsafe"
)

// Read is read(2) on a non-blocking descriptor, retried on EINTR: 0 and nil
// at the end of the stream, syscall.EAGAIN when nothing is there.
func Read(fd int, p []byte) (int, error) { return rw(syscall.SYS_READ, fd, p) }

// Write is write(2) on a non-blocking descriptor, retried on EINTR: it may
// write part of p; syscall.EAGAIN when the socket takes nothing more.
func Write(fd int, p []byte) (int, error) { return rw(syscall.SYS_WRITE, fd, p) }

// rw is read(2) or write(2), as trap says, retried on EINTR.
func rw(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		switch e {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}

// Peek looks at a socket without taking anything or waiting (recv(2) with
// MSG_PEEK|MSG_DONTWAIT): n is 1 when a byte waits, 0 with a nil error at the
// end of the stream; syscall.EAGAIN when nothing is there.
func Peek(fd int) (n int, err error) {
	var b [1]byte
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}
