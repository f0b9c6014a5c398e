package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/sockaddr"
	"gatehouse/web"
)

// Errors a Pool's callers see, wrapped in a *web.Error that carries the status.
var (
	// ErrClosed: the pool was closed (the server is stopping or reloading).
	ErrClosed = errors.New("upstream: pool closed")
	// ErrQueueTimeout: every address stayed at MaxConns for QueueTimeout.
	ErrQueueTimeout = errors.New("upstream: no connection free within the queue timeout")
	// ErrQueueFull: MaxQueue requests were already waiting.
	ErrQueueFull = errors.New("upstream: too many requests waiting for a connection")
)

// Pool keeps connections to one group of addresses. It is safe for concurrent
// use.
type Pool struct {
	cfg   Config
	addrs []*address

	// The clock of FailTimeout, IdleTimeout and QueueTimeout: time.Now and
	// time.AfterFunc; tests give a manual one. (A dial's DialTimeout is a
	// context deadline, which the dialer and the kernel keep on the real
	// clock.)
	now       func() time.Time
	afterFunc func(d time.Duration, f func()) (stop func() bool)

	log    *slog.Logger
	checks checker // the active health checks, with Config.Health
	keyed  bool    // the Selector balances by Want.Key

	mu        sync.Mutex
	waiters   []*waiter
	closed    bool
	view      []Candidate // what the Selector is shown, refilled for each pick
	stopPrune func() bool // cancels the next sweep of idle connections; nil when none is armed
}

// address is the pool's state of one server, guarded by Pool.mu (its health:
// health.go).
type address struct {
	name    string // as Candidate.Addr and Conn.Upstream show it
	from    string // as configured: name, unless a host name resolved to several
	network string // "tcp" or "unix"
	addr    string // what is dialed
	weight  int
	open    int       // connections counted against MaxConns: in use, idle or being dialed
	idle    []*Conn   // oldest first; handed out from the end
	unix    *unixAddr // network "unix": the socket's address, made once
	health
}

// waiter is a Get waiting for a connection. A grant is sent under Pool.mu, and
// the waiter leaves the queue under Pool.mu, so a grant is never lost: a
// waiter that finds itself already out of the queue has one in its channel.
type waiter struct {
	ch chan grant // buffered: a grant never blocks the sender
}

type grant struct {
	conn  *Conn    // an idle connection, now the waiter's
	slot  *address // or a reserved slot on this address, to dial
	retry bool     // or pick again: a slot came free where it cannot be reserved
	err   error    // or the pool closed
}

// New returns a pool for cfg. It resolves the host names of cfg.Addrs, and
// starts the active health checks of cfg.Health; Close stops them.
func New(cfg Config) (*Pool, error) {
	p, err := build(cfg)
	if err != nil {
		return nil, err
	}
	p.startChecks()
	return p, nil
}

// build makes the pool without starting its health checks, so that tests
// can give it a clock first.
func build(cfg Config) (*Pool, error) {
	if len(cfg.Addrs) == 0 {
		return nil, errors.New("upstream: no address")
	}
	if len(cfg.Weights) > len(cfg.Addrs) {
		return nil, fmt.Errorf("upstream: %d weights for %d addresses", len(cfg.Weights), len(cfg.Addrs))
	}
	p := &Pool{cfg: cfg.withDefaults(), now: time.Now, afterFunc: afterFunc, log: cfg.Logger}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.cfg.Selector == nil {
		sel, err := NewSelector(cfg.Balance)
		if err != nil {
			return nil, err
		}
		p.cfg.Selector = sel
		_, p.keyed = sel.(*IPHash)
	} else {
		p.keyed = true // a Selector of one's own may use keys
	}
	if err := p.cfg.Health.check(); err != nil {
		return nil, err
	}
	if h := p.cfg.Health; h != nil {
		hc := h.withDefaults()
		p.cfg.Health = &hc
	}
	for i, s := range cfg.Addrs {
		network, addr, err := ParseAddr(s)
		if err != nil {
			return nil, err
		}
		w, err := cfg.weight(i)
		if err != nil {
			return nil, err
		}
		dialed := []string{addr}
		if network == "tcp" && (cfg.Dial == nil || cfg.Resolver != nil) {
			if dialed, err = p.resolve(addr); err != nil {
				return nil, &AddrError{Addr: s, Err: err}
			}
		}
		for _, d := range dialed {
			a := &address{name: s, from: s, network: network, addr: d, weight: w}
			if len(dialed) > 1 {
				a.name = d
			}
			if network == "unix" {
				a.unix = newUnixAddr(addr)
			}
			p.addrs = append(p.addrs, a)
		}
	}
	p.view = make([]Candidate, len(p.addrs))
	for i, a := range p.addrs {
		p.view[i].Addr, p.view[i].Weight = a.name, a.weight
	}
	return p, nil
}

