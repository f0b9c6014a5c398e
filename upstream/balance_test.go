package upstream

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/upstreamspec"
)

// The default policy, turn by turn. An address that is down is left out of
// the rotation and the others share its turns; before smooth weighted round
// robin, its turn passed to the next address, which then took two turns in
// three (3 3 1 3 3 here): the rotation now keeps the load even, as nginx's.
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
	// 1 and 3 alternate; 3 first, having waited longest (its score is the
	// highest when 2 goes down).
	if got := turns(5); !slices.Equal(got, []string{"3", "3", "1", "3", "1"}) {
		t.Fatalf("2 down: %v", got)
	}
	clock.Advance(time.Minute)
	// 2 comes back with the score it had: it goes first.
	if got := turns(6); !slices.Equal(got, []string{"2", "3", "1", "2", "3", "1"}) {
		t.Fatalf("2 up again: %v", got)
	}
	if len(p.Stats()) != 3 || p.Stats()[1].Down {
		t.Fatalf("%+v", p.Stats())
	}
}

// pickSeq runs n picks of s over addrs and returns the indices chosen.
func pickSeq(s Selector, addrs []Candidate, key []byte, n int) []int {
	var got []int
	for range n {
		got = append(got, s.Pick(addrs, key))
	}
	return got
}

// cands returns candidates of the given weights, all usable, named a0, a1...
func cands(weights ...int) []Candidate {
	out := make([]Candidate, len(weights))
	for i, w := range weights {
		out[i] = Candidate{Addr: "a" + strconv.Itoa(i), Usable: true, Weight: w}
	}
	return out
}

func TestRoundRobinPick(t *testing.T) {
	for _, c := range []struct {
		name  string
		addrs []Candidate
		want  []int
	}{
		{"one", cands(1), []int{0, 0, 0}},
		{"two", cands(1, 1), []int{0, 1, 0, 1}},
		{"three", cands(1, 1, 1), []int{0, 1, 2, 0, 1, 2}},
		{"none usable", make([]Candidate, 3), []int{0, 0, 0}},
		{"zero weights count as 1", []Candidate{{Usable: true}, {Usable: true, Weight: 1}}, []int{0, 1, 0, 1}},
		{"weights 5 1 1 (nginx's example)", cands(5, 1, 1), []int{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}},
		{"weights 2 1", cands(2, 1), []int{0, 1, 0, 0, 1, 0}},
		{"weights 1 3", cands(1, 3), []int{1, 0, 1, 1, 1, 0, 1, 1}},
		{"the middle one unusable", []Candidate{{Usable: true}, {}, {Usable: true}}, []int{0, 2, 0, 2}},
		{"only the last usable", []Candidate{{}, {}, {Usable: true, Weight: 9}}, []int{2, 2, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := pickSeq(new(RoundRobin), c.addrs, nil, len(c.want)); !slices.Equal(got, c.want) {
				t.Errorf("%v, want %v", got, c.want)
			}
		})
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
		{{"a:1", 0, 0, true, 1}, {"b:1", 0, 0, true, 1}, {"c:1", 0, 0, true, 1}},
		{{"a:1", 0, 0, true, 1}, {"b:1", 0, 0, true, 1}, {"c:1", 1, 1, true, 1}},
		{{"a:1", 0, 0, true, 1}, {"b:1", 0, 0, true, 1}, {"c:1", 1, 0, true, 1}},
	}
	for i, w := range want {
		if !slices.Equal(sel.seen[i], w) {
			t.Errorf("pick %d saw %+v, want %+v", i, sel.seen[i], w)
		}
	}
	if got := sel.seen[3]; !slices.Equal(got, []Candidate{{"a:1", 1, 0, true, 1}, {"b:1", 0, 0, false, 1}, {"c:1", 1, 0, false, 1}}) {
		t.Errorf("with b and c down: %+v", got)
	}
	c.Release(false)
	next.Release(false)
}

