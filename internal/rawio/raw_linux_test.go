package rawio

import (
	"syscall"
	"testing"
)

// Read, Write and Peek on a non-blocking socket pair: EAGAIN when nothing
// waits, a peek that takes nothing, 0 at the end.
func TestReadWritePeek(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := fds[0], fds[1]
	defer syscall.Close(a)
	buf := make([]byte, 16)
	if _, err := Peek(a); err != syscall.EAGAIN {
		t.Fatalf("Peek on a quiet socket = %v, want EAGAIN", err)
	}
	if _, err := Read(a, buf); err != syscall.EAGAIN {
		t.Fatalf("Read on a quiet socket = %v, want EAGAIN", err)
	}
	if n, err := Write(b, []byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := Peek(a); n != 1 || err != nil {
		t.Fatalf("Peek with bytes waiting = %d, %v", n, err)
	}
	if n, err := Read(a, buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v (the peek took something?)", buf[:n], err)
	}
	if n, err := Read(a, nil); n != 0 || err != nil {
		t.Fatalf("empty Read = %d, %v", n, err)
	}
	syscall.Close(b)
	if n, err := Peek(a); n != 0 || err != nil {
		t.Fatalf("Peek after the peer closed = %d, %v, want 0 and nil", n, err)
	}
	if n, err := Read(a, buf); n != 0 || err != nil {
		t.Fatalf("Read after the peer closed = %d, %v, want 0 and nil", n, err)
	}
}
