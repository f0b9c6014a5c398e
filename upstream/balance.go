package upstream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"

	"gatehouse/internal/upstreamspec"
)

// Selector is a balancing policy: it chooses the address a request's
// connection is taken from.
//
// The pool calls Pick under its lock, once per attempt, with the state of
// every address in configured order, and takes the chosen address if it can
// (it is usable, and has an idle connection or a free slot under MaxConns);
// if it cannot, the pool goes on to the usable addresses after it, in order,
// wrapping around.
// So a policy says where a request goes first, and MaxConns, queueing and
// health stay in the pool, written once.
//
// Pick must be quick and must not call the pool. Since the pool holds its
// lock around Pick, a Selector needs no lock of its own for the state it
// keeps (RoundRobin's weights): give each Pool its own.
type Selector interface {
	// Pick returns an index into addrs, which holds at least one address.
	// key is the request's balancing key (Want.Key), nil when it has none.
	Pick(addrs []Candidate, key []byte) int
}

// Candidate is what a Selector sees of one address: every address of the
// pool is shown, usable or not, so that an index means the same address from
// one pick to the next. The slice Pick receives belongs to the pool: it is
// valid only during the call, and not to be modified.
type Candidate struct {
	Addr string // as configured (see Config.Addrs for a name that resolved to several)
	Open int    // connections counted against MaxConns: in use, idle or being dialed
	Idle int    // idle connections kept for reuse; Open-Idle are busy
	// Usable is false for an address the pool will not take this time: down
	// while another address is up, or already failed to dial for this request.
	Usable bool
	// Weight is the address's share of the requests against the others'
	// (Config.Weights): 1 or more; a zero Weight counts as 1.
	Weight int
}

func (c *Candidate) weight() int { return max(c.Weight, 1) }

// busy is the connections in use (or being dialed): the requests in flight.
func (c *Candidate) busy() int { return c.Open - c.Idle }

// lessLoaded reports whether a has fewer requests in flight than b for its
// weight: busy/weight, compared without division.
func lessLoaded(a, b *Candidate) bool { return a.busy()*b.weight() < b.busy()*a.weight() }

// NewSelector returns a new Selector for the policy named name, one of
// upstreamspec.Policies: "round_robin" (the default, also for ""),
// "least_conn", "ip_hash", "first", "random" or "random_two".
func NewSelector(name string) (Selector, error) {
	switch name {
	case "", "round_robin":
		return new(RoundRobin), nil
	case "least_conn":
		return new(LeastConn), nil
	case "ip_hash":
		return new(IPHash), nil
	case "first":
		return First{}, nil
	case "random":
		return &Random{}, nil
	case "random_two":
		return &RandomTwo{}, nil
	}
	return nil, fmt.Errorf("upstream: no balancing policy %q (want one of %s)", name, strings.Join(upstreamspec.Policies, ", "))
}

// RoundRobin is the default Selector: smooth weighted round robin, as
// nginx's. Each pick adds every usable address's weight to its running
// score, takes the address with the highest score (the first of equals) and
// takes the sum of the weights off its score. With weights 5, 1 and 1, seven
// picks go a a b a c a a: every address gets its share, and the heavy one's
// turns are spread out rather than bunched. With equal weights it is plain
// rotation over the usable addresses, in configured order; an address that is
// down is left out and its score kept, so the others share its turns evenly.
// The sequence depends only on the picks made: tests can pin it.
type RoundRobin struct {
	score []int // one per address, by index
}

var _ Selector = (*RoundRobin)(nil)

func (rr *RoundRobin) Pick(addrs []Candidate, _ []byte) int {
	if len(addrs) <= 1 {
		return 0
	}
	return rr.pick(addrs, nil)
}

// pick runs a round over the usable addresses that tied also accepts (every
// usable one when tied is nil); it returns 0 when there are none.
func (rr *RoundRobin) pick(addrs []Candidate, tied func(*Candidate) bool) int {
	if len(rr.score) != len(addrs) {
		rr.score = make([]int, len(addrs))
	}
	score := rr.score[:len(addrs)]
	best, total := -1, 0
	for i := range addrs {
		c := &addrs[i]
		if !c.Usable || tied != nil && !tied(c) {
			continue
		}
		w := max(c.Weight, 1)
		total += w
		score[i] += w
		if best < 0 || score[i] > score[best] {
			best = i
		}
	}
	if best < 0 {
		return 0
	}
	score[best] -= total
	return best
}

// LeastConn sends a request to the usable address with the fewest requests
// in flight for its weight (busy connections over weight, as nginx's
// least_conn); among equals, smooth weighted round robin chooses. It suits
// requests of very different lengths, where counting turns would pile the
// long ones up on one address.
type LeastConn struct {
	rr RoundRobin
}

var _ Selector = (*LeastConn)(nil)

func (lc *LeastConn) Pick(addrs []Candidate, _ []byte) int {
	best := -1
	for i := range addrs {
		if addrs[i].Usable && (best < 0 || lessLoaded(&addrs[i], &addrs[best])) {
			best = i
		}
	}
	if best < 0 {
		return 0
	}
	b := &addrs[best]
	return lc.rr.pick(addrs, func(c *Candidate) bool { return !lessLoaded(b, c) })
}

