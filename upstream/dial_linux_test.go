package upstream

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

// unixPair listens on a fresh socket, dials it with dialUnix and returns both
// ends: ours (a *unixConn) and the server's.
func unixPair(t *testing.T) (*unixConn, net.Conn) {
	t.Helper()
	path := testutil.ShortTempDir(t) + "/s.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc, err := dialUnix(newUnixAddr(path))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := nc.(*unixConn)
	t.Cleanup(func() { c.Close(); srv.Close() })
	if c.RemoteAddr().String() != path || c.RemoteAddr().Network() != "unix" {
		t.Fatalf("RemoteAddr = %v", c.RemoteAddr())
	}
	return c, srv
}

func TestDialUnixErrors(t *testing.T) {
	dir := testutil.ShortTempDir(t)
	_, err := dialUnix(newUnixAddr(dir + "/nobody.sock"))
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("no socket file: err = %v, want ENOENT", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "dial" {
		t.Fatalf("err = %#v, want a dial *net.OpError", err)
	}
	// A socket file whose listener is gone: refused at once.
	l, err := net.Listen("unix", dir+"/gone.sock")
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := dialUnix(newUnixAddr(dir + "/gone.sock")); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("closed listener: err = %v, want ECONNREFUSED", err)
	}
}

// The common exchange: the request fits the socket, the answer is there when
// read. The socket never joins the poller.
func TestUnixConnNoWait(t *testing.T) {
	c, srv := unixPair(t)
	c.SetWriteDeadline(time.Now().Add(time.Minute))
	if n, err := c.Write([]byte("ping")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	buf := make([]byte, 16)
	if n, err := io.ReadFull(srv, buf[:4]); err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("server read %q, %v", buf[:n], err)
	}
	srv.Write([]byte("pong"))
	srv.Close()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if n, err := c.Read(buf); n != 4 || err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read at the end = %d, %v; want 0, EOF", n, err)
	}
	if c.f.Load() != nil {
		t.Fatal("the socket joined the poller though nothing had to wait")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Write(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
}

// A read with nothing there waits on the poller for the answer, with the
// deadline set before it had to wait.
func TestUnixConnReadWaits(t *testing.T) {
	c, srv := unixPair(t)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	go func() {
		time.Sleep(50 * time.Millisecond)
		srv.Write([]byte("late"))
	}()
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if c.f.Load() == nil {
		t.Fatal("a read that waited did not go through the poller")
	}
	// Deadlines now go to the file.
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("deadline took %v", d)
	}
}

// A deadline set before the socket had to wait bounds the wait.
func TestUnixConnDeadlineCarriedOver(t *testing.T) {
	for _, name := range []string{"read", "both"} {
		t.Run(name, func(t *testing.T) {
			c, _ := unixPair(t)
			dl := time.Now().Add(50 * time.Millisecond)
			if name == "read" {
				c.SetReadDeadline(dl)
			} else {
				c.SetDeadline(dl)
			}
			start := time.Now()
			_, err := c.Read(make([]byte, 8))
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("err = %v, want os.ErrDeadlineExceeded", err)
			}
			if d := time.Since(start); d < 40*time.Millisecond || d > 5*time.Second {
				t.Fatalf("waited %v for a 50 ms deadline", d)
			}
		})
	}
}

// A deadline already past fails the call before any system call, as net.Conn's.
func TestUnixConnPastDeadline(t *testing.T) {
	c, srv := unixPair(t)
	srv.Write([]byte("data"))
	c.SetDeadline(time.Unix(1, 0))
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v, want os.ErrDeadlineExceeded", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write = %v, want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if _, err := c.Read(make([]byte, 8)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read error %v is not a net.Error timeout", err)
	}
}

// A deadline moved into the past from another goroutine (a client that went
// away) ends a read that waits.
func TestUnixConnCancelWhileWaiting(t *testing.T) {
	c, _ := unixPair(t)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	go func() {
		time.Sleep(50 * time.Millisecond)
		c.SetDeadline(time.Unix(1, 0))
	}()
	start := time.Now()
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read = %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancel took %v", d)
	}
}

