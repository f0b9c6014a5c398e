package http1

import (
	"syscall"
	"unsafe"
)

// sendMsgMore sends b with MSG_MORE: the kernel holds it to join the bytes
// that follow (the file's), as nginx's tcp_nopush does.
func sendMsgMore(fd int, b []byte) (int, error) {
	n, _, errno := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), syscall.MSG_MORE, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