// IPHash keeps each key (Want.Key: the client's address) on one address, by
// rendezvous hashing (highest random weight): every usable address scores
// hash(key, address), weighted, and the highest wins. When an address is
// added, removed or down, only the keys it wins (or won) move: about 1/N of
// them, where a hash modulo N would move nearly all. The hash is fixed (FNV-1a
// mixed by SplitMix64's finaliser), so every gatehouse in front of the same
// addresses sends a key to the same one, across restarts. A request without
// a key is balanced round robin.
type IPHash struct {
	rr RoundRobin
	// The hashes of the addresses' names, made on first use.
	names  []string
	hashes []uint64
}

var _ Selector = (*IPHash)(nil)

func (h *IPHash) Pick(addrs []Candidate, key []byte) int {
	if key == nil {
		return h.rr.Pick(addrs, nil)
	}
	if len(addrs) <= 1 {
		return 0
	}
	if len(h.names) != len(addrs) {
		h.names, h.hashes = make([]string, len(addrs)), make([]uint64, len(addrs))
	}
	kh := fnv1a(key)
	equal := true
	for i := range addrs {
		if addrs[i].Usable && addrs[i].weight() != 1 {
			equal = false
		}
	}
	best, bestInt, bestScore := -1, uint64(0), 0.0
	for i := range addrs {
		c := &addrs[i]
		if !c.Usable {
			continue
		}
		if h.names[i] != c.Addr {
			h.names[i], h.hashes[i] = c.Addr, fnv1a([]byte(c.Addr))
		}
		s := mix64(kh ^ h.hashes[i])
		if equal {
			if best < 0 || s > bestInt {
				best, bestInt = i, s
			}
			continue
		}
		// Weighted rendezvous: weight / -ln(u) for u uniform in (0, 1) is
		// highest for an address with probability weight/sum.
		u := (float64(s>>11) + 0.5) / (1 << 53)
		score := float64(c.weight()) / -math.Log(u)
		if best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return 0
	}
	return best
}

// AddrKey is the balancing key of a client's address (Want.Key): its 4 bytes
// for IPv4 (an IPv4-mapped IPv6 address is the IPv4 one), 16 for IPv6; nil
// for the zero Addr, such as a Unix socket's peer.
func AddrKey(a netip.Addr) []byte {
	if !a.IsValid() {
		return nil
	}
	return a.Unmap().AsSlice()
}

func fnv1a(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix64 is SplitMix64's finaliser: every input bit flips about half of the
// output bits, which FNV alone does not do for short inputs.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// First sends every request to the first usable address in configured order:
// the others are standbys, taking requests only while the ones before them are
// down or at MaxConns (failover). Weights do not matter.
type First struct{}

var _ Selector = First{}

func (First) Pick(addrs []Candidate, _ []byte) int {
	for i := range addrs {
		if addrs[i].Usable {
			return i
		}
	}
	return 0
}

// Random sends each request to a usable address drawn at random, in
// proportion to the weights. With many gatehouses in front of the same
// addresses, it spreads the load without the lockstep that round robins
// started together can fall into.
type Random struct {
	intN func(n int) int // rand.IntN; tests give a seeded one
}

var _ Selector = (*Random)(nil)

func (r *Random) Pick(addrs []Candidate, _ []byte) int {
	i, _ := drawWeighted(addrs, -1, r.intN)
	return max(i, 0)
}

// RandomTwo draws two different usable addresses at random (in proportion
// to the weights) and takes the one with fewer requests in flight for its
// weight, the first drawn when they are equal: the power of two choices,
// which keeps the load nearly as even as least_conn's while many gatehouses,
// each seeing only its own requests, share the addresses.
type RandomTwo struct {
	intN func(n int) int
}

var _ Selector = (*RandomTwo)(nil)

func (r *RandomTwo) Pick(addrs []Candidate, _ []byte) int {
	a, total := drawWeighted(addrs, -1, r.intN)
	if a < 0 {
		return 0
	}
	if total == addrs[a].weight() {
		return a // the only usable address
	}
	b, _ := drawWeighted(addrs, a, r.intN)
	if lessLoaded(&addrs[b], &addrs[a]) {
		return b
	}
	return a
}

// drawWeighted draws a usable address other than skip in proportion to the
// weights; it returns -1 when there is none, and the weights' sum, skip's
// included.
func drawWeighted(addrs []Candidate, skip int, intN func(int) int) (int, int) {
	total, skipped := 0, 0
	for i := range addrs {
		if addrs[i].Usable {
			total += addrs[i].weight()
			if i == skip {
				skipped = addrs[i].weight()
			}
		}
	}
	if total-skipped <= 0 {
		return -1, total
	}
	if intN == nil {
		intN = rand.IntN
	}
	r := intN(total - skipped)
	for i := range addrs {
		if !addrs[i].Usable || i == skip {
			continue
		}
		if r -= addrs[i].weight(); r < 0 {
			return i, total
		}
	}
	return -1, total // not reached
}
