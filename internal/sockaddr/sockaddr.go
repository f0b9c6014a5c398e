// Package sockaddr reads the socket addresses of gatehouse's configuration,
// one rule for every place that takes one: "unix:/path" is a Unix stream
// socket, anything else is TCP "host:port". Listeners (listen) and the
// servers gatehouse connects to (upstream) are checked by the same functions
// that config validates them with, so an address the configuration accepts is
// one they can use.
package sockaddr

import (
	"errors"
	"net"
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
