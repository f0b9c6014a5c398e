package upstream

import "sync/atomic"

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
// Pick must be quick and must not call the pool. A Selector may keep state
// (RoundRobin's counter): give each Pool its own.
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
	Addr string // as configured
	Open int    // connections counted against MaxConns: in use, idle or being dialed
	Idle int    // idle connections kept for reuse; Open-Idle are busy
	// Usable is false for an address the pool will not take this time: down
	// while another address is up, or already failed to dial for this request.
	Usable bool
}

// RoundRobin is the default Selector: each pick starts one address further
// along the configured list. A turn that lands on an address that cannot take
// the request passes to the next one that can, so while one of three
// addresses is down the address after it takes two turns in three.
type RoundRobin struct {
	next atomic.Uint32
}

var _ Selector = (*RoundRobin)(nil)

func (rr *RoundRobin) Pick(addrs []Candidate, _ []byte) int {
	n := len(addrs)
	if n <= 1 {
		return 0
	}
	return int((rr.next.Add(1) - 1) % uint32(n))
}
