package lograte

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

func newLimiter() (*Limiter, *testutil.Clock, *bytes.Buffer) {
	var buf bytes.Buffer
	c := testutil.NewClock(time.Unix(1e9, 0))
	l := &Limiter{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Now: c.Now, AfterFunc: c.AfterFunc}
	return l, c, &buf
}

func lines(buf *bytes.Buffer) []string {
	s := strings.TrimSpace(buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestFirstAtOnceThenOneSummaryPerInterval(t *testing.T) {
	l, c, buf := newLimiter()
	l.Log(slog.LevelError, "connection refused", "upstream failed", "n", 0)
	if got := lines(buf); len(got) != 1 || !strings.Contains(got[0], `msg="upstream failed"`) || !strings.Contains(got[0], "n=0") {
		t.Fatalf("first line: %q", got)
	}
	for i := 1; i <= 500; i++ {
		l.Log(slog.LevelError, "connection refused", "upstream failed", "n", i)
		c.Advance(10 * time.Millisecond) // 5 s in all
	}
	if got := lines(buf); len(got) != 1 {
		t.Fatalf("repeats within the interval were logged: %q", got)
	}
	c.Advance(5 * time.Second)
	got := lines(buf)
	if len(got) != 2 || !strings.Contains(got[1], "500 more like this in the last 10s") ||
		!strings.Contains(got[1], "repeated=500") || !strings.Contains(got[1], "n=500") || !strings.Contains(got[1], "level=ERROR") {
		t.Fatalf("summary: %q", got)
	}
	// Still failing: at most one line per interval.
	for i := range 3000 {
		l.Log(slog.LevelError, "connection refused", "upstream failed", "n", i)
		c.Advance(10 * time.Millisecond) // 30 s
	}
	if got := lines(buf); len(got) != 5 {
		t.Fatalf("30 s of failures: %d lines, want 2 + 3:\n%s", len(got), buf)
	}
	// A quiet interval: nothing to report, and the next failure is at once.
	c.Advance(20 * time.Second)
	n := len(lines(buf))
	l.Log(slog.LevelError, "connection refused", "upstream failed", "n", "again")
	if got := lines(buf); len(got) != n+1 || !strings.Contains(got[n], "n=again") || strings.Contains(got[n], "more like this") {
		t.Fatalf("after a quiet interval: %q", got[n-1:])
	}
}

func TestKindsAreSeparate(t *testing.T) {
	l, c, buf := newLimiter()
	for range 3 {
		l.Log(slog.LevelError, "connection refused", "fastcgi request failed")
		l.Log(slog.LevelError, "timed out", "fastcgi request failed")
		l.Log(slog.LevelWarn, "connection refused", "uwsgi request failed")
	}
	if got := lines(buf); len(got) != 3 {
		t.Fatalf("three kinds, %d first lines:\n%s", len(got), buf)
	}
	c.Advance(10 * time.Second)
	got := lines(buf)
	if len(got) != 6 {
		t.Fatalf("three summaries expected:\n%s", buf)
	}
	for _, l := range got[3:] {
		if !strings.Contains(l, "2 more like this") {
			t.Errorf("summary %q", l)
		}
	}
}

// Beyond maxKinds distinct kinds, repeats share one count: memory stays
// bounded whatever the keys.
func TestKindsBounded(t *testing.T) {
	l, c, buf := newLimiter()
	for i := range 10 * maxKinds {
		l.Log(slog.LevelError, strconv.Itoa(i), "failed")
	}
	if len(l.kinds) > maxKinds+1 { // and the one they share
		t.Fatalf("%d kinds kept", len(l.kinds))
	}
	if n := len(lines(buf)); n > maxKinds+1 {
		t.Fatalf("%d lines for %d kinds", n, maxKinds)
	}
	c.Advance(10 * time.Second)
	if !strings.Contains(buf.String(), "more like this") {
		t.Fatal("the overflow's count was never reported")
	}
	// Once their intervals ended, kinds are forgotten to make room.
	l.Log(slog.LevelError, "new", "failed")
	if !strings.Contains(lines(buf)[len(lines(buf))-1], "failed") {
		t.Fatal("a new kind after the intervals ended was not logged")
	}
}

// The zero Limiter uses the real clock.
func TestRealClock(t *testing.T) {
	var buf testutil.LogBuffer // written by the timer's goroutine
	l := &Limiter{Logger: slog.New(slog.NewTextHandler(&buf, nil)), Interval: time.Millisecond}
	l.Log(slog.LevelInfo, "k", "m")
	l.Log(slog.LevelInfo, "k", "m")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "1 more like this in the last 1ms") {
		if time.Now().After(deadline) {
			t.Fatalf("no summary: %s", buf.String())
		}
		time.Sleep(time.Millisecond)
	}
}
