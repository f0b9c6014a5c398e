package upstream

import "time"

// The health of an address: whether the pool skips it. Every rule about it is
// here, and every piece of evidence comes through these functions.
//
// The pool's own evidence is passive, from its dials: a failed dial marks the
// address down for DownFor, a successful one marks it up (nginx's
// max_fails=1, fail_timeout). Evidence from outside the pool comes through
// Pool.MarkDown and Pool.MarkUp: that is where an active checker, probing
// each address on an interval, is to report (there is none yet).
//
// A down address is skipped while another address is up; when every address
// is down, they are all tried anyway (see the package doc).

func (a *address) down(now time.Time) bool { return now.Before(a.downUntil) }

func (a *address) markDown(now time.Time, d time.Duration) { a.downUntil = now.Add(d) }

func (a *address) markUp() { a.downUntil = time.Time{} }

// MarkDown marks the address named addr (as configured in Config.Addrs) down
// for d from now, by the pool's clock, as a failed dial marks it for DownFor;
// a later successful dial, or MarkUp, marks it up again. It reports false,
// doing nothing, when the pool has no such address or d is not positive.
func (p *Pool) MarkDown(addr string, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.lookup(addr)
	if a == nil {
		return false
	}
	a.markDown(p.now(), d)
	return true
}

// MarkUp marks the address named addr up, as a successful dial does. It
// reports false when the pool has no such address.
func (p *Pool) MarkUp(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.lookup(addr)
	if a == nil {
		return false
	}
	a.markUp()
	return true
}

// lookup returns the address named name, under p.mu.
func (p *Pool) lookup(name string) *address {
	for _, a := range p.addrs {
		if a.name == name {
			return a
		}
	}
	return nil
}
