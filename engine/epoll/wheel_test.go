package epoll

import (
	"testing"
	"time"
)

func TestWheel(t *testing.T) {
	const tick = int64(10 * time.Millisecond)
	start := int64(1_000_000_000_000)
	w := newWheel[int](tick, 8, start)
	nodes := make([]timerNode[int], 5)
	for i := range nodes {
		nodes[i].v = i
	}
	var fired []int
	fire := func(v int) { fired = append(fired, v) }

	w.add(&nodes[0], start+5*int64(time.Millisecond)) // within the first tick
	w.add(&nodes[1], start+25*int64(time.Millisecond))
	w.add(&nodes[2], start+200*int64(time.Millisecond)) // beyond one turn of 8 slots
	w.add(&nodes[3], start+30*int64(time.Millisecond))
	w.remove(&nodes[3])
	w.add(&nodes[4], start-tick) // in the past: the next tick

	if w.n != 4 {
		t.Fatalf("n = %d", w.n)
	}
	w.advance(start+4*int64(time.Millisecond), fire)
	if len(fired) != 0 {
		t.Fatalf("fired early: %v", fired)
	}
	w.advance(start+10*int64(time.Millisecond), fire)
	if len(fired) != 2 || fired[0]+fired[1] != 4 {
		t.Fatalf("after 10 ms: %v", fired)
	}
	w.advance(start+30*int64(time.Millisecond), fire)
	if len(fired) != 3 || fired[2] != 1 {
		t.Fatalf("after 30 ms: %v", fired)
	}
	w.advance(start+150*int64(time.Millisecond), fire) // a full turn passes: node 2 stays
	if len(fired) != 3 {
		t.Fatalf("a later round fired: %v", fired)
	}
	w.advance(start+200*int64(time.Millisecond), fire)
	if len(fired) != 4 || fired[3] != 2 || w.n != 0 || w.next() != 0 {
		t.Fatalf("after 200 ms: %v n=%d", fired, w.n)
	}
	// Re-filing from fire lands on a later tick, never the one being processed.
	w.add(&nodes[0], start+210*int64(time.Millisecond))
	refire := 0
	w.advance(start+210*int64(time.Millisecond), func(v int) {
		refire++
		w.add(&nodes[v], start+210*int64(time.Millisecond))
	})
	if refire != 1 || w.n != 1 {
		t.Fatalf("refire %d, n %d", refire, w.n)
	}
}