// AddrError is an address of Config.Addrs that New cannot use: a host name
// that does not resolve.
type AddrError struct {
	Addr string // as configured
	Err  error
}

func (e *AddrError) Error() string { return fmt.Sprintf("upstream: address %q: %v", e.Addr, e.Err) }

func (e *AddrError) Unwrap() error { return e.Err }

// resolve returns the addresses to dial for hostport: itself when its host
// is an IP address, else one "ip:port" for each address the name resolves
// to, in the resolver's order, without repeats.
func (p *Pool) resolve(hostport string) ([]string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return []string{hostport}, nil
	}
	r := p.cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.DialTimeout)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ip := range ips {
		s := net.JoinHostPort(ip.Unmap().String(), port)
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("resolve %s: no address", host)
	}
	return out, nil
}

// afterFunc is time.AfterFunc in the shape of Pool.afterFunc.
func afterFunc(d time.Duration, f func()) (stop func() bool) { return time.AfterFunc(d, f).Stop }

// ParseAddr splits an address of Config.Addrs into a network and an address
// for net.Dial: "unix:/run/php/fpm.sock" is ("unix", "/run/php/fpm.sock"),
// "127.0.0.1:9000" is ("tcp", "127.0.0.1:9000"). What it accepts is what
// config accepts (internal/sockaddr.CheckDial).
func ParseAddr(s string) (network, addr string, err error) {
	if err := sockaddr.CheckDial(s); err != nil {
		return "", "", fmt.Errorf("upstream: address %q: %w (want host:port or unix:/path)", s, err)
	}
	network, addr = sockaddr.Split(s)
	return network, addr, nil
}

// Get returns a connection: an idle one when there is one (Conn.Reused), else
// a new one. It waits when every address is at MaxConns (see Config).
func (p *Pool) Get(ctx context.Context) (*Conn, error) { return p.GetWant(ctx, Want{}) }

// GetFresh returns a newly dialed connection, never an idle one: for the
// retry of a request that failed on a reused connection.
func (p *Pool) GetFresh(ctx context.Context) (*Conn, error) { return p.GetWant(ctx, Want{Fresh: true}) }

// Want is what a request asks of the pool beyond a connection.
type Want struct {
	// Key is the request's balancing key, shown to the Selector: ip_hash
	// takes the client's address, as AddrKey (or Pool.KeyFor) makes it.
	// nil: none.
	Key []byte
	// Avoid names addresses (as configured) already tried for this request:
	// a retry goes to another one while there is one.
	Avoid []string
	// Fresh asks for a newly dialed connection, never an idle one.
	Fresh bool
}

// KeyFor returns the balancing key of a client's address for Want.Key:
// AddrKey's when the pool's policy balances by key (ip_hash, or a Selector
// of one's own), else nil, so that other pools pay nothing for it.
func (p *Pool) KeyFor(client netip.Addr) []byte {
	if !p.keyed {
		return nil
	}
	return AddrKey(client)
}

// GetWant is Get for w.
func (p *Pool) GetWant(ctx context.Context, w Want) (*Conn, error) {
	var tried []*address // addresses whose dial failed in this call, and those w avoids
	for _, name := range w.Avoid {
		p.each(name, func(a *address) { // p.addrs and their names never change
			if !slices.Contains(tried, a) {
				tried = append(tried, a)
			}
		})
	}
	avoided := len(tried)
	return p.get(ctx, w.Fresh, w.Key, tried, avoided)
}

