package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"gatehouse/internal/upstreamspec"
)

// Defaults for Config.
const (
	DefaultMaxConns     = 32
	DefaultIdleTimeout  = 60 * time.Second
	DefaultDialTimeout  = 5 * time.Second
	DefaultQueueTimeout = 10 * time.Second
	DefaultMaxFails     = 1
	DefaultFailTimeout  = 10 * time.Second
	DefaultRetryAfter   = 1 // seconds
)

// Config describes one group of upstream servers. A zero field means its
// default.
type Config struct {
	// Addrs lists the servers: "host:port" for TCP, "unix:/path" for a Unix
	// socket. Required. A host that is a name, not an IP address, is
	// resolved through Resolver when the pool is made (at start and on
	// reload, as nginx does), and each of its addresses becomes a server of
	// the pool, with its own connections, health and Weight: named as
	// configured when the name has one address, by "ip:port" when it has
	// several (MarkDown, MarkUp and Want.Avoid take the configured name too,
	// for all of them). A name that does not resolve fails New.
	Addrs []string
	// Weights gives each address of Addrs, in order, its share of the
	// requests against the others' (1 to upstreamspec.MaxWeight): with
	// weights 3 and 1, the first takes three requests for the second's one.
	// Missing or 0: 1.
	Weights []int
	// MaxConns bounds the connections to each address: in use, idle, or
	// being dialed. Default 32. For php-fpm with kept connections, use at
	// most pm.max_children: a kept connection occupies a php-fpm child until
	// it is closed, so a connection beyond the children waits unanswered.
	MaxConns int
	// MaxIdle bounds the idle connections kept per address. Default MaxConns;
	// negative keeps none (every connection is closed after its request).
	MaxIdle int
	// IdleTimeout closes a connection unused for this long. Default 60 s.
	IdleTimeout time.Duration
	// DialTimeout bounds a TCP connect. Default 5 s; expiry is answered 504.
	// (A Unix connect never waits: it succeeds, or fails at once.)
	DialTimeout time.Duration
	// QueueTimeout bounds the wait for a connection when every address is at
	// MaxConns. Default 10 s; expiry is answered 503 with Retry-After.
	// Negative: no waiting, 503 at once.
	QueueTimeout time.Duration
	// MaxQueue bounds the requests waiting; beyond it, 503 at once. Default
	// 0: no bound but QueueTimeout.
	MaxQueue int
	// MaxFails failures within FailTimeout mark an address down (passive
	// health, nginx's max_fails): a failed dial, or an exchange the caller
	// ends with Conn.Fail. Default 1; negative: never (the address is
	// skipped only by an active check or MarkDown). A pool of one address is
	// never marked down: there is nowhere else to send its requests.
	MaxFails int
	// FailTimeout is both the window in which MaxFails failures are
	// counted and how long the address is then down (nginx's fail_timeout).
	// Once it has passed, one request is let through; until it has ended
	// without failing, the address stays down for another FailTimeout at a
	// time. Default 10 s.
	FailTimeout time.Duration
	// Health, when not nil, probes every address on an interval (active
	// health); see HealthCheck.
	Health *HealthCheck
	// RetryAfter is sent, in seconds, as Retry-After with the 503 of a full
	// queue. Default 1.
	RetryAfter int
	// Balance names the balancing policy (NewSelector): "round_robin" (the
	// default), "least_conn", "ip_hash", "first", "random" or
	// "random_two". Used when Selector is nil.
	Balance string
	// Selector chooses the address each connection is taken from (see
	// Selector). nil: one of the pool's own, made from Balance.
	Selector Selector
	// Logger receives the changes of an address's health: down (with the
	// failure), up again. nil: slog.Default().
	Logger *slog.Logger
	// Resolver resolves the host names of Addrs. nil: net.DefaultResolver.
	// Names are resolved when Dial is nil or Resolver is set; a Dial of
	// one's own without a Resolver is given each address as configured.
	Resolver Resolver
	// Dial opens a connection; the context carries the DialTimeout deadline.
	// nil: net.Dialer for TCP; on Linux, Unix addresses are connected with
	// two system calls and the socket joins Go's poller only when a read or
	// write has to wait.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

func (c Config) withDefaults() Config {
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	switch {
	case c.MaxIdle == 0 || c.MaxIdle > c.MaxConns:
		c.MaxIdle = c.MaxConns
	case c.MaxIdle < 0:
		c.MaxIdle = 0
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.QueueTimeout == 0 {
		c.QueueTimeout = DefaultQueueTimeout
	}
	if c.MaxFails == 0 {
		c.MaxFails = DefaultMaxFails
	}
	if c.FailTimeout <= 0 {
		c.FailTimeout = DefaultFailTimeout
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	return c
}

// Resolver looks up the addresses of a host name: *net.Resolver is one
// (net.DefaultResolver by default). network is "ip": IPv4 and IPv6.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = net.DefaultResolver

// weight returns the weight of Addrs[i].
func (c *Config) weight(i int) (int, error) {
	if i >= len(c.Weights) || c.Weights[i] == 0 {
		return 1, nil
	}
	if w := c.Weights[i]; w < 0 || w > upstreamspec.MaxWeight {
		return 0, fmt.Errorf("upstream: address %q: weight %d is not from 1 to %d", c.Addrs[i], w, upstreamspec.MaxWeight)
	}
	return c.Weights[i], nil
}

func (c *Config) dial() func(ctx context.Context, network, address string) (net.Conn, error) {
	if c.Dial != nil {
		return c.Dial
	}
	var d net.Dialer
	return d.DialContext
}
