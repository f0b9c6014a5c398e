// Package sockaddr reads the socket addresses of gatehouse's configuration,
// one rule for every place that takes one: "unix:/path" is a Unix stream
// socket, anything else is TCP "host:port". Listeners (listen) and the
// servers gatehouse connects to (upstream) are checked by the same functions
// that config validates them with, so an address the configuration accepts is
// one they can use.
package sockaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Why an address is unusable. Callers word them for their readers (config's
// messages name the key and a fix).
var (
	ErrNoPath      = errors.New("no socket path")
	ErrNotHostPort = errors.New("not host:port")
	ErrPort        = errors.New("port out of range")
)

// Split returns "unix" and the path of "unix:/path", else "tcp" and addr as
// it is.
func Split(addr string) (network, address string) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		return "unix", p
	}
	return "tcp", addr
}

// CheckListen reports why addr cannot be listened on, or nil: a Unix socket
// needs a path; a TCP address is host:port with a port from 0 (any free port)
// to 65535, and an empty host (":8000") listens on every address.
func CheckListen(addr string) error {
	network, rest := Split(addr)
	if network == "unix" {
		if rest == "" {
			return ErrNoPath
		}
		return nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return ErrNotHostPort
	}
	return checkPort(port, 0)
}

// CheckDial reports why addr cannot be connected to, or nil: a Unix socket
// needs a path; a TCP address is host:port with a host and a port from 1 to
// 65535 (port 0 names no server).
func CheckDial(addr string) error {
	network, rest := Split(addr)
	if network == "unix" {
		if rest == "" {
			return ErrNoPath
		}
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return ErrNotHostPort
	}
	return checkPort(port, 1)
}

// checkPort accepts a decimal port from min to 65535. Service names ("http")
// are refused: what a name means depends on the machine's /etc/services.
func checkPort(port string, min int) error {
	n, err := strconv.Atoi(port)
	if err != nil || n < min || n > 65535 {
		return ErrPort
	}
	return nil
}

// ParsePrefix reads an address range, "10.0.0.0/8" or "2001:db8::/32", or
// one address ("192.0.2.1", "::1"), which is its own range. A range with
// host bits set ("10.1.2.3/8") is refused: it is a typing mistake more
// often than not, and would trust more than it says.
func ParsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR range", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR range", s)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("%q has bits set past its prefix length: write %s", s, p.Masked())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 { // as peers' addresses are compared: unmapped
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}
