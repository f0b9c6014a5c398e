// Package lograte keeps repeated failures from flooding the log: the first line
// of a kind is written at once, the repeats that follow within an interval are
// only counted, and one summary line per interval reports them ("57 more like
// this in the last 10s"). While php-fpm was down, one line per failed request
// wrote 68 MB in 6.5 s; through a Limiter the same outage writes a line, then
// one every 10 s.
package lograte

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the interval of a Limiter whose Interval is zero.
const DefaultInterval = 10 * time.Second

// maxKinds bounds the kinds a Limiter tracks; repeats of kinds beyond it are
// counted together under one.
const maxKinds = 256

// overflow is the kind the kinds beyond maxKinds share.
const overflow = "\x00other"

// Limiter rate-limits log lines by kind. Set its fields before the first Log;
// it is then safe for concurrent use. The zero value logs to slog.Default()
// every DefaultInterval.
type Limiter struct {
	// Logger receives the lines. nil: slog.Default().
	Logger *slog.Logger
	// Interval is how often, at most, a kind is logged. 0: DefaultInterval.
	Interval time.Duration
	// Now and AfterFunc are the clock: time.Now and time.AfterFunc when nil.
	// Tests give their own, to decide when an interval ends.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func())

	mu    sync.Mutex
	kinds map[string]*kind
}

// kind is what a Limiter knows of one kind of line.
type kind struct {
	level   slog.Level
	msg     string
	args    []any     // the last counted line's attributes, for the summary
	quiet   time.Time // repeats before this are counted, not logged
	count   int       // repeats counted since the last line
	pending bool      // a summary is due at quiet
}

// Log writes msg with args at level, unless a line of the same kind (key and
// msg) was written less than an interval ago: then it is counted, and the
// count is written, with the last repeat's args, when the interval ends.
func (l *Limiter) Log(level slog.Level, key, msg string, args ...any) {
	now := l.now()
	id := msg + "\x00" + key
	l.mu.Lock()
	if l.kinds == nil {
		l.kinds = make(map[string]*kind)
	}
	k := l.kinds[id]
	if k == nil {
		if len(l.kinds) >= maxKinds {
			l.prune(now)
		}
		if len(l.kinds) >= maxKinds {
			id = overflow
			k = l.kinds[id]
		}
		if k == nil {
			k = &kind{}
			l.kinds[id] = k
		}
	}
	if !now.Before(k.quiet) {
		k.quiet = now.Add(l.interval())
		l.mu.Unlock()
		l.logger().Log(context.Background(), level, msg, args...)
		return
	}
	k.level, k.msg, k.args = level, msg, args
	k.count++
	arm := !k.pending
	k.pending = true
	wait := k.quiet.Sub(now)
	l.mu.Unlock()
	if arm {
		l.afterFunc(wait, func() { l.summary(id) })
	}
}

// summary writes the count of a kind's interval, which then starts another.
func (l *Limiter) summary(id string) {
	l.mu.Lock()
	k := l.kinds[id]
	if k == nil || k.count == 0 {
		if k != nil {
			k.pending = false
		}
		l.mu.Unlock()
		return
	}
	n, level, msg, args := k.count, k.level, k.msg, k.args
	k.count, k.pending, k.args = 0, false, nil
	k.quiet = l.now().Add(l.interval())
	l.mu.Unlock()
	text := fmt.Sprintf("%s: %d more like this in the last %s", msg, n, l.interval())
	l.logger().Log(context.Background(), level, text, append(args, "repeated", n)...)
}

// prune forgets the kinds whose interval has ended with nothing to report.
func (l *Limiter) prune(now time.Time) {
	for id, k := range l.kinds {
		if !k.pending && !now.Before(k.quiet) {
			delete(l.kinds, id)
		}
	}
}

func (l *Limiter) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

func (l *Limiter) afterFunc(d time.Duration, f func()) {
	if l.AfterFunc != nil {
		l.AfterFunc(d, f)
		return
	}
	time.AfterFunc(d, f)
}

func (l *Limiter) interval() time.Duration {
	if l.Interval > 0 {
		return l.Interval
	}
	return DefaultInterval
}

func (l *Limiter) logger() *slog.Logger {
	if l.Logger != nil {
		return l.Logger
	}
	return slog.Default()
}
