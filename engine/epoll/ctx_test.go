//go:build linux

package epoll

import (
	"context"
	"testing"
	"time"
)

// context.AfterFunc on a connection's context registers with the connection
// (no goroutine waits on Done meanwhile): a stopped function never runs, the
// others run when the connection ends, and one registered after runs at once.
func TestConnContextAfterFunc(t *testing.T) {
	c := &conn{}
	ctx := c.Context()
	ran := make(chan string, 3)
	stopA := context.AfterFunc(ctx, func() { ran <- "a" })
	context.AfterFunc(ctx, func() { ran <- "b" })
	c.mu.Lock()
	n := len(c.afters)
	c.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d functions registered with the connection, want 2", n)
	}
	if !stopA() {
		t.Fatal("stop of a pending function = false")
	}
	if stopA() {
		t.Fatal("second stop = true")
	}
	c.mu.Lock()
	c.cancelLocked()
	c.mu.Unlock()
	if got := wait(t, ran); got != "b" {
		t.Fatalf("ran %q, want b", got)
	}
	stopC := context.AfterFunc(ctx, func() { ran <- "c" })
	if got := wait(t, ran); got != "c" {
		t.Fatalf("ran %q, want c (registered after the end)", got)
	}
	if stopC() {
		t.Fatal("stop after the function ran = true")
	}
	select {
	case got := <-ran:
		t.Fatalf("%q ran too", got)
	case <-time.After(20 * time.Millisecond):
	}
	if ctx.Err() != context.Canceled {
		t.Fatalf("Err = %v", ctx.Err())
	}
}

func wait(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no function ran")
		return ""
	}
}
