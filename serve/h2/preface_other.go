//go:build !unix

package h2

import "net"

// SniffSupported reports whether Sniff works on this system.
const SniffSupported = false

func sniff(net.Conn, int) (Sniffed, error) { return 0, ErrNoSniff }