func (p *Pool) get(ctx context.Context, fresh bool, key []byte, tried []*address, avoided int) (*Conn, error) {
	var lastErr error
	var deadline time.Time
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errClosed
		}
		c, a, stale, waitable := p.pick(fresh, key, tried)
		if c == nil && a == nil && !waitable && avoided > 0 && len(tried) == avoided {
			// Every address was tried before: a retry may go back to one.
			tried, avoided = tried[:0], 0
			p.mu.Unlock()
			closeAll(stale)
			continue
		}
		if c == nil && a == nil {
			if !waitable {
				p.mu.Unlock()
				closeAll(stale)
				return nil, lastErr // every address failed to dial
			}
			if p.cfg.QueueTimeout < 0 || p.cfg.MaxQueue > 0 && len(p.waiters) >= p.cfg.MaxQueue {
				p.mu.Unlock()
				closeAll(stale)
				return nil, p.queueError(ErrQueueFull)
			}
			w := &waiter{ch: make(chan grant, 1)}
			p.waiters = append(p.waiters, w)
			p.mu.Unlock()
			closeAll(stale)
			if deadline.IsZero() {
				deadline = p.now().Add(p.cfg.QueueTimeout)
			}
			g, err := p.wait(ctx, w, deadline)
			if err != nil {
				return nil, err
			}
			switch {
			case g.err != nil:
				return nil, g.err
			case g.retry:
				continue
			case g.conn != nil:
				c, a = g.conn, nil
			default:
				c, a = nil, g.slot
			}
		} else {
			p.mu.Unlock()
			closeAll(stale)
		}
		if c != nil {
			if !fresh && alive(c.Conn) {
				return c, nil
			}
			// Dead, or not wanted: close it and dial in its slot.
			c.Conn.Close()
			a = c.addr
		}
		conn, err := p.dial(ctx, a)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		tried = append(tried, a)
		lastErr = err
	}
}

// pick chooses, under p.mu, an idle connection (handed out: c) or a slot to
// dial (reserved: a) among the usable addresses: those up and not in tried,
// or every address not in tried when none is up. The Selector names the
// address to try first; the others follow in order. stale returns
// connections to close outside the lock. With neither, waitable says whether
// an address is only busy, so that waiting may help.
func (p *Pool) pick(fresh bool, key []byte, tried []*address) (c *Conn, a *address, stale []*Conn, waitable bool) {
	now := p.now()
	n := len(p.addrs)
	anyUp := false
	for i, a := range p.addrs {
		up := !a.down(now) && (len(tried) == 0 || !slices.Contains(tried, a))
		anyUp = anyUp || up
		v := &p.view[i] // Addr and Weight were set by New
		v.Open, v.Idle, v.Usable = a.open, len(a.idle), up
	}
	if !anyUp { // every address is down: try those not tried yet anyway
		for i, a := range p.addrs {
			p.view[i].Usable = !slices.Contains(tried, a)
		}
	}
	start := p.cfg.Selector.Pick(p.view, key)
	for i := range n {
		j := (start + i) % n
		a := p.addrs[j]
		if !p.view[j].Usable {
			continue
		}
		waitable = true
		stale = p.expire(a, now, stale)
		switch {
		case !fresh && len(a.idle) > 0:
			c = a.idle[len(a.idle)-1]
			a.idle[len(a.idle)-1] = nil
			a.idle = a.idle[:len(a.idle)-1]
			c.out, c.epoch = true, a.epoch
			p.take(a, now)
			return c, nil, stale, true
		case a.open < p.cfg.MaxConns:
			a.open++
			p.take(a, now)
			return nil, a, stale, true
		case fresh && len(a.idle) > 0:
			// A fresh connection takes the slot of the oldest idle one.
			stale = append(stale, a.idle[0])
			a.idle = slices.Delete(a.idle, 0, 1)
			p.take(a, now)
			return nil, a, stale, true
		}
	}
	return nil, nil, stale, waitable
}

