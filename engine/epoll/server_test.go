//go:build linux

package epoll

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/engine"
	"gatehouse/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// lineEcho is a protocol for the engine alone: each line is answered by a
// worker with the same line; "big\n" gets bigSize bytes, "block\n" waits for
// release.
type lineEcho struct {
	release chan struct{}
	entered chan struct{}
}

const bigSize = 8 << 20 // more than the socket buffers hold

type lineState struct {
	buf  [4096]byte
	n    int
	line []byte
}

func (h *lineEcho) OnOpen(c engine.EventConn) engine.Verdict { return engine.Idle }

func (h *lineEcho) OnData(c engine.EventConn) engine.Verdict {
	st, _ := c.Proto().(*lineState)
	if st == nil {
		st = &lineState{}
		c.SetProto(st)
	}
	for {
		if i := bytes.IndexByte(st.buf[:st.n], '\n'); i >= 0 {
			st.line = append(st.line[:0], st.buf[:i+1]...)
			st.n = copy(st.buf[:], st.buf[i+1:st.n])
			return engine.Dispatch
		}
		k, err := c.TryRead(st.buf[st.n:])
		if err == engine.ErrWouldBlock {
			if st.n == 0 {
				c.SetProto(nil)
				return engine.Idle
			}
			return engine.Wait
		}
		if err != nil {
			c.SetProto(nil)
			return engine.Close
		}
		st.n += k
	}
}

func (h *lineEcho) OnTimeout(c engine.EventConn) engine.Verdict { return engine.Close }

func (h *lineEcho) Serve(c engine.EventConn) engine.Verdict {
	st := c.Proto().(*lineState)
	switch string(st.line) {
	case "big\n":
		if _, err := c.Write(bytes.Repeat([]byte("b"), bigSize)); err != nil {
			return engine.Close
		}
	case "block\n":
		h.entered <- struct{}{}
		<-h.release
		fallthrough
	default:
		if _, err := c.Write(st.line); err != nil {
			return engine.Close
		}
	}
	if bytes.IndexByte(st.buf[:st.n], '\n') >= 0 {
		return h.OnData(c) // the next line is here already
	}
	if st.n == 0 {
		c.SetProto(nil)
		return engine.Idle
	}
	return engine.Wait
}

func (h *lineEcho) OnClose(c engine.EventConn) { c.SetProto(nil) }

func start(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
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
	return l.Addr().String()
}

// A writer past OutputLimit waits for the client; the bytes all arrive, in order.
func TestOutputBound(t *testing.T) {
	s := &Server{Handler: &lineEcho{}, OutputLimit: 8 << 10}
	addr := start(t, s)
	// A small receive buffer, set before connecting so the window matches.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("big\nafter\n"))
	time.Sleep(50 * time.Millisecond) // the socket buffers fill, the writer waits
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(io.LimitReader(c, bigSize+6))
	if err != nil || len(got) != bigSize+6 || strings.Trim(string(got[:bigSize]), "b") != "" || string(got[bigSize:]) != "after\n" {
		t.Fatalf("%d bytes, %v", len(got), err)
	}
}

// A worker blocked in a handler holds up neither its loop nor other connections;
// Shutdown waits for it.
func TestBlockedWorker(t *testing.T) {
	h := &lineEcho{release: make(chan struct{}), entered: make(chan struct{}, 1)}
	s := &Server{Handler: h, Loops: 1}
	addr := start(t, s)
	blocked, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer blocked.Close()
	blocked.Write([]byte("block\n"))
	<-h.entered
	other, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	br := bufio.NewReader(other)
	for i := range 100 {
		other.Write([]byte("x\n"))
		other.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := br.ReadString('\n'); err != nil || line != "x\n" {
			t.Fatalf("line %d: %q %v", i, line, err)
		}
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) with a handler running", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(h.release)
	blocked.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(blocked).ReadString('\n'); err != nil || line != "block\n" {
		t.Fatalf("%q %v", line, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
