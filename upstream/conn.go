package upstream

import (
	"errors"
	"net"
	"time"
)

// Conn is a connection from a Pool. Use it as a net.Conn, then Release it
// exactly once.
type Conn struct {
	net.Conn
	pool  *Pool
	addr  *address
	abort func() // Abort, made once

	// Guarded by pool.mu.
	reused    bool
	out       bool   // handed out and not yet released
	epoch     uint64 // the address's health epoch when it was handed out
	idleSince time.Time
}

// Reused reports whether c served an earlier request. A request that fails on
// a reused connection before anything of it was lost (no response byte read,
// no request body byte that cannot be sent again) should be retried once on
// GetFresh: the server may have closed the connection while it sat idle
// (php-fpm closes it when a child exits after pm.max_requests), and no check
// before reuse can rule out that race.
func (c *Conn) Reused() bool { return c.reused }

// Abort makes every read and write on c, those blocked now and those to
// come, fail at once: for a client that went away. A deadline long past
// frees a blocked call (and a TLS writer's lock, which Close would wait
// for); closing makes it stick, where a deadline alone would be undone by
// the reader's next SetReadDeadline if the abort landed between two reads.
// A connection aborted is not to be kept; Release and Fail close it again
// harmlessly.
func (c *Conn) Abort() {
	c.Conn.SetDeadline(aLongTimeAgo)
	c.Conn.Close()
}

// AbortFunc returns c.Abort as a function value made once per connection,
// for context.AfterFunc: registering it per request allocates nothing.
func (c *Conn) AbortFunc() func() {
	if c.abort == nil {
		return c.Abort // a Conn not made by a Pool
	}
	return c.abort
}

// aLongTimeAgo is a deadline that has passed.
var aLongTimeAgo = time.Unix(1, 0)

// Upstream returns the address c is connected to, as configured, or as
// "ip:port" when a host name resolved to several (see Config.Addrs).
func (c *Conn) Upstream() string { return c.addr.name }

// Release gives c back after an exchange that did not fail against its
// address (passive health counts it a success: see Fail). With reusable, c is
// kept for another request (or handed to one waiting); the caller asserts the
// exchange ended cleanly, so the next request starts on a clean stream.
// Otherwise c is closed. Calls after the first are ignored.
func (c *Conn) Release(reusable bool) {
	p := c.pool
	p.mu.Lock()
	recovered := c.out && p.succeeded(c.addr, c.epoch)
	closeIt := p.release(c, reusable)
	p.mu.Unlock()
	if closeIt {
		c.Conn.Close()
	}
	if recovered {
		p.log.Info("upstream address up: a request succeeded", "addr", c.addr.name)
	}
}

// Fail ends c after an exchange that failed in a way that counts against its
// address: a timeout, or a response that broke the protocol. It is a passive
// failure, as a failed dial is (MaxFails of them within FailTimeout mark the
// address down), and c is closed, never reused. Calls after Release, or a
// second Fail, are ignored.
func (c *Conn) Fail() {
	p := c.pool
	p.mu.Lock()
	tripped := c.out && p.failed(c.addr, p.now())
	closeIt := p.release(c, false)
	p.mu.Unlock()
	if closeIt {
		c.Conn.Close()
	}
	if tripped {
		p.logDown(c.addr, errors.New("the exchange failed"))
	}
}
