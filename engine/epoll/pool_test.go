package epoll

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPoolRunsEveryJob(t *testing.T) {
	var wg sync.WaitGroup
	var sum atomic.Int64
	p := newPool(8, time.Minute, func(n int) { sum.Add(int64(n)); wg.Done() })
	for i := 1; i <= 1000; i++ {
		wg.Add(1)
		p.submit(i)
	}
	wg.Wait()
	if sum.Load() != 500500 {
		t.Fatalf("sum %d", sum.Load())
	}
	if n := p.workers(); n < 1 || n > 8 {
		t.Fatalf("%d workers", n)
	}
	p.close()
	if p.workers() != 0 {
		t.Fatalf("%d workers after close", p.workers())
	}
}

// A job that blocks does not hold up the jobs queued behind it.
func TestPoolBlockingJob(t *testing.T) {
	release := make(chan struct{})
	done := make(chan int, 10)
	p := newPool(4, time.Minute, func(n int) {
		if n == 0 {
			<-release
		}
		done <- n
	})
	p.submit(0)
	for i := 1; i <= 5; i++ {
		p.submit(i)
	}
	for range 5 {
		select {
		case n := <-done:
			if n == 0 {
				t.Fatal("blocked job finished first")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("jobs stuck behind a blocking one")
		}
	}
	close(release)
	<-done
	p.close()
}

// The bound holds: with every worker blocked, more jobs wait.
func TestPoolBound(t *testing.T) {
	release := make(chan struct{})
	var running, peak atomic.Int64
	var wg sync.WaitGroup
	p := newPool(3, time.Minute, func(int) {
		n := running.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		<-release
		running.Add(-1)
		wg.Done()
	})
	for i := range 10 {
		wg.Add(1)
		p.submit(i)
	}
	time.Sleep(50 * time.Millisecond)
	if peak.Load() != 3 {
		t.Fatalf("peak %d running, want 3", peak.Load())
	}
	close(release)
	wg.Wait()
	p.close()
}

func TestPoolCleanRetiresIdle(t *testing.T) {
	var wg sync.WaitGroup
	p := newPool(4, time.Millisecond, func(int) { wg.Done() })
	wg.Add(1)
	p.submit(1)
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for p.workers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("idle worker not retired")
		}
		time.Sleep(5 * time.Millisecond)
		p.clean(time.Now().UnixNano())
	}
	p.close()
}
