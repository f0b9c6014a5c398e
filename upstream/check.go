package upstream

import (
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/httpspec"
	"gatehouse/internal/upstreamspec"
)

// Defaults for HealthCheck.
const (
	DefaultCheckInterval = 10 * time.Second
	DefaultCheckTimeout  = 2 * time.Second
	DefaultRise          = 2
	DefaultFall          = 3
	DefaultCheckPath     = "/"
	DefaultExpectStatus  = "2xx"
)

// MaxCheckBody is how much of a response's body an HTTP check reads for
// ExpectBody, and how much a TCP check reads looking for Expect.
const MaxCheckBody = upstreamspec.MaxCheckBytes

// HealthCheck describes the active health checks of a pool: every Interval
// (give or take a tenth, so that many pools, or many gatehouses, do not probe
// in step), each address is probed on a connection of its own, which counts
// against no limit. Fall failed probes in a row mark an address down; Rise
// good ones in a row, up again. A pool starts with every address up, and
// probes at once.
//
// A good probe also clears the passive failures that came before it (see
// health.go), never those that came while it ran: a probe result never erases
// fresher evidence.
type HealthCheck struct {
	// Kind is "http" (a request, and a look at the response) or "tcp" (a
	// connect, and optionally bytes sent and expected). Required.
	Kind string

	// Path is the HTTP check's request target. Default "/".
	Path string
	// Host is the HTTP check's Host field. Default: the address as
	// configured ("localhost" for a Unix socket).
	Host string
	// ExpectStatus is the status a good response has: a code ("200") or a
	// class ("2xx"). Default "2xx". A redirect is a failure unless asked
	// for: the check follows none.
	ExpectStatus string
	// ExpectBody, if set, is a regular expression (RE2 syntax) that the
	// first MaxCheckBody bytes of a good response's body match.
	ExpectBody string

	// Send is written by the TCP check once connected. Default: nothing.
	Send string
	// Expect, if set, must arrive within the first MaxCheckBody bytes the
	// server sends (a banner, or the answer to Send) for the TCP check to be
	// good. Default: the connect alone is enough, even if the server then
	// closes the connection.
	Expect string

	// Interval is the time from the end of one round of probes to the start
	// of the next. Default 10 s.
	Interval time.Duration
	// Timeout bounds a probe: connect, request and response. Default 2 s.
	// A server that accepts and never answers fails at Timeout.
	Timeout time.Duration
	// Rise is how many good probes in a row bring a down address up.
	// Default 2.
	Rise int
	// Fall is how many failed probes in a row take an up address down.
	// Default 3.
	Fall int

	status upstreamspec.Status
	body   *regexp.Regexp
}

func (h HealthCheck) withDefaults() HealthCheck {
	if h.Kind == "http" {
		if h.Path == "" {
			h.Path = DefaultCheckPath
		}
		if h.ExpectStatus == "" {
			h.ExpectStatus = DefaultExpectStatus
		}
		h.status, _ = upstreamspec.ParseStatus(h.ExpectStatus) // checked
		if h.ExpectBody != "" {
			h.body = regexp.MustCompile(h.ExpectBody) // checked
		}
	}
	if h.Interval <= 0 {
		h.Interval = DefaultCheckInterval
	}
	if h.Timeout <= 0 {
		h.Timeout = DefaultCheckTimeout
	}
	if h.Rise <= 0 {
		h.Rise = DefaultRise
	}
	if h.Fall <= 0 {
		h.Fall = DefaultFall
	}
	return h
}

