// Package listen opens listening sockets: TCP on IPv4 and IPv6, and Unix domain
// sockets whose file mode and owner decide who may connect.
//
// A Unix socket is bound under a temporary name, given its mode and owner, renamed
// into place, and only then set listening, so it never takes a connection with the
// wrong permissions (a bound socket that does not listen refuses every connect). A
// stale socket file (nothing listens on it) is replaced; a live one is an error, and
// a path that is not a socket is never deleted.
package listen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gatehouse/internal/sockaddr"
)

// DefaultUnixMode is the mode of a Unix socket when Config.Mode is zero: owner and
// group may connect, others may not.
const DefaultUnixMode os.FileMode = 0o660

// Config describes one listener.
type Config struct {
	// Addr is "host:port", ":port" (all addresses, IPv4 and IPv6), "[::1]:port",
	// or "unix:/path/to/socket".
	Addr string
	// Mode is the Unix socket's file mode. Default 0660. Ignored for TCP.
	Mode os.FileMode
	// Owner is the Unix socket's owner: "user", "user:group" or ":group", by name
	// or number. Empty keeps the process's own. Ignored for TCP.
	Owner string
	// ReusePort sets SO_REUSEPORT on a TCP listener, so several listeners (one
	// per event loop) can share the address.
	ReusePort bool
}

// Network returns "unix" or "tcp" and the address to pass to it
// (internal/sockaddr's rule, which config validates with).
func Network(addr string) (network, address string) { return sockaddr.Split(addr) }

// Listen opens the listener cfg describes.
func Listen(ctx context.Context, cfg Config) (net.Listener, error) {
	if err := sockaddr.CheckListen(cfg.Addr); err != nil {
		return nil, fmt.Errorf("listen %q: %w (want host:port, :port or unix:/path)", cfg.Addr, err)
	}
	network, address := Network(cfg.Addr)
	if network == "unix" {
		return listenUnix(address, cfg)
	}
	lc := net.ListenConfig{}
	if cfg.ReusePort {
		lc.Control = setReusePort
	}
	l, err := lc.Listen(ctx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	return l, nil
}

func setReusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// ErrInUse reports a Unix socket path another process is listening on.
var ErrInUse = errors.New("another process is listening on this socket")

// ErrNotSocket reports a path that exists and is not a socket; it is left alone.
var ErrNotSocket = errors.New("path exists and is not a socket; refusing to remove it")

func listenUnix(path string, cfg Config) (net.Listener, error) {
	path = filepath.Clean(path)
	uid, gid, err := parseOwner(cfg.Owner)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if err := clearStale(path); err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	mode := cfg.Mode
	if mode == 0 {
		mode = DefaultUnixMode
	}
	// The socket is bound under a temporary name and only listens once it has
	// its mode and owner and its final name: until listen(2), a connect to a
	// bound socket is refused (ECONNREFUSED), whoever tries. net.ListenUnix
	// binds and listens in one call, so the file would accept connections
	// with the mode the umask gave it until chmod, which is the window we
	// close here. The temporary name is inside a directory of its own that
	// only we may enter (0700): a connect checks the path's permissions when
	// it looks the name up, before it finds the socket listening, so a
	// client that looked up a world-writable temporary name just before the
	// chmod could still connect once listen(2) ran; nobody can look it up
	// here. rename(2) keeps the inode the socket is bound to.
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".gh")
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	defer os.Remove(tmpDir) // empty by then: the socket was renamed out, or removed
	tmp := filepath.Join(tmpDir, "s")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("listen %s: socket: %w", cfg.Addr, err)
	}
	bound := "" // the name to remove on failure
	fail := func(err error) (net.Listener, error) {
		syscall.Close(fd)
		if bound != "" {
			os.Remove(bound)
		}
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: tmp}); err != nil {
		return fail(&os.SyscallError{Syscall: "bind", Err: err})
	}
	bound = tmp
	if err := os.Chmod(tmp, mode.Perm()); err != nil {
		return fail(err)
	}
	if uid >= 0 || gid >= 0 {
		if err := os.Lchown(tmp, uid, gid); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	bound = path
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	if err := syscall.Listen(fd, listenBacklog); err != nil {
		return fail(&os.SyscallError{Syscall: "listen", Err: err})
	}
	f := os.NewFile(uintptr(fd), path)
	l, err := net.FileListener(f) // a duplicate of fd, in Go's poller
	f.Close()
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	ul := l.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // Close removes the final path, if it is still ours
	return &unixListener{UnixListener: ul, path: path, ino: inode(fi)}, nil
}

// listenBacklog is the backlog asked of listen(2); the kernel caps it at
// net.core.somaxconn, as it does Go's own listeners'.
const listenBacklog = 65535

// clearStale removes path if it is a socket nothing listens on.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s: %w", path, ErrNotSocket)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probe %s: %w", path, err)
	}
	return os.Remove(path)
}

// unixListener removes its socket file on Close, unless another process has
// replaced it meanwhile.
type unixListener struct {
	*net.UnixListener
	path string
	ino  uint64
}

// Addr reports the socket's final path, not the temporary name it was bound under.
func (l *unixListener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	if fi, serr := os.Lstat(l.path); serr == nil && inode(fi) == l.ino {
		os.Remove(l.path)
	}
	return err
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// parseOwner turns "user", "user:group" or ":group" into ids; -1 means unchanged.
func parseOwner(owner string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if owner == "" {
		return
	}
	u, g, hasGroup := strings.Cut(owner, ":")
	if u != "" {
		if uid, err = lookupID(u, true); err != nil {
			return
		}
	}
	if hasGroup && g != "" {
		if gid, err = lookupID(g, false); err != nil {
			return
		}
	}
	return
}

func lookupID(name string, isUser bool) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	if isUser {
		u, err := user.Lookup(name)
		if err != nil {
			return -1, fmt.Errorf("socket owner: %w", err)
		}
		return strconv.Atoi(u.Uid)
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, fmt.Errorf("socket group: %w", err)
	}
	return strconv.Atoi(g.Gid)
}
