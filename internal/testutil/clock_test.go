package testutil

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Unix(1e9, 0)
	c := NewClock(start)
	var ran []string
	c.AfterFunc(time.Second, func() { ran = append(ran, "a") })
	stopB := c.Schedule(2*time.Second, func() { ran = append(ran, "b") })
	stopC := c.Schedule(2*time.Second, func() { ran = append(ran, "c") })
	if c.Pending() != 3 {
		t.Fatalf("%d pending", c.Pending())
	}
	c.Advance(time.Second - time.Nanosecond)
	if len(ran) != 0 {
		t.Fatalf("ran %v before its time", ran)
	}
	c.Advance(time.Nanosecond)
	if len(ran) != 1 || ran[0] != "a" || !c.Now().Equal(start.Add(time.Second)) {
		t.Fatalf("ran %v at %v", ran, c.Now())
	}
	if !stopB() || stopB() {
		t.Fatal("stop: true once, then false")
	}
	c.Advance(time.Second)
	if len(ran) != 2 || ran[1] != "c" || c.Pending() != 0 {
		t.Fatalf("ran %v, %d pending", ran, c.Pending())
	}
	if stopC() {
		t.Fatal("stop after running reported true")
	}
}