// check reports what makes h unusable; a nil h is none.
func (h *HealthCheck) check() error {
	if h == nil {
		return nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("upstream: health check: "+format, args...)
	}
	if !upstreamspec.IsCheckKind(h.Kind) {
		return bad("kind %q is not one of %s", h.Kind, strings.Join(upstreamspec.CheckKinds, ", "))
	}
	if h.Kind == "http" {
		if h.Path != "" && !upstreamspec.ValidPath(h.Path) {
			return bad("path %q is not an origin-form target (\"/health\")", h.Path)
		}
		if h.Host != "" && !httpspec.ValidHost(h.Host) {
			return bad("host %q is not a host name", h.Host)
		}
		if h.ExpectStatus != "" {
			if _, err := upstreamspec.ParseStatus(h.ExpectStatus); err != nil {
				return bad("expect_status %q is %w", h.ExpectStatus, err)
			}
		}
		if _, err := regexp.Compile(h.ExpectBody); err != nil {
			return bad("expect_body: %w", err)
		}
	}
	if h.Rise > upstreamspec.MaxRiseFall || h.Fall > upstreamspec.MaxRiseFall {
		return bad("rise and fall are at most %d", upstreamspec.MaxRiseFall)
	}
	if len(h.Expect) > MaxCheckBody {
		return bad("expect is longer than %d bytes", MaxCheckBody)
	}
	return nil
}

// The checker: one goroutine per pool with a HealthCheck, started by New and
// ended by Close. It probes every address at once, records the results, then
// waits Interval on the pool's clock.
type checker struct {
	cancel context.CancelFunc
	done   chan struct{}
	stop   func() bool // cancels the armed wait; under Pool.mu
	// jitter turns Interval into the wait before the next round; tests
	// give one that keeps it as it is.
	jitter func(time.Duration) time.Duration
	// afterRound, when set (by tests), is called after each round's results
	// are recorded.
	afterRound func()
}

// jitter spreads d by up to a tenth either way.
func jitter(d time.Duration) time.Duration {
	if d < 10 {
		return d
	}
	return d - d/10 + rand.N(d/5)
}

// startChecks starts the checker of a pool with a HealthCheck.
func (p *Pool) startChecks() {
	if p.cfg.Health == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.checks.cancel = cancel
	p.checks.done = make(chan struct{})
	if p.checks.jitter == nil {
		p.checks.jitter = jitter
	}
	go p.checkLoop(ctx)
}

// stopChecks ends the checker and waits for it: a probe under way is cut
// short (its connection closed), and its result dropped.
func (p *Pool) stopChecks() {
	if p.checks.cancel == nil {
		return
	}
	p.checks.cancel()
	<-p.checks.done
}

func (p *Pool) checkLoop(ctx context.Context) {
	defer close(p.checks.done)
	hc := p.cfg.Health
	tick := make(chan struct{}, 1)
	fire := func() {
		select {
		case tick <- struct{}{}:
		default:
		}
	}
	for {
		p.probeAll(ctx, hc)
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.checks.stop = p.afterFunc(p.checks.jitter(hc.Interval), fire)
		p.mu.Unlock()
		if f := p.checks.afterRound; f != nil {
			f() // after the wait is armed: a test may move the clock at once
		}
		select {
		case <-tick:
		case <-ctx.Done():
			return
		}
	}
}

// probeAll probes every address at once and records the results, unless the
// pool is closing.
func (p *Pool) probeAll(ctx context.Context, hc *HealthCheck) {
	n := len(p.addrs) // p.addrs never changes
	epochs := make([]uint64, n)
	p.mu.Lock()
	for i, a := range p.addrs {
		epochs[i] = a.epoch
	}
	p.mu.Unlock()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, a := range p.addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.probe(ctx, hc, a)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // cut short by Close: not the addresses' doing
	}
	type change struct {
		a   *address
		err error
	}
	var changes []change
	p.mu.Lock()
	for i, a := range p.addrs {
		was := a.probeDown
		p.probed(a, errs[i] == nil, epochs[i])
		if a.probeDown != was {
			changes = append(changes, change{a, errs[i]})
		}
	}
	p.mu.Unlock()
	for _, c := range changes {
		if c.err != nil {
			p.log.Warn("upstream address down: health check failed", "addr", c.a.name, "fall", hc.Fall, "err", c.err)
		} else {
			p.log.Info("upstream address up: health check passed", "addr", c.a.name, "rise", hc.Rise)
		}
	}
}
