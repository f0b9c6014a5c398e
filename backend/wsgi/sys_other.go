//go:build !linux

package wsgi

import "syscall"

// Elsewhere than Linux: the same descriptors made in two steps (the fork lock
// of package syscall keeps them from leaking into a child meanwhile), the
// system's pipe size, and no parent-death signal (workers notice gatehouse is
// gone when their pipe closes).

func pipeCloexec(p *[2]int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err := syscall.Pipe(p[:]); err != nil {
		return err
	}
	syscall.CloseOnExec(p[0])
	syscall.CloseOnExec(p[1])
	return nil
}

func socketpairCloexec() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	sp, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(sp[0])
		syscall.CloseOnExec(sp[1])
	}
	return sp, err
}

func growPipe(fd, size int) {}

func workerProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// pipeCap reports a pipe's capacity: 16 KiB, the BSDs' and macOS's base
// size (they grow a busy pipe to 64 KiB).
func pipeCap(int) int { return 16 << 10 }