func TestNewSelector(t *testing.T) {
	for name, want := range map[string]Selector{
		"": new(RoundRobin), "round_robin": new(RoundRobin), "least_conn": new(LeastConn),
		"ip_hash": new(IPHash), "first": First{}, "random": &Random{}, "random_two": &RandomTwo{},
	} {
		s, err := NewSelector(name)
		if err != nil || reflect.TypeOf(s) != reflect.TypeOf(want) {
			t.Errorf("%q: %T, %v", name, s, err)
		}
	}
	for _, name := range upstreamspec.Policies {
		if _, err := NewSelector(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	if _, err := NewSelector("hash"); err == nil || !strings.Contains(err.Error(), "round_robin, least_conn") {
		t.Errorf("an unknown policy: %v", err)
	}
	// Each call makes a Selector of its own: pools never share one.
	a, _ := NewSelector("round_robin")
	b, _ := NewSelector("round_robin")
	if a == b {
		t.Error("two pools would share a RoundRobin")
	}
	if _, err := New(Config{Addrs: []string{"127.0.0.1:1"}, Balance: "nope", Dial: pipeDial}); err == nil {
		t.Error("New with an unknown policy")
	}
}

// busy returns candidates with the given requests in flight (and one idle
// connection each, which does not count), all usable, weight 1.
func busy(n ...int) []Candidate {
	out := cands(make([]int, len(n))...)
	for i, b := range n {
		out[i].Open, out[i].Idle = b+1, 1
	}
	return out
}

func TestLeastConn(t *testing.T) {
	weighted := busy(4, 2, 1)
	weighted[0].Weight = 4 // 4/4 = 1 in flight per unit of weight: ties with the last, and goes round 4 times to its 1
	down := busy(0, 5, 3)
	down[0].Usable = false
	for _, c := range []struct {
		name  string
		addrs []Candidate
		want  []int
	}{
		{"the least busy", busy(3, 1, 2), []int{1, 1, 1}},
		{"ties go round", busy(1, 0, 0, 1), []int{1, 2, 1, 2}},
		{"all equal: round robin", busy(2, 2, 2), []int{0, 1, 2, 0}},
		{"busy over weight", weighted, []int{0, 0, 2, 0, 0}},
		{"a down address is not the least busy", down, []int{2, 2}},
		{"none usable", make([]Candidate, 2), []int{0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := pickSeq(new(LeastConn), c.addrs, nil, len(c.want)); !slices.Equal(got, c.want) {
				t.Errorf("%v, want %v", got, c.want)
			}
		})
	}
	// Through a pool: held connections steer the next one away.
	p := newPool(t, Config{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, Balance: "least_conn", Dial: pipeDial})
	manualClock(p)
	a, b := get(t, p), get(t, p)
	if a.Upstream() != "127.0.0.1:1" || b.Upstream() != "127.0.0.1:2" {
		t.Fatalf("%s, %s", a.Upstream(), b.Upstream())
	}
	a.Release(true) // 1 is idle now, 2 busy, 3 never used
	for range 4 {
		c := get(t, p)
		if c.Upstream() == "127.0.0.1:2" {
			t.Fatalf("the busy address took a request")
		}
		c.Release(true)
	}
	b.Release(true)
}

func TestFirst(t *testing.T) {
	addrs := cands(1, 5, 1)
	if got := pickSeq(First{}, addrs, nil, 3); !slices.Equal(got, []int{0, 0, 0}) {
		t.Fatalf("all up: %v", got)
	}
	addrs[0].Usable = false
	if got := pickSeq(First{}, addrs, nil, 3); !slices.Equal(got, []int{1, 1, 1}) {
		t.Fatalf("the first down: %v", got)
	}
	// Through a pool: the second takes over only while the first is full.
	p := newPool(t, Config{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, Balance: "first", MaxConns: 2, Dial: pipeDial})
	manualClock(p)
	var held []*Conn
	for range 3 {
		held = append(held, get(t, p))
	}
	if held[0].Upstream() != "127.0.0.1:1" || held[1].Upstream() != "127.0.0.1:1" || held[2].Upstream() != "127.0.0.1:2" {
		t.Fatalf("%s %s %s", held[0].Upstream(), held[1].Upstream(), held[2].Upstream())
	}
	for _, c := range held {
		c.Release(false)
	}
	if c := get(t, p); c.Upstream() != "127.0.0.1:1" {
		t.Fatalf("back to %s", c.Upstream())
	} else {
		c.Release(false)
	}
}

// seeded returns a deterministic IntN for the random policies.
func seeded() func(int) int { return rand.New(rand.NewPCG(1, 2)).IntN }

// shares picks n times and returns how often each address was chosen.
func shares(s Selector, addrs []Candidate, n int) []int {
	got := make([]int, len(addrs))
	for range n {
		got[s.Pick(addrs, nil)]++
	}
	return got
}

// near reports whether got is within 5% of n*w/sum(w) for every address.
func near(got []int, n int, w ...int) bool {
	sum := 0
	for _, x := range w {
		sum += x
	}
	for i, x := range w {
		want := float64(n) * float64(x) / float64(sum)
		if math.Abs(float64(got[i])-want) > 0.05*float64(n) {
			return false
		}
	}
	return true
}

func TestRandom(t *testing.T) {
	const n = 30000
	for _, c := range []struct {
		name  string
		addrs []Candidate
		w     []int // the shares expected
	}{
		{"equal", cands(1, 1, 1), []int{1, 1, 1}},
		{"weighted", cands(3, 1), []int{3, 1}},
		{"one down", []Candidate{{Usable: true}, {}, {Usable: true, Weight: 2}}, []int{1, 0, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := shares(&Random{intN: seeded()}, c.addrs, n)
			if !near(got, n, c.w...) {
				t.Errorf("%v for weights %v", got, c.w)
			}
			// The same seed, the same sequence.
			a := pickSeq(&Random{intN: seeded()}, c.addrs, nil, 50)
			b := pickSeq(&Random{intN: seeded()}, c.addrs, nil, 50)
			if !slices.Equal(a, b) {
				t.Error("not deterministic for one seed")
			}
		})
	}
	if got := (&Random{}).Pick(make([]Candidate, 2), nil); got != 0 {
		t.Errorf("none usable: %d", got)
	}
	// The default source works too.
	if got := shares(&Random{}, cands(1, 1), 1000); got[0] == 0 || got[1] == 0 {
		t.Errorf("rand.IntN: %v", got)
	}
}

func TestRandomTwo(t *testing.T) {
	const n = 30000
	// Equal load: as random.
	if got := shares(&RandomTwo{intN: seeded()}, cands(1, 1, 1), n); !near(got, n, 1, 1, 1) {
		t.Errorf("equal load: %v", got)
	}
	// Two draws never take the busiest of three unless it is drawn with
	// itself, which they never are: it gets nothing.
	if got := shares(&RandomTwo{intN: seeded()}, busy(0, 9, 3), n); got[1] != 0 || !near(got, n, 2, 0, 1) {
		t.Errorf("uneven load: %v", got)
	}
	// A lone usable address is taken without a second draw.
	lone := busy(5, 0)
	lone[1].Usable = false
	if got := pickSeq(&RandomTwo{intN: seeded()}, lone, nil, 3); !slices.Equal(got, []int{0, 0, 0}) {
		t.Errorf("lone: %v", got)
	}
	if got := (&RandomTwo{}).Pick(make([]Candidate, 2), nil); got != 0 {
		t.Errorf("none usable: %d", got)
	}
	a := pickSeq(&RandomTwo{intN: seeded()}, busy(1, 2, 1, 0), nil, 50)
	b := pickSeq(&RandomTwo{intN: seeded()}, busy(1, 2, 1, 0), nil, 50)
	if !slices.Equal(a, b) {
		t.Error("not deterministic for one seed")
	}
}

// keys returns n client addresses as balancing keys.
func keys(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = AddrKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	return out
}

// hashed returns the address each key goes to.
func hashed(addrs []Candidate, ks [][]byte) []string {
	h := new(IPHash)
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = addrs[h.Pick(addrs, k)].Addr
	}
	return out
}

func TestIPHash(t *testing.T) {
	const n = 20000
	ks := keys(n)
	ten := cands(1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	before := hashed(ten, ks)

	// Even: each of 10 addresses gets about a tenth.
	count := map[string]int{}
	for _, a := range before {
		count[a]++
	}
	for _, c := range ten {
		if x := count[c.Addr]; math.Abs(float64(x)-n/10) > n/10*0.1 {
			t.Errorf("%s has %d keys of %d", c.Addr, x, n)
		}
	}
	// The same key, the same address, whatever came before; and a fresh
	// selector (another gatehouse, a restart) agrees.
	if again := hashed(ten, ks); !slices.Equal(again, before) {
		t.Fatal("not stable")
	}
	h := new(IPHash)
	for range 3 {
		h.Pick(ten, nil) // keyless picks go round robin, and change nothing
	}
	for i, k := range ks[:100] {
		if got := ten[h.Pick(ten, k)].Addr; got != before[i] {
			t.Fatalf("key %d: %s, then %s", i, before[i], got)
		}
	}

	moved := func(a, b []string) (n int) {
		for i := range a {
			if a[i] != b[i] {
				n++
			}
		}
		return n
	}
	// One address removed (or down): only its keys move, about 1/10.
	nine := slices.Clone(ten)
	nine[4].Usable = false
	after := hashed(nine, ks)
	for i := range ks {
		if before[i] != after[i] && before[i] != "a4" {
			t.Fatalf("key %d moved from %s, which is still up, to %s", i, before[i], after[i])
		}
	}
	if m := moved(before, after); m != count["a4"] || math.Abs(float64(m)-n/10) > n/10*0.1 {
		t.Errorf("removing one of 10 moved %d keys of %d", m, n)
	}
	// One added: about 1/11 move, all to it.
	eleven := append(slices.Clone(ten), Candidate{Addr: "a10", Usable: true})
	after = hashed(eleven, ks)
	for i := range ks {
		if before[i] != after[i] && after[i] != "a10" {
			t.Fatalf("key %d moved from %s to %s, not to the new address", i, before[i], after[i])
		}
	}
	if m := moved(before, after); math.Abs(float64(m)-n/11) > n/11*0.1 {
		t.Errorf("adding an 11th moved %d keys of %d, want about %d", m, n, n/11)
	}
	// Weights: 3 1 takes about 3/4 and 1/4; a modulo would too, but only
	// rendezvous keeps the keys of an address whose weight did not change.
	w := cands(3, 1)
	count = map[string]int{}
	for _, a := range hashed(w, ks) {
		count[a]++
	}
	if !near([]int{count["a0"], count["a1"]}, n, 3, 1) {
		t.Errorf("weights 3 1: %v", count)
	}
	// No key: round robin.
	if got := pickSeq(new(IPHash), cands(1, 1, 1), nil, 4); !slices.Equal(got, []int{0, 1, 2, 0}) {
		t.Errorf("no key: %v", got)
	}
	if got := (new(IPHash)).Pick(make([]Candidate, 2), []byte{1}); got != 0 {
		t.Errorf("none usable: %d", got)
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string][]byte{
		"192.0.2.7":        {192, 0, 2, 7},
		"::ffff:192.0.2.7": {192, 0, 2, 7},
		"2001:db8::1":      netip.MustParseAddr("2001:db8::1").AsSlice(),
	} {
		if got := AddrKey(netip.MustParseAddr(in)); !slices.Equal(got, want) {
			t.Errorf("%s: %v", in, got)
		}
	}
	if AddrKey(netip.Addr{}) != nil {
		t.Error("the zero Addr has a key")
	}
}

// Weights through a pool: Config.Weights, in the order of Addrs, and
// round_robin's smooth order over them.
func TestWeights(t *testing.T) {
	p := newPool(t, Config{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, Weights: []int{5, 0}, Dial: pipeDial})
	manualClock(p)
	var got []string
	for range 7 {
		c := get(t, p)
		got = append(got, c.Upstream()[len("127.0.0.1:"):])
		c.Release(false)
	}
	if !slices.Equal(got, []string{"1", "1", "2", "1", "3", "1", "1"}) {
		t.Fatalf("weights 5 1 1: %v", got)
	}
	for _, c := range []struct {
		addrs   []string
		weights []int
	}{
		{[]string{"127.0.0.1:1"}, []int{1, 1}},
		{[]string{"127.0.0.1:1"}, []int{-1}},
		{[]string{"127.0.0.1:1"}, []int{upstreamspec.MaxWeight + 1}},
	} {
		if _, err := New(Config{Addrs: c.addrs, Weights: c.weights, Dial: pipeDial}); err == nil {
			t.Errorf("weights %v accepted", c.weights)
		}
	}
	newPool(t, Config{Addrs: []string{"127.0.0.1:1"}, Weights: []int{upstreamspec.MaxWeight}, Dial: pipeDial})
}
