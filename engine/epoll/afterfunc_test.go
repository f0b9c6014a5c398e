//go:build linux

package epoll

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent registrations and stops racing the connection's end: every
// function either was stopped (stop true) or ran exactly once, never both,
// never neither; through context.AfterFunc and the method itself.
func TestConnContextAfterFuncRace(t *testing.T) {
	for iter := 0; iter < 200; iter++ {
		c := &conn{}
		ctx := c.Context()
		const n = 64
		var ran [n]atomic.Int32
		var stopped [n]bool
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				f := func() { ran[i].Add(1) }
				var stop func() bool
				if i%2 == 0 {
					stop = context.AfterFunc(ctx, f)
				} else {
					stop = (*connCtx)(c).AfterFunc(f)
				}
				if i%3 != 0 {
					stopped[i] = stop()
					if stop() {
						t.Errorf("second stop true")
					}
				}
			}()
		}
		close(start)
		c.mu.Lock()
		c.cancelLocked()
		c.mu.Unlock()
		wg.Wait()
		time.Sleep(5 * time.Millisecond)
		deadline := time.Now().Add(2 * time.Second)
		for i := 0; i < n; i++ {
			for !stopped[i] && ran[i].Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			r := ran[i].Load()
			if stopped[i] && r != 0 || !stopped[i] && r != 1 {
				t.Fatalf("iter %d fn %d: stopped %v, ran %d times", iter, i, stopped[i], r)
			}
		}
		c.mu.Lock()
		if len(c.afters) != 0 {
			t.Fatalf("%d left registered after the end", len(c.afters))
		}
		c.mu.Unlock()
	}
}

// Stopped registrations do not pile up, and the slice does not keep the
// stopped functions reachable.
func TestConnContextAfterFuncNoPileUp(t *testing.T) {
	c := &conn{}
	ctx := c.Context()
	for i := 0; i < 100000; i++ {
		stop := context.AfterFunc(ctx, func() {})
		if !stop() {
			t.Fatal("stop false")
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.afters) != 0 || cap(c.afters) > 4 {
		t.Fatalf("len %d cap %d", len(c.afters), cap(c.afters))
	}
}
