package upstream

import (
	"testing"
	"time"
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