// expire removes a's idle connections unused for IdleTimeout, under p.mu.
func (p *Pool) expire(a *address, now time.Time, stale []*Conn) []*Conn {
	k := 0
	for k < len(a.idle) && now.Sub(a.idle[k].idleSince) >= p.cfg.IdleTimeout {
		k++
	}
	if k > 0 {
		stale = append(stale, a.idle[:k]...)
		a.idle = slices.Delete(a.idle, 0, k)
		for range k {
			p.freeSlot(a)
		}
	}
	return stale
}

// wait waits for w's grant until deadline or ctx ends.
func (p *Pool) wait(ctx context.Context, w *waiter, deadline time.Time) (grant, error) {
	expired := make(chan struct{})
	if d := deadline.Sub(p.now()); d > 0 {
		stop := p.afterFunc(d, func() { close(expired) })
		defer stop()
	} else {
		close(expired) // a retry after the deadline: give up, unless granted meanwhile
	}
	select {
	case g := <-w.ch:
		return g, nil
	case <-expired:
		if g, ok := p.leave(w); ok {
			return g, nil // granted as the timer fired: use it
		}
		return grant{}, p.queueError(ErrQueueTimeout)
	case <-ctx.Done():
		if g, ok := p.leave(w); ok {
			p.giveBack(g)
		}
		return grant{}, fmt.Errorf("upstream: wait for a connection: %w", ctx.Err())
	}
}

// leave takes w out of the queue. If it was already out, a grant is in its
// channel, which leave returns.
func (p *Pool) leave(w *waiter) (grant, bool) {
	p.mu.Lock()
	if i := slices.Index(p.waiters, w); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.mu.Unlock()
		return grant{}, false
	}
	p.mu.Unlock()
	return <-w.ch, true
}

// giveBack returns a grant its waiter no longer wants.
func (p *Pool) giveBack(g grant) {
	switch {
	case g.conn != nil:
		g.conn.Release(true)
	case g.slot != nil:
		p.mu.Lock()
		p.freeSlot(g.slot)
		p.mu.Unlock()
	}
}

// freeSlot gives up one of a's slots, under p.mu: to the first waiter when
// there is one (reserved for it on a, or a retry when a is down), else back
// to a.
func (p *Pool) freeSlot(a *address) {
	a.open--
	w := p.popWaiter()
	if w == nil {
		return
	}
	now := p.now()
	if a.down(now) {
		w.ch <- grant{retry: true}
		return
	}
	a.open++
	p.take(a, now)
	w.ch <- grant{slot: a}
}

func (p *Pool) popWaiter() *waiter {
	if len(p.waiters) == 0 {
		return nil
	}
	w := p.waiters[0]
	p.waiters = slices.Delete(p.waiters, 0, 1)
	return w
}

// dial connects to a in a slot reserved for it.
func (p *Pool) dial(ctx context.Context, a *address) (*Conn, error) {
	var nc net.Conn
	var err error
	timedOut := false
	if a.network == "unix" && p.cfg.Dial == nil {
		nc, err = dialUnix(a.unix)
	} else {
		// On the real clock, not p.now: the deadline is the dialer's, kept by
		// the kernel's connect, and its expiry must read as a timeout (504).
		dctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
		nc, err = p.cfg.dial()(dctx, a.network, a.addr)
		timedOut = dctx.Err() == context.DeadlineExceeded
		cancel()
	}
	p.mu.Lock()
	epoch := a.epoch
	if err != nil {
		tripped := false
		if ctx.Err() == nil {
			tripped = p.failed(a, p.now()) // the address failed, not the caller
		}
		p.freeSlot(a)
		p.mu.Unlock()
		if tripped {
			p.logDown(a, err)
		}
		status := 502
		if timedOut && ctx.Err() == nil {
			status = 504
		}
		return nil, &web.Error{Status: status, Err: fmt.Errorf("upstream: dial %s: %w", a.name, err)}
	}
	closed := p.closed
	if closed {
		p.freeSlot(a)
	}
	p.mu.Unlock()
	if closed {
		nc.Close()
		return nil, errClosed
	}
	c := &Conn{Conn: nc, pool: p, addr: a, out: true, epoch: epoch}
	c.abort = c.Abort
	return c, nil
}

