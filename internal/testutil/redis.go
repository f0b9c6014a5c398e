package testutil

import (
	"net"
	"testing"
)

// StartRedis runs Debian's redis-server on a free 127.0.0.1 port, with no
// persistence and its files in a fresh directory, and returns its address
// once it accepts; the test's end stops it.
func StartRedis(t testing.TB) string {
	t.Helper()
	addr, _ := StartRedisProc(t)
	return addr
}

// StartRedisProc is StartRedis, with the process, for a test that stops it.
func StartRedisProc(t testing.TB) (string, *Proc) {
	t.Helper()
	dir := ShortTempDir(t)
	addr := FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p := Start(t, nil, "redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "yes", "--loglevel", "warning")
	p.WaitDial(t, addr)
	return addr, p
}
