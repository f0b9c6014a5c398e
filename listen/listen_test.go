package listen

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func roundTrip(t *testing.T, l net.Listener, network, addr string) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_, err = io.WriteString(c, "hi")
		done <- err
	}()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil || string(b) != "hi" {
		t.Fatalf("%q %v", b, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTCPListeners(t *testing.T) {
	ctx := context.Background()
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			l, err := Listen(ctx, Config{Addr: addr})
			if err != nil {
				if addr == "[::1]:0" && errors.Is(err, syscall.EADDRNOTAVAIL) {
					t.Skip("no IPv6 loopback on this machine")
				}
				t.Fatal(err)
			}
			defer l.Close()
			roundTrip(t, l, "tcp", l.Addr().String())
		})
	}
	// Several listeners at once, two on the same port with SO_REUSEPORT.
	a, err := Listen(ctx, Config{Addr: "127.0.0.1:0", ReusePort: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Listen(ctx, Config{Addr: a.Addr().String(), ReusePort: true})
	if err != nil {
		t.Fatalf("second SO_REUSEPORT listener: %v", err)
	}
	b.Close()
	if _, err := Listen(ctx, Config{Addr: a.Addr().String()}); err == nil {
		t.Fatal("a second listener without SO_REUSEPORT must fail")
	}
	for _, bad := range []string{"8080", "localhost", "unix:", ":65536", "127.0.0.1:"} {
		if l, err := Listen(ctx, Config{Addr: bad}); err == nil {
			l.Close()
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestUnixModeAndOwner(t *testing.T) {
	dir := t.TempDir()
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		mode  os.FileMode
		owner string
		want  os.FileMode
	}{
		{"default mode", 0, "", DefaultUnixMode},
		{"0600", 0o600, "", 0o600},
		{"0666 and own uid:gid", 0o666, me.Uid + ":" + me.Gid, 0o666},
		{"own user by name", 0o640, me.Username, 0o640},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "s"+strconv.Itoa(i)+".sock")
			l, err := Listen(context.Background(), Config{Addr: "unix:" + path, Mode: tc.mode, Owner: tc.owner})
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != tc.want {
				t.Fatalf("mode %v, want socket %v", fi.Mode(), tc.want)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if strconv.Itoa(int(st.Uid)) != me.Uid {
				t.Fatalf("owner %d, want %s", st.Uid, me.Uid)
			}
			if got := l.Addr().String(); got != path {
				t.Fatalf("Addr %q, want %q", got, path)
			}
			roundTrip(t, l, "unix", path)
			l.Close()
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("socket file left after Close: %v", err)
			}
		})
	}
	if os.Geteuid() == 0 {
		// As root, the owner can be somebody else: connecting is then up to mode.
		path := filepath.Join(dir, "nobody.sock")
		l, err := Listen(context.Background(), Config{Addr: "unix:" + path, Owner: "nobody:nogroup"})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		fi, _ := os.Lstat(path)
		nobody, _ := user.Lookup("nobody")
		if st := fi.Sys().(*syscall.Stat_t); strconv.Itoa(int(st.Uid)) != nobody.Uid {
			t.Fatalf("owner %d, want nobody (%s)", st.Uid, nobody.Uid)
		}
	}
	if _, err := Listen(context.Background(), Config{Addr: "unix:" + filepath.Join(dir, "x.sock"), Owner: "no-such-user-here"}); err == nil {
		t.Fatal("unknown owner accepted")
	}
}

func TestUnixStaleAndLive(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "g.sock")

	// A stale socket: bound, then its process went away without unlinking.
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	l, err := Listen(context.Background(), Config{Addr: "unix:" + path})
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	roundTrip(t, l, "unix", path)

	// A live socket is not taken over.
	if l2, err := Listen(context.Background(), Config{Addr: "unix:" + path}); !errors.Is(err, ErrInUse) {
		if l2 != nil {
			l2.Close()
		}
		t.Fatalf("live socket: %v, want ErrInUse", err)
	}
	// The probe that found it live connected once; accept and drop that.
	if c, err := l.Accept(); err == nil {
		c.Close()
	}
	roundTrip(t, l, "unix", path) // and still works
	l.Close()

	// A regular file is never deleted.
	file := filepath.Join(dir, "precious")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(context.Background(), Config{Addr: "unix:" + file}); !errors.Is(err, ErrNotSocket) {
		t.Fatalf("regular file: %v, want ErrNotSocket", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "data" {
		t.Fatalf("file damaged: %q %v", b, err)
	}
	// Nor is a directory.
	if _, err := Listen(context.Background(), Config{Addr: "unix:" + dir}); !errors.Is(err, ErrNotSocket) {
		t.Fatalf("directory: %v", err)
	}
	// No temporary names are left behind.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".tmp" || strings.HasPrefix(e.Name(), ".gh") {
			t.Fatalf("temporary socket or directory left: %s", e.Name())
		}
	}
}

func TestCloseKeepsSuccessorsSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.sock")
	l1, err := Listen(context.Background(), Config{Addr: "unix:" + path})
	if err != nil {
		t.Fatal(err)
	}
	// Another instance replaces the file (as after a restart racing the old one).
	os.Remove(path)
	l2, err := Listen(context.Background(), Config{Addr: "unix:" + path})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	l1.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("closing the old listener removed the new socket: %v", err)
	}
	roundTrip(t, l2, "unix", path)
}
