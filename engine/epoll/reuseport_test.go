//go:build linux

package epoll

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"gatehouse/engine"
	"gatehouse/listen"
)

// The accept modes: one socket shared by the loops, or one per loop.
var acceptModes = []struct {
	name      string
	reusePort bool
}{
	{"shared", false},
	{"reuseport", true},
}

// serveOn runs s on l until the test ends, then shuts it down.
func serveOn(t *testing.T, s *Server, l net.Listener) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != engine.ErrServerClosed {
			t.Errorf("serve: %v", err)
		}
	})
}

func listenTCP(t *testing.T, reusePort bool) net.Listener {
	t.Helper()
	l, err := listen.Listen(context.Background(), listen.Config{Addr: "127.0.0.1:0", ReusePort: reusePort})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// echo sends a line on c and checks that it comes back.
func echo(t *testing.T, c net.Conn, line string) {
	t.Helper()
	if _, err := c.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != line {
		t.Fatalf("echo: %q %v", got, err)
	}
}

// listening returns the sockets the loops of s accept from, once Serve has
// given them to the loops.
func listening(t *testing.T, s *Server) []int {
	t.Helper()
	s.init() // done by Serve as well; after it, s.listeners and s.loops are safe to read
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		for ln := range s.listeners {
			fds := ln.fds
			s.mu.Unlock()
			return fds
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("Serve did not register its listener")
		}
		time.Sleep(time.Millisecond)
	}
}

// acceptQueue is the number of connections waiting in a listening socket's
// accept queue (for a socket in LISTEN, TCP_INFO's unacked field).
func acceptQueue(t *testing.T, fd int) int {
	t.Helper()
	var info syscall.TCPInfo
	n := uint32(unsafe.Sizeof(info))
	_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO,
		uintptr(unsafe.Pointer(&info)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		t.Fatalf("TCP_INFO: %v", e)
	}
	return int(info.Unacked)
}

