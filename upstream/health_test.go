package upstream

import (
	"context"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

func TestMarkDown(t *testing.T) {
	p := newPool(t, Config{Addrs: []string{"a:1", "unix:/run/b.sock"}, Dial: pipeDial})
	clock := manualClock(p)
	down := func() []bool {
		var d []bool
		for _, st := range p.Stats() {
			d = append(d, st.Down)
		}
		return d
	}
	for _, c := range []struct {
		addr string
		d    time.Duration
		ok   bool
	}{
		{"a:2", time.Minute, false},         // not the pool's
		{"/run/b.sock", time.Minute, false}, // named as configured, with unix:
		{"a:1", 0, false},
		{"a:1", -time.Second, false},
	} {
		if p.MarkDown(c.addr, c.d) != c.ok {
			t.Errorf("MarkDown(%q, %v) = %v", c.addr, c.d, !c.ok)
		}
	}
	if d := down(); d[0] || d[1] {
		t.Fatalf("refused marks took effect: %v", d)
	}
	if !p.MarkDown("unix:/run/b.sock", time.Minute) {
		t.Fatal("MarkDown of a configured Unix address")
	}
	clock.Advance(time.Minute - time.Nanosecond)
	if d := down(); d[0] || !d[1] {
		t.Fatalf("a nanosecond before the end: %v", d)
	}
	clock.Advance(time.Nanosecond)
	if d := down(); d[0] || d[1] {
		t.Fatalf("at the end: %v", d)
	}
	p.MarkDown("a:1", time.Hour)
	if p.MarkUp("a:9") || !p.MarkUp("a:1") || down()[0] {
		t.Fatalf("MarkUp: %v", down())
	}
}

// failOn takes a connection from p until one comes from addr, and ends it
// with Fail; the others are released as they came.
func failOn(t *testing.T, p *Pool, addr string) {
	t.Helper()
	var others []*Conn
	defer func() {
		for _, c := range others {
			c.Release(false)
		}
	}()
	for range 10 {
		c, err := p.GetWant(context.Background(), Want{Fresh: true})
		if err != nil {
			t.Fatal(err)
		}
		if c.Upstream() == addr {
			c.Fail()
			return
		}
		others = append(others, c)
	}
	t.Fatalf("no connection to %s", addr)
}

func stat(p *Pool, addr string) AddrStats {
	for _, st := range p.Stats() {
		if st.Addr == addr {
			return st
		}
	}
	return AddrStats{}
}

// MaxFails failures within FailTimeout, counted from the first, mark an
// address down for FailTimeout; fewer, or more spread out, do not.
func TestMaxFails(t *testing.T) {
	const a, b = "127.0.0.1:1", "127.0.0.1:2"
	p := newPool(t, Config{Addrs: []string{a, b}, MaxFails: 3, FailTimeout: 10 * time.Second, Dial: pipeDial})
	clock := manualClock(p)
	failOn(t, p, a)
	clock.Advance(5 * time.Second)
	failOn(t, p, a)
	if st := stat(p, a); st.Down || st.Fails != 2 {
		t.Fatalf("two failures: %+v", st)
	}
	clock.Advance(5 * time.Second) // 10 s after the first: a new window
	failOn(t, p, a)
	if st := stat(p, a); st.Down || st.Fails != 1 {
		t.Fatalf("a third failure, in a new window: %+v", st)
	}
	clock.Advance(9 * time.Second)
	failOn(t, p, a)
	// Successes in between do not reset the count (nginx's neither).
	for range 4 {
		c := get(t, p)
		c.Release(true)
	}
	failOn(t, p, a)
	if st := stat(p, a); !st.Down || st.Fails != 3 {
		t.Fatalf("three failures within 10 s: %+v", st)
	}
	for range 6 {
		if c := get(t, p); c.Upstream() != b {
			t.Fatalf("a request went to the down address")
		} else {
			c.Release(true)
		}
	}
	clock.Advance(10*time.Second - time.Nanosecond)
	if !stat(p, a).Down {
		t.Fatal("up before FailTimeout")
	}
	clock.Advance(time.Nanosecond)
	if stat(p, a).Down {
		t.Fatal("still down after FailTimeout")
	}
}

// After FailTimeout, one request is let through; the address stays down
// while it runs, comes back when it ends well, and is down for another
// FailTimeout when it fails.
func TestFailTimeoutTrial(t *testing.T) {
	const a, b = "127.0.0.1:1", "127.0.0.1:2"
	p := newPool(t, Config{Addrs: []string{a, b}, FailTimeout: time.Minute, Balance: "first", Dial: pipeDial})
	clock := manualClock(p)
	failOn(t, p, a) // max_fails 1: down
	if c := get(t, p); c.Upstream() != b {
		t.Fatalf("first while a is down: %s", c.Upstream())
	} else {
		c.Release(true)
	}
	clock.Advance(time.Minute)
	trial := get(t, p)
	if trial.Upstream() != a {
		t.Fatalf("the trial went to %s", trial.Upstream())
	}
	if !stat(p, a).Down {
		t.Fatal("a is up while its trial runs")
	}
	other := get(t, p)
	if other.Upstream() != b {
		t.Fatalf("a second request went to %s during the trial", other.Upstream())
	}
	other.Release(true)
	trial.Fail() // down for another minute
	clock.Advance(time.Minute - time.Nanosecond)
	if c := get(t, p); c.Upstream() != b {
		t.Fatalf("after a failed trial: %s", c.Upstream())
	} else {
		c.Release(true)
	}
	clock.Advance(time.Nanosecond)
	trial = get(t, p)
	if trial.Upstream() != a {
		t.Fatalf("the second trial went to %s", trial.Upstream())
	}
	trial.Release(true) // it ended well: up
	if st := stat(p, a); st.Down || st.Fails != 0 {
		t.Fatalf("after a good trial: %+v", st)
	}
	for range 3 {
		if c := get(t, p); c.Upstream() != a {
			t.Fatalf("a is first again, but %s took a request", c.Upstream())
		} else {
			c.Release(true)
		}
	}
}

// A request handed out before a failure says nothing about the address
// since: ending well, it does not clear the failure.
func TestOlderSuccessKeepsFailure(t *testing.T) {
	const a, b = "127.0.0.1:1", "127.0.0.1:2"
	p := newPool(t, Config{Addrs: []string{a, b}, Balance: "first", Dial: pipeDial})
	manualClock(p)
	older := get(t, p)
	failOn(t, p, a)
	older.Release(true)
	if !stat(p, a).Down {
		t.Fatal("an exchange begun before the failure cleared it")
	}
}

// A pool of one address never marks it down: there is nowhere else to go.
func TestLoneAddressNeverDown(t *testing.T) {
	p := newPool(t, Config{Addrs: []string{"127.0.0.1:1"}, Dial: pipeDial})
	manualClock(p)
	for range 5 {
		c := get(t, p)
		c.Fail()
	}
	if st := p.Stats()[0]; st.Down || st.Fails != 0 {
		t.Fatalf("%+v", st)
	}
	// A refused dial neither.
	addr := testutil.FreeAddr(t)
	p = newPool(t, Config{Addrs: []string{addr}})
	if _, err := p.Get(context.Background()); err == nil {
		t.Fatal("a dial to nothing succeeded")
	}
	if st := p.Stats()[0]; st.Down || st.Fails != 0 {
		t.Fatalf("refused: %+v", st)
	}
}

// MaxFails negative turns passive health off; FailTimeout defaults to
// nginx's 10 s and is kept as given.
func TestMaxFailsOffAndFailTimeout(t *testing.T) {
	const a, b = "127.0.0.1:1", "127.0.0.1:2"
	p := newPool(t, Config{Addrs: []string{a, b}, MaxFails: -1, Dial: pipeDial})
	manualClock(p)
	for range 3 {
		failOn(t, p, a)
	}
	if st := stat(p, a); st.Down || st.Fails != 0 {
		t.Fatalf("max_fails off: %+v", st)
	}
	if got := (Config{}).withDefaults(); got.FailTimeout != DefaultFailTimeout || got.MaxFails != 1 {
		t.Errorf("defaults: fail timeout %v, max fails %d", got.FailTimeout, got.MaxFails)
	}
	p = newPool(t, Config{Addrs: []string{a, b}, FailTimeout: time.Minute, Dial: pipeDial})
	clock := manualClock(p)
	failOn(t, p, a)
	clock.Advance(time.Minute - time.Nanosecond)
	if !stat(p, a).Down {
		t.Fatal("FailTimeout not kept")
	}
}

// MarkDown and MarkUp name an address as configured or as Conn.Upstream
// does; MarkUp clears the failures too.
func TestMarkUpClearsFailures(t *testing.T) {
	const a, b = "127.0.0.1:1", "127.0.0.1:2"
	p := newPool(t, Config{Addrs: []string{a, b}, MaxFails: 2, Dial: pipeDial})
	manualClock(p)
	failOn(t, p, a)
	if st := stat(p, a); st.Fails != 1 {
		t.Fatalf("%+v", st)
	}
	p.MarkUp(a)
	failOn(t, p, a)
	if st := stat(p, a); st.Down || st.Fails != 1 {
		t.Fatalf("after MarkUp, one failure: %+v", st)
	}
}
