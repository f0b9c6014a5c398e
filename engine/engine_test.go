package engine

import (
	"bufio"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// lineEcho echoes lines; between lines the connection is idle.
type lineEcho struct{}

func (lineEcho) ServeConn(c *Conn) {
	defer c.NetConn.Close()
	br := bufio.NewReader(c.NetConn)
	for {
		if !c.SetIdle() {
			return
		}
		if _, err := br.Peek(1); err != nil {
			return
		}
		if !c.SetActive() {
			return
		}
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if line == "slow\n" {
			time.Sleep(300 * time.Millisecond)
		}
		c.NetConn.Write([]byte(line))
	}
}

func start(t *testing.T, s *Server) (string, chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	return l.Addr().String(), done
}

func dialEcho(t *testing.T, addr, line string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	if line != "" {
		c.Write([]byte(line))
		if got, err := br.ReadString('\n'); err != nil || got != line {
			t.Fatalf("%q %v", got, err)
		}
	}
	return c, br
}

func TestShutdownDrains(t *testing.T) {
	s := &Server{Handler: lineEcho{}}
	addr, done := start(t, s)
	idle, ibr := dialEcho(t, addr, "hi\n")
	defer idle.Close()
	busy, bbr := dialEcho(t, addr, "")
	defer busy.Close()
	busy.Write([]byte("slow\n"))
	deadline := time.Now().Add(5 * time.Second)
	for s.Conns() != 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let "slow" be read: the connection is active
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	if _, err := ibr.ReadByte(); err == nil {
		t.Fatal("idle connection not closed")
	}
	if got, err := bbr.ReadString('\n'); err != nil || got != "slow\n" {
		t.Fatalf("in-flight line lost: %q %v", got, err)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	if s.Conns() != 0 || !s.Draining() {
		t.Fatalf("conns %d draining %v", s.Conns(), s.Draining())
	}
	// Serve after shutdown refuses at once.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownWithoutConnections(t *testing.T) {
	s := &Server{Handler: lineEcho{}}
	_, done := start(t, s)
	time.Sleep(10 * time.Millisecond)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestCloseIsImmediate(t *testing.T) {
	s := &Server{Handler: lineEcho{}}
	addr, done := start(t, s)
	c, br := dialEcho(t, addr, "")
	defer c.Close()
	c.Write([]byte("slow\n"))
	time.Sleep(50 * time.Millisecond)
	s.Close()
	<-done
	if line, err := br.ReadString('\n'); err == nil {
		// the write raced the close; either way nothing more comes
		if _, err := br.ReadByte(); err == nil {
			t.Fatalf("still open after Close (%q)", line)
		}
	}
}

func TestMaxConns(t *testing.T) {
	s := &Server{Handler: lineEcho{}, MaxConns: 1}
	addr, done := start(t, s)
	a, _ := dialEcho(t, addr, "one\n")
	defer a.Close()
	b, bbr := dialEcho(t, addr, "")
	defer b.Close()
	b.Write([]byte("two\n"))
	if _, err := bbr.ReadByte(); err == nil {
		t.Fatal("connection over MaxConns was served")
	}
	s.Close()
	<-done
}
