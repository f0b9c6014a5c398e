package upstream

import "time"

// The health of an address: whether the pool skips it. Every rule about it is
// here, and every piece of evidence comes through these functions.
//
// Passive evidence is the traffic's own, with nginx's semantics: a failed
// dial, or an exchange ended with Conn.Fail, is a failure; MaxFails of them
// within FailTimeout (counted from the first) trip the address, which is then
// down for FailTimeout. After that, one request is let through and the
// address is down again for FailTimeout while it runs; a request that ends
// without failing (Release) clears the trip. In a pool of one address,
// failures are not counted: there is nowhere else to go.
//
// Active evidence comes from the health checker (check.go): Fall failed
// probes in a row mark the address down, Rise good ones in a row up again. A
// good probe also clears passive failures, but only those older than the
// probe: a probe that started before a request failed has not seen that
// failure, so it cannot vouch for the address since. The same holds for a
// request: only one handed out after the latest failure clears a trip. An
// epoch, counting failures, tells older from newer without reading clocks.
//
// MarkDown and MarkUp take health learned elsewhere: MarkDown counts as a
// failure that holds the address down for its own duration; MarkUp clears
// everything, the checker's verdict included.
//
// A down address is skipped while another address is up; when every address
// is down, they are all tried anyway (see the package doc).

// health is what the pool knows of an address's health, guarded by Pool.mu.
type health struct {
	downUntil time.Time // skipped until then: passive failures or MarkDown
	fails     int       // passive failures counted in the window begun at failedAt
	failedAt  time.Time
	// tripped: MaxFails was reached (or MarkDown). Once downUntil has
	// passed, a request is let through, and until one ends well the address
	// is down again for FailTimeout each time one is.
	tripped bool
	epoch   uint64 // failures and MarkDowns so far

	probeDown bool // the active check's verdict
	streak    int  // probe results in a row that contradict the verdict
}

// down reports whether a is skipped at now (while another address is up).
func (a *address) down(now time.Time) bool { return a.probeDown || now.Before(a.downUntil) }

// failed records a passive failure of a at now, under p.mu. It reports
// whether the failure tripped a, which was not tripped before.
func (p *Pool) failed(a *address, now time.Time) bool {
	if len(p.addrs) == 1 || p.cfg.MaxFails < 0 {
		return false
	}
	a.epoch++
	if a.fails == 0 || now.Sub(a.failedAt) >= p.cfg.FailTimeout {
		a.fails, a.failedAt = 0, now // a new window
	}
	a.fails++
	if !a.tripped && a.fails < p.cfg.MaxFails {
		return false
	}
	was := a.tripped
	a.tripped = true
	a.downUntil = now.Add(p.cfg.FailTimeout)
	return !was
}

// logDown logs that a failure (err) tripped a.
func (p *Pool) logDown(a *address, err error) {
	p.log.Warn("upstream address down: failed", "addr", a.name, "max_fails", p.cfg.MaxFails,
		"fail_timeout", p.cfg.FailTimeout.String(), "err", err)
}

// succeeded records an exchange on a that ended without failing, begun at
// epoch, under p.mu: it clears a trip that came before it, and reports
// whether it did.
func (p *Pool) succeeded(a *address, epoch uint64) bool {
	if a.tripped && epoch == a.epoch {
		a.clearPassive()
		return true
	}
	return false
}

func (a *address) clearPassive() {
	a.tripped, a.fails, a.downUntil = false, 0, time.Time{}
}

// take notes that a request takes a connection of a, under p.mu. A tripped
// address whose time is up takes this one request alone: it is down again
// until the request ends (or FailTimeout passes).
func (p *Pool) take(a *address, now time.Time) {
	if a.tripped && !now.Before(a.downUntil) {
		a.downUntil = now.Add(p.cfg.FailTimeout)
	}
}

// probed records the result of a probe of a begun at epoch, under p.mu.
func (p *Pool) probed(a *address, ok bool, epoch uint64) {
	hc := p.cfg.Health
	if ok == a.probeDown {
		a.streak++
		if ok && a.streak >= hc.Rise || !ok && a.streak >= hc.Fall {
			a.probeDown, a.streak = !ok, 0
		}
	} else {
		a.streak = 0
	}
	if ok && !a.probeDown && epoch == a.epoch {
		a.clearPassive()
	}
}

// MarkDown marks the address named addr (as configured in Config.Addrs, or
// as Conn.Upstream names it) down for d from now, by the pool's clock; MarkUp,
// a request let through afterwards that ends well, or a good probe that
// starts afterwards, marks it up again. It reports false, doing nothing, when
// the pool has no such address or d is not positive.
func (p *Pool) MarkDown(addr string, d time.Duration) bool {
	if d <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	return p.each(addr, func(a *address) {
		a.epoch++
		a.tripped = true
		a.downUntil = now.Add(d)
	})
}

// MarkUp marks the address named addr up: it clears its failures and the
// active check's verdict (which the next probes decide again). It reports
// false when the pool has no such address.
func (p *Pool) MarkUp(addr string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.each(addr, func(a *address) {
		a.clearPassive()
		a.probeDown, a.streak = false, 0
	})
}

// each calls f for the addresses named name, under p.mu: the one Conn.Upstream
// names so, or every one a configured address resolved to. It reports whether
// there was one.
func (p *Pool) each(name string, f func(*address)) bool {
	found := false
	for _, a := range p.addrs {
		if a.name == name || a.from == name {
			f(a)
			found = true
		}
	}
	return found
}
