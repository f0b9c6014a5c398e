//go:build !linux

package upstream

import (
	"net"
)

type unixAddr struct{ path string }

func newUnixAddr(path string) *unixAddr { return &unixAddr{path: path} }

// dialUnix connects to a Unix stream socket; a Unix connect does not wait for
// a peer, so the timeout only guards against a system that would.
func dialUnix(ua *unixAddr) (net.Conn, error) {
	return net.DialTimeout("unix", ua.path, DefaultDialTimeout)
}
