package upstream

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// Close while a read waits on the poller: the read ends with net.ErrClosed,
// Close returns, nothing deadlocks. Many times, for the races.
func TestRawCloseDuringBlockedRead(t *testing.T) {
	for i := 0; i < 200; i++ {
		c, _ := unixPair(t)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 8))
			errc <- err
		}()
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
		done := make(chan error, 1)
		go func() { done <- c.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Close = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close blocked")
		}
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("iteration %d: blocked Read after Close = %v, want net.ErrClosed", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Read still blocked after Close")
		}
	}
}

// Close while a write waits on the poller (the peer reads nothing).
func TestRawCloseDuringBlockedWrite(t *testing.T) {
	for i := 0; i < 50; i++ {
		c, _ := unixPair(t)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(make([]byte, 4<<20))
			errc <- err
		}()
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		c.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("blocked Write after Close = %v, want net.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Write still blocked after Close")
		}
	}
}

// A large write to a slow reader: every byte arrives, in order, with a read
// and a write going at once on the connection (each way on the poller).
func TestRawFullDuplexLargeTransfer(t *testing.T) {
	c, srv := unixPair(t)
	out := make([]byte, 16<<20)
	for i := range out {
		out[i] = byte(rand.Uint32())
	}
	var wg sync.WaitGroup
	wg.Add(3)
	var got []byte
	go func() { // the server echoes, slowly at first
		defer wg.Done()
		buf := make([]byte, 7777)
		for {
			n, err := srv.Read(buf)
			if n > 0 {
				if _, werr := srv.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				srv.(*net.UnixConn).CloseWrite()
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		n, err := c.Write(out)
		if n != len(out) || err != nil {
			t.Errorf("Write = %d, %v", n, err)
		}
		c.CloseWrite()
	}()
	go func() {
		defer wg.Done()
		b, err := io.ReadAll(c)
		if err != nil {
			t.Errorf("ReadAll: %v", err)
		}
		got = b
	}()
	wg.Wait()
	if !bytes.Equal(got, out) {
		t.Fatalf("echoed %d bytes, not equal to the %d sent", len(got), len(out))
	}
}

// A write that times out part way: n is what the peer can then read, no
// more, no less.
func TestRawPartialWriteCount(t *testing.T) {
	for _, promoteFirst := range []bool{false, true} {
		c, srv := unixPair(t)
		if promoteFirst {
			c.SyscallConn()
		}
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Write(make([]byte, 8<<20))
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write = %d, %v, want a timeout", n, err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("err %v is not a timeout net.Error", err)
		}
		c.Close()
		got, _ := io.Copy(io.Discard, srv)
		if int64(n) != got {
			t.Fatalf("promoteFirst=%v: Write said %d bytes, the peer read %d", promoteFirst, n, got)
		}
	}
}

// Abort from another goroutine ends a read waiting on the poller, and no
// read after it succeeds, even with data waiting and the deadline reset.
func TestRawAbortBlockedRead(t *testing.T) {
	c, srv := unixPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 8))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cc := &Conn{Conn: c}
	cc.Abort()
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
			t.Fatalf("aborted Read = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("abort did not end the read")
	}
	srv.Write([]byte("x"))
	c.SetReadDeadline(time.Time{})
	if n, err := c.Read(make([]byte, 8)); err == nil {
		t.Fatalf("Read after the abort = %d, nil: an aborted connection came back", n)
	}
}

// EOF on the poller, and a zero-length read.
func TestRawEOFAndEmptyOnPoller(t *testing.T) {
	c, srv := unixPair(t)
	c.SyscallConn()
	if n, err := c.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty Read = %d, %v", n, err)
	}
	srv.Close()
	if n, err := c.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("Read at EOF = %d, %v", n, err)
	}
	if !errors.Is(func() error { _, err := c.Write([]byte("x")); return err }(), nil) {
		// EPIPE expected; just make sure it is an error, not a crash (SIGPIPE)
	}
}