var errClosed = &web.Error{Status: 503, Err: ErrClosed}

func (p *Pool) queueError(err error) error {
	return &web.Error{Status: 503, RetryAfter: p.cfg.RetryAfter, Err: err}
}

// release takes c back, under p.mu; it reports whether c is to be closed.
func (p *Pool) release(c *Conn, reusable bool) (closeIt bool) {
	if !c.out {
		return false // released twice: the first release decided
	}
	c.out = false
	a := c.addr
	if reusable && !p.closed && p.cfg.MaxIdle > 0 {
		c.reused = true
		if w := p.popWaiter(); w != nil {
			c.out, c.epoch = true, a.epoch
			p.take(a, p.now())
			w.ch <- grant{conn: c}
			return false
		}
		if len(a.idle) < p.cfg.MaxIdle {
			c.idleSince = p.now()
			a.idle = append(a.idle, c)
			p.schedulePrune()
			return false
		}
	}
	p.freeSlot(a)
	return true
}

// schedulePrune arms the sweep of idle connections, under p.mu.
func (p *Pool) schedulePrune() {
	if p.stopPrune == nil && !p.closed {
		p.stopPrune = p.afterFunc(p.cfg.IdleTimeout, p.prune)
	}
}

// prune closes idle connections past IdleTimeout and re-arms itself while
// idle connections remain.
func (p *Pool) prune() {
	p.mu.Lock()
	p.stopPrune = nil
	now := p.now()
	var stale []*Conn
	next := time.Duration(-1)
	for _, a := range p.addrs {
		stale = p.expire(a, now, stale)
		if len(a.idle) > 0 {
			if d := a.idle[0].idleSince.Add(p.cfg.IdleTimeout).Sub(now); next < 0 || d < next {
				next = d
			}
		}
	}
	if next >= 0 && !p.closed {
		p.stopPrune = p.afterFunc(max(next, time.Millisecond), p.prune)
	}
	p.mu.Unlock()
	closeAll(stale)
}

// Close closes the idle connections, fails the waiting callers and stops the
// health checks (waiting for a probe under way to be cut short); connections
// in use are closed when they are released. Get fails from now on.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var stale []*Conn
	for _, a := range p.addrs {
		stale = append(stale, a.idle...)
		a.open -= len(a.idle)
		a.idle = nil
	}
	for _, w := range p.waiters {
		w.ch <- grant{err: errClosed}
	}
	p.waiters = nil
	if p.stopPrune != nil {
		p.stopPrune()
		p.stopPrune = nil
	}
	if p.checks.stop != nil {
		p.checks.stop()
		p.checks.stop = nil
	}
	p.mu.Unlock()
	closeAll(stale)
	p.stopChecks()
	return nil
}

func closeAll(cs []*Conn) {
	for _, c := range cs {
		c.Conn.Close()
	}
}

// String names the pool's addresses, comma-separated, for the log.
func (p *Pool) String() string {
	names := make([]string, len(p.addrs))
	for i, a := range p.addrs {
		names[i] = a.name
	}
	return strings.Join(names, ",")
}

// AddrStats describes one address of a pool.
type AddrStats struct {
	Addr string // as Conn.Upstream names it
	Open int    // connections in use, idle or being dialed
	Idle int    // idle connections
	// Down: skipped while another address is up, for passive failures,
	// MarkDown or the active check.
	Down bool
	// Fails counts the passive failures of the current window (see
	// Config.MaxFails).
	Fails int
	// CheckDown: the active check's verdict is down.
	CheckDown bool
}

// Stats returns the state of every address, in configured order.
func (p *Pool) Stats() []AddrStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	out := make([]AddrStats, len(p.addrs))
	for i, a := range p.addrs {
		out[i] = AddrStats{Addr: a.name, Open: a.open, Idle: len(a.idle), Down: a.down(now), Fails: a.fails, CheckDown: a.probeDown}
	}
	return out
}