// A write larger than the socket's buffer goes out in part at once, waits on
// the poller for the rest, and arrives whole.
func TestUnixConnWriteWaits(t *testing.T) {
	c, srv := unixPair(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	got := make(chan []byte)
	go func() {
		time.Sleep(50 * time.Millisecond) // let the buffer fill
		b, _ := io.ReadAll(srv)
		got <- b
	}()
	c.SetWriteDeadline(time.Now().Add(time.Minute))
	if n, err := c.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if c.f.Load() == nil {
		t.Fatal("a write past the buffer did not go through the poller")
	}
	c.Close()
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("server got %d bytes, want %d equal ones", len(b), len(big))
	}
}

// A write deadline carried over bounds a write that cannot finish.
func TestUnixConnWriteDeadline(t *testing.T) {
	c, _ := unixPair(t)
	// Long enough that the first bytes go out even on a loaded machine
	// under the race detector; the rest waits for a reader that never comes.
	c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
	n, err := c.Write(bytes.Repeat([]byte("x"), 8<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) || n <= 0 || n >= 8<<20 {
		t.Fatalf("Write = %d, %v; want part of it and os.ErrDeadlineExceeded", n, err)
	}
}

// The pool's idle check reads the socket through SyscallConn.
func TestUnixConnAlive(t *testing.T) {
	c, srv := unixPair(t)
	if !alive(c) {
		t.Fatal("an open, quiet connection is not alive")
	}
	srv.Close()
	if alive(c) {
		t.Fatal("a connection the peer closed is alive")
	}
	c.Close()
	if _, err := c.SyscallConn(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("SyscallConn after Close = %v, want net.ErrClosed", err)
	}
}

// A Pool without a Dial of its own connects to Unix addresses with dialUnix.
func TestPoolDialsUnixDirectly(t *testing.T) {
	s := startEcho(t, "unix")
	p, err := New(Config{Addrs: []string{s.addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := p.Get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release(false)
	if _, ok := c.Conn.(*unixConn); !ok {
		t.Fatalf("pool connection is a %T, want *unixConn", c.Conn)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 6)
	if _, err := io.ReadFull(c, line); err != nil || string(line) != "hello\n" {
		t.Fatalf("echo = %q, %v", line, err)
	}
}

// Once on the poller, errors keep a net.Conn's form: *net.OpError, timeouts
// that say so, net.ErrClosed after Close.
func TestUnixConnErrorsAfterPromotion(t *testing.T) {
	c, _ := unixPair(t)
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := c.Read(make([]byte, 8)) // waits: promoted, then times out
	var oe *net.OpError
	if c.f.Load() == nil || !errors.As(err, &oe) || !oe.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("timeout on the poller: %#v", err)
	}
	c.Close()
	if _, err := c.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read after Close = %v, want net.ErrClosed", err)
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
}

// On the poller, a write, a read and the idle check allocate nothing: an
// upstream connection carries one of each per request.
func TestUnixConnPolledAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c, srv := unixPair(t)
	c.SetReadDeadline(time.Now().Add(time.Minute))
	go func() {
		time.Sleep(20 * time.Millisecond)
		srv.Write([]byte("x"))
	}()
	buf := make([]byte, 16)
	if _, err := c.Read(buf); err != nil { // waits: promoted
		t.Fatal(err)
	}
	if c.f.Load() == nil {
		t.Fatal("not promoted")
	}
	sbuf, ping := make([]byte, 16), []byte("ping")
	allocs := testing.AllocsPerRun(100, func() {
		if !alive(c) {
			t.Fatal("not alive")
		}
		if _, err := c.Write(ping); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(srv, sbuf[:4]); err != nil {
			t.Fatal(err)
		}
		srv.Write(sbuf[:4])
		if _, err := io.ReadFull(c, buf[:4]); err != nil {
			t.Fatal(err)
		}
	})
	// srv is a *net.UnixConn: its Write allocates nothing either, its
	// ReadFull neither.
	if allocs != 0 {
		t.Fatalf("%v allocations per exchange, want 0", allocs)
	}
}

// A connection that passes the idle check starts with no read deadline: the
// last exchange's, long past, must not fail the next read at once.
func TestAliveClearsReadDeadline(t *testing.T) {
	c, srv := unixPair(t)
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read past its deadline succeeded")
	}
	time.Sleep(20 * time.Millisecond)
	if !alive(c) {
		t.Fatal("an idle, open connection is not alive")
	}
	go func() { time.Sleep(50 * time.Millisecond); srv.Write([]byte("y")) }()
	if n, err := c.Read(make([]byte, 1)); n != 1 || err != nil {
		t.Fatalf("read after the idle check: %d, %v (the old deadline still held)", n, err)
	}
}
