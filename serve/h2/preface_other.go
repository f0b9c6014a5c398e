//go:build !unix

package h2

import "net"

// SniffSupported reports whether SniffPreface works on this system.
const SniffSupported = false

func sniff(net.Conn) (bool, error) { return false, ErrNoSniff }
