package rawio

import (
	"errors"
	"io"
	"os"
	"testing"
)

// ReadNoWait on a pipe: nothing yet, then the bytes written, then EOF once
// the writer closed.
func TestReadNoWait(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rc, err := r.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if _, err := ReadNoWait(rc, buf); !errors.Is(err, ErrNotReady) {
		t.Fatalf("empty pipe: %v, want ErrNotReady", err)
	}
	w.WriteString("hello")
	if n, err := ReadNoWait(rc, buf); err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("%q %v", buf[:n], err)
	}
	w.Close()
	if _, err := ReadNoWait(rc, buf); err != io.EOF {
		t.Fatalf("closed writer: %v, want EOF", err)
	}
}
