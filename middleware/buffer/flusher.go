package buffer

import (
	"sync"
	"time"
)

// flushDelay is how long a flushed response may wait for the rest of itself
// before the drainer takes what is there to the client; flushTick is how
// often the flusher looks, so the wait is between the two and their sum.
const (
	flushDelay = time.Millisecond
	flushTick  = time.Millisecond
	// flushIdle is how long the flusher's goroutine stays after its last
	// armed writer, for the next one.
	flushIdle = 100 * time.Millisecond
)

// flusher starts the drainers of writers whose Flush has waited flushDelay
// (see writer.armed). One goroutine per Buffer looks every flushTick while
// writers are armed, rather than a timer per response: setting a runtime
// timer wakes Go's network poller, two or three system calls, which at every
// gateway response measured as much as the rest of the buffering.
type flusher struct {
	mu         sync.Mutex
	head, tail *writer // armed writers, oldest first (all wait the same delay)
	running    bool
}

// arm puts x at the end of the list. x.mu is held.
func (f *flusher) arm(x *writer) {
	x.armedAt = time.Now()
	f.mu.Lock()
	x.prev, x.next, x.linked = f.tail, nil, true
	if f.tail != nil {
		f.tail.next = x
	} else {
		f.head = x
	}
	f.tail = x
	if !f.running {
		f.running = true
		go f.run()
	}
	f.mu.Unlock()
}

// remove takes x off the list and reports whether it was on it: false when
// the flusher has taken it and will call its flushTimeout. x.mu is held.
func (f *flusher) remove(x *writer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !x.linked {
		return false
	}
	f.unlink(x)
	return true
}

func (f *flusher) unlink(x *writer) {
	if x.prev != nil {
		x.prev.next = x.next
	} else {
		f.head = x.next
	}
	if x.next != nil {
		x.next.prev = x.prev
	} else {
		f.tail = x.prev
	}
	x.prev, x.next, x.linked = nil, nil, false
}

func (f *flusher) run() {
	idleSince := time.Now()
	for {
		time.Sleep(flushTick)
		now := time.Now()
		f.mu.Lock()
		var due *writer
		for f.head != nil && now.Sub(f.head.armedAt) >= flushDelay {
			x := f.head
			f.unlink(x)
			x.next, due = due, x // a list of its own, outside f.mu
		}
		if f.head != nil || due != nil {
			idleSince = now
		} else if now.Sub(idleSince) >= flushIdle {
			f.running = false
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		for due != nil {
			x := due
			due, x.next = x.next, nil
			x.flushTimeout()
		}
	}
}
