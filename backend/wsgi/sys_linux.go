package wsgi

import "syscall"

// pipeCloexec makes a pipe whose ends close on exec.
func pipeCloexec(p *[2]int) error { return syscall.Pipe2(p[:], syscall.O_CLOEXEC) }

// socketpairCloexec makes a connected pair of Unix stream sockets that close
// on exec.
func socketpairCloexec() ([2]int, error) {
	return syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
}

// growPipe asks for a larger pipe buffer (best effort: the system's
// pipe-max-size may be lower).
func growPipe(fd, size int) {
	syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(syscall.F_SETPIPE_SZ), uintptr(size))
}

// pipeCap reports a pipe's capacity in bytes: 64 KiB by default, but as
// little as 4 KiB for a user past the system's pipe-user-pages-soft.
func pipeCap(fd int) int {
	n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), uintptr(syscall.F_GETPIPE_SZ), 0)
	if errno != 0 {
		return 4096
	}
	return int(n)
}

// workerProcAttr puts a worker in its own process group and has the kernel
// kill it if gatehouse dies.
func workerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
