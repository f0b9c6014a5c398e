//go:build !linux

package upstream

import (
	"net"
	"time"
)

// dialUnix connects to a Unix stream socket; a Unix connect does not wait for
// a peer, so the timeout only guards against a system that would.
func dialUnix(path string) (net.Conn, error) {
	return net.DialTimeout("unix", path, DefaultDialTimeout)
}