// Connections from many client ports land on every loop, in both modes, and
// each is served by the loop that accepted it.
func TestConnectionsReachEveryLoop(t *testing.T) {
	for _, m := range acceptModes {
		t.Run(m.name, func(t *testing.T) {
			s := &Server{Handler: &lineEcho{}, Loops: 2, ReusePort: m.reusePort}
			l := listenTCP(t, m.reusePort)
			addr := l.Addr().String()
			serveOn(t, s, l)
			want := 1
			if m.reusePort {
				want = 2
			}
			if fds := listening(t, s); len(fds) != want {
				t.Fatalf("%d listening sockets, want %d", len(fds), want)
			}
			// Eight clients at once, so that a loop is sometimes busy when the
			// next connection comes: with one connection at a time, the shared
			// socket wakes the same loop every time (see TestBusyLoopAccept).
			const clients, each = 8, 25
			const n = clients * each
			errc := make(chan error, clients)
			for range clients {
				go func() {
					for range each {
						c, err := net.Dial("tcp", addr)
						if err != nil {
							errc <- err
							return
						}
						defer c.Close()
						c.Write([]byte("hi\n"))
						c.SetReadDeadline(time.Now().Add(5 * time.Second))
						if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "hi\n" {
							errc <- fmt.Errorf("echo: %q %v", got, err)
							return
						}
					}
					errc <- nil
				}()
			}
			for range clients {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			got := s.Accepted()
			t.Logf("connections per loop: %v", got)
			if len(got) != 2 || got[0]+got[1] != n || got[0] == 0 || got[1] == 0 {
				t.Fatalf("loops accepted %v, want %d in all and some on each", got, n)
			}
		})
	}
}

// While loop 0 is busy, shared mode lets loop 1 accept every connection; with
// a socket per loop, the connections the kernel hashed to loop 0's socket wait
// in its queue until loop 0 is free.
func TestBusyLoopAccept(t *testing.T) {
	for _, m := range acceptModes {
		t.Run(m.name, func(t *testing.T) {
			s := &Server{Handler: &lineEcho{}, Loops: 2, ReusePort: m.reusePort}
			l := listenTCP(t, m.reusePort)
			addr := l.Addr().String()
			serveOn(t, s, l)
			fds := listening(t, s)
			busy, release := make(chan struct{}), make(chan struct{})
			loop0 := s.loops[0]
			loop0.command(func() { close(busy); <-release })
			<-busy
			const n = 64
			for range n {
				c, err := net.Dial("tcp", addr) // returns once the kernel has queued it
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			}
			// Every connection is accepted by loop 1 or waits in loop 0's queue.
			var queued int
			deadline := time.Now().Add(5 * time.Second)
			for {
				queued = acceptQueue(t, fds[0])
				if int(s.Accepted()[1])+queued == n && (m.reusePort || queued == 0) {
					break
				}
				if time.Now().After(deadline) {
					close(release)
					t.Fatalf("accepted %v, %d queued on loop 0's socket; want %d in all", s.Accepted(), queued, n)
				}
				time.Sleep(time.Millisecond)
			}
			t.Logf("loop 1 accepted %d, %d queued for loop 0", s.Accepted()[1], queued)
			if m.reusePort && queued == 0 {
				close(release)
				t.Fatalf("no connection waits for the busy loop's socket: its socket is not its own")
			}
			close(release)
			deadline = time.Now().Add(5 * time.Second)
			for s.Accepted()[0] != int64(queued) {
				if time.Now().After(deadline) {
					t.Fatalf("loop 0 accepted %d of its %d queued connections", s.Accepted()[0], queued)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// Shutdown closes every listening socket (a dial hashed to one left open would
// succeed), closes idle connections and waits for a running handler.
func TestShutdownClosesEverySocket(t *testing.T) {
	for _, m := range acceptModes {
		t.Run(m.name, func(t *testing.T) {
			h := &lineEcho{release: make(chan struct{}), entered: make(chan struct{}, 1)}
			s := &Server{Handler: h, Loops: 2, ReusePort: m.reusePort}
			l := listenTCP(t, m.reusePort)
			addr := l.Addr().String()
			done := make(chan error, 1)
			go func() { done <- s.Serve(l) }()
			var idle []net.Conn
			for range 20 {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				echo(t, c, "x\n")
				idle = append(idle, c)
			}
			blocked, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer blocked.Close()
			blocked.Write([]byte("block\n"))
			<-h.entered

			shut := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				shut <- s.Shutdown(ctx)
			}()
			for i, c := range idle {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
					t.Fatalf("idle connection %d: read %d, %v; want it closed", i, n, err)
				}
			}
			if err := <-done; err != engine.ErrServerClosed {
				t.Fatalf("serve: %v", err)
			}
			select {
			case err := <-shut:
				t.Fatalf("Shutdown returned (%v) with a handler running", err)
			default:
			}
			close(h.release)
			blocked.SetReadDeadline(time.Now().Add(5 * time.Second))
			if line, err := bufio.NewReader(blocked).ReadString('\n'); err != nil || line != "block\n" {
				t.Fatalf("%q %v", line, err)
			}
			if err := <-shut; err != nil {
				t.Fatal(err)
			}
			for i := range 100 {
				c, err := net.Dial("tcp", addr)
				if err == nil {
					c.Close()
					t.Fatalf("dial %d after shutdown connected: a listening socket is still open", i)
				}
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("dial %d after shutdown: %v", i, err)
				}
			}
		})
	}
}

// ReusePort needs a listener bound with SO_REUSEPORT; without, Serve fails
// at once and closes the listener.
func TestReusePortNeedsTheOption(t *testing.T) {
	s := &Server{Handler: &lineEcho{}, Loops: 2, ReusePort: true}
	l := listenTCP(t, false)
	err := s.Serve(l)
	if !errors.Is(err, errNoReusePort) {
		t.Fatalf("Serve: %v, want %v", err, errNoReusePort)
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Fatal("the listener is still open")
	}
	s.Close()
}

// A Unix listener stays shared under ReusePort and is served by both loops.
func TestReusePortUnixShared(t *testing.T) {
	s := &Server{Handler: &lineEcho{}, Loops: 2, ReusePort: true}
	l, err := listen.Listen(context.Background(), listen.Config{Addr: "unix:" + filepath.Join(t.TempDir(), "s.sock")})
	if err != nil {
		t.Fatal(err)
	}
	path := l.Addr().String()
	serveOn(t, s, l)
	if fds := listening(t, s); len(fds) != 1 {
		t.Fatalf("%d listening sockets for a Unix listener, want 1", len(fds))
	}
	for range 20 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		echo(t, c, "u\n")
	}
	if got := s.Accepted(); got[0]+got[1] != 20 {
		t.Fatalf("loops accepted %v, want 20 in all", got)
	}
}

// A ":port" listener takes IPv4 and IPv6 alike; the per-loop sockets must too
// (IPV6_V6ONLY copied), or IPv4 connections would all reach loop 0.
func TestReusePortDualStack(t *testing.T) {
	l, err := listen.Listen(context.Background(), listen.Config{Addr: ":0", ReusePort: true})
	if err != nil {
		t.Fatal(err)
	}
	if l.Addr().(*net.TCPAddr).IP.To4() != nil {
		l.Close()
		t.Skip("no dual-stack IPv6 listener on this machine")
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	s := &Server{Handler: &lineEcho{}, Loops: 2, ReusePort: true}
	serveOn(t, s, l)
	if fds := listening(t, s); len(fds) != 2 {
		t.Fatalf("%d listening sockets, want 2", len(fds))
	}
	const n = 100
	for range n {
		c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		echo(t, c, "v4\n")
	}
	if c, err := net.Dial("tcp6", net.JoinHostPort("::1", port)); err == nil {
		defer c.Close()
		echo(t, c, "v6\n")
	}
	got := s.Accepted()
	t.Logf("connections per loop: %v", got)
	if got[0] == 0 || got[1] == 0 {
		t.Fatalf("loops accepted %v: IPv4 connections did not reach every loop", got)
	}
}

// A loop that cannot watch its own socket (ReusePort) takes that socket out of
// the SO_REUSEPORT group, so no connection is hashed onto a queue nobody
// accepts from: every client is served by the other loop.
func TestReusePortLoopCannotWatch(t *testing.T) {
	s := &Server{Handler: &lineEcho{}, Loops: 2, ReusePort: true}
	l := listenTCP(t, true)
	s.init()
	failFD := -1
	watch := watchListener
	watchListener = func(epfd, fd int, ev *syscall.EpollEvent) error {
		if epfd == s.loops[1].epfd {
			failFD = fd
			return syscall.ENOMEM
		}
		return watch(epfd, fd, ev)
	}
	t.Cleanup(func() { watchListener = watch })
	serveOn(t, s, l)
	listening(t, s)
	for i := range 40 { // without the fix about half would hang on loop 1's socket
		c, err := net.DialTimeout("tcp", l.Addr().String(), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		echo(t, c, fmt.Sprintf("line %d\n", i))
		c.Close()
	}
	if failFD < 0 {
		t.Fatal("the hook never failed loop 1's socket")
	}
	if n := s.Accepted(); n[1] != 0 || n[0] != 40 {
		t.Fatalf("accepted per loop %v, want [40 0]", n)
	}
}
