package epoll

import (
	"errors"
	"syscall"
)

// soReusePort is SO_REUSEPORT, which package syscall does not name.
const soReusePort = 0xf

// errNoReusePort is Serve's answer to ReusePort with a listener bound without
// SO_REUSEPORT: a second socket could not join its address.
var errNoReusePort = errors.New("the listener was bound without SO_REUSEPORT (set listen.Config.ReusePort)")

// reusePortSocket binds a new non-blocking listening socket to the address of
// orig, which must have SO_REUSEPORT set, with the same family and, for IPv6,
// the same IPV6_V6ONLY (a ":port" listener takes IPv4 too). The kernel then
// puts it in orig's SO_REUSEPORT group and hashes new connections over the
// group's sockets.
func reusePortSocket(orig int) (int, error) {
	if on, err := syscall.GetsockoptInt(orig, syscall.SOL_SOCKET, soReusePort); err != nil {
		return -1, err
	} else if on == 0 {
		return -1, errNoReusePort
	}
	sa, err := syscall.Getsockname(orig)
	if err != nil {
		return -1, err
	}
	family := syscall.AF_INET
	if _, ok := sa.(*syscall.SockaddrInet6); ok {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	fail := func(err error) (int, error) {
		syscall.Close(fd)
		return -1, err
	}
	// SO_REUSEADDR as Go sets it on its listeners: a restart can bind while
	// the last run's connections are in TIME_WAIT.
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return fail(err)
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soReusePort, 1); err != nil {
		return fail(err)
	}
	if family == syscall.AF_INET6 {
		v6only, err := syscall.GetsockoptInt(orig, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY)
		if err != nil {
			return fail(err)
		}
		if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, v6only); err != nil {
			return fail(err)
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		return fail(err)
	}
	// The kernel caps the backlog at net.core.somaxconn, which is what Go
	// asks for its own listeners.
	if err := syscall.Listen(fd, 65535); err != nil {
		return fail(err)
	}
	return fd, nil
}
