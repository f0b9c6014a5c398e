package upstream

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// The default policy, turn by turn: a turn that lands on an address that is
// down passes to the next, as it always has.
func TestRoundRobinTurns(t *testing.T) {
	p := newPool(t, Config{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, Dial: pipeDial})
	clock := manualClock(p)
	turns := func(n int) []string {
		var got []string
		for range n {
			c := get(t, p)
			got = append(got, c.Upstream()[len("127.0.0.1:"):])
			c.Release(false)
		}
		return got
	}
	if got := turns(4); !slices.Equal(got, []string{"1", "2", "3", "1"}) {
		t.Fatalf("all up: %v", got)
	}
	if !p.MarkDown("127.0.0.1:2", time.Minute) {
		t.Fatal("MarkDown of a configured address")
	}
	// The counter goes on from 4: turns 2 (down, so 3), 3, 1, 2 (so 3), 3.
	if got := turns(5); !slices.Equal(got, []string{"3", "3", "1", "3", "3"}) {
		t.Fatalf("2 down: %v", got)
	}
	clock.Advance(time.Minute)
	if got := turns(3); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("2 up again: %v", got)
	}
	if len(p.Stats()) != 3 || p.Stats()[1].Down {
		t.Fatalf("%+v", p.Stats())
	}
}

func TestRoundRobinPick(t *testing.T) {
	var rr RoundRobin
	for _, c := range []struct {
		n    int
		want []int
	}{
		{1, []int{0, 0, 0}},
		{2, []int{0, 1, 0, 1}},
		{3, []int{0, 1, 2, 0}},
	} {
		rr = RoundRobin{}
		addrs := make([]Candidate, c.n)
		var got []int
		for range c.want {
			got = append(got, rr.Pick(addrs, nil))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%d addresses: %v, want %v", c.n, got, c.want)
		}
	}
	// The counter wraps without a jump.
	rr = RoundRobin{}
	rr.next.Store(1<<32 - 1)
	if a, b := rr.Pick(make([]Candidate, 3), nil), rr.Pick(make([]Candidate, 3), nil); a != (1<<32-1)%3 || b != 0 {
		t.Fatalf("at the wrap: %d then %d", a, b)
	}
}

// lastSelector always names the last address, and records what it was shown.
type lastSelector struct{ seen [][]Candidate }

func (s *lastSelector) Pick(addrs []Candidate, _ []byte) int {
	s.seen = append(s.seen, slices.Clone(addrs))
	return len(addrs) - 1
}

// The pool shows a Selector every address's state, takes the address it
// names when it can, and otherwise the next usable one.
func TestSelector(t *testing.T) {
	sel := &lastSelector{}
	p := newPool(t, Config{Addrs: []string{"a:1", "b:1", "c:1"}, MaxConns: 1, QueueTimeout: -1, Selector: sel, Dial: pipeDial})
	manualClock(p)
	first := get(t, p)
	if first.Upstream() != "c:1" {
		t.Fatalf("first on %s", first.Upstream())
	}
	first.Release(true) // kept idle
	c := get(t, p)
	if !c.Reused() {
		t.Fatal("the idle connection on c was not taken")
	}
	// c is at MaxConns and busy: the next goes to the address after it, a.
	next := get(t, p)
	if next.Upstream() != "a:1" {
		t.Fatalf("with c full, on %s", next.Upstream())
	}
	// b down while others are up: not usable, and passed over.
	p.MarkDown("b:1", time.Minute)
	p.MarkDown("c:1", time.Minute)
	if _, err := p.Get(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("a busy, b and c down: %v", err)
	}
	want := [][]Candidate{
		{{"a:1", 0, 0, true}, {"b:1", 0, 0, true}, {"c:1", 0, 0, true}},
		{{"a:1", 0, 0, true}, {"b:1", 0, 0, true}, {"c:1", 1, 1, true}},
		{{"a:1", 0, 0, true}, {"b:1", 0, 0, true}, {"c:1", 1, 0, true}},
	}
	for i, w := range want {
		if !slices.Equal(sel.seen[i], w) {
			t.Errorf("pick %d saw %+v, want %+v", i, sel.seen[i], w)
		}
	}
	if got := sel.seen[3]; !slices.Equal(got, []Candidate{{"a:1", 1, 0, true}, {"b:1", 0, 0, false}, {"c:1", 1, 0, false}}) {
		t.Errorf("with b and c down: %+v", got)
	}
	c.Release(false)
	next.Release(false)
}
