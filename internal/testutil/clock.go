package testutil

import (
	"slices"
	"sync"
	"time"
)

// Clock is a manual clock for code that takes Now and AfterFunc (such as
// lograte.Limiter) or a stoppable AfterFunc (Schedule, for upstream.Pool):
// time moves only by Advance, which runs the functions whose time has come,
// in the caller's goroutine.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*clockTimer
}

type clockTimer struct {
	at time.Time
	f  func()
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc has f run by the Advance that reaches d from now.
func (c *Clock) AfterFunc(d time.Duration, f func()) { c.Schedule(d, f) }

// Schedule is AfterFunc that can be taken back: stop removes f unless an
// Advance has already run it, and reports whether it did, as
// time.Timer.Stop does.
func (c *Clock) Schedule(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &clockTimer{c.now.Add(d), f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		i := slices.Index(c.timers, t)
		if i < 0 {
			return false
		}
		c.timers = slices.Delete(c.timers, i, i+1)
		return true
	}
}

// Pending returns how many functions wait for their time.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock by d and runs the functions that came due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	kept := c.timers[:0]
	for _, t := range c.timers {
		if t.at.After(c.now) {
			kept = append(kept, t)
		} else {
			due = append(due, t.f)
		}
	}
	clear(c.timers[len(kept):])
	c.timers = kept
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}
