//go:build !linux

package http1

import "syscall"

// sendMsgMore sends b; without MSG_MORE here, the head goes in a packet of its own.
func sendMsgMore(fd int, b []byte) (int, error) {
	return syscall.Write(fd, b)
}
