// Package upstream keeps connections to the servers behind gatehouse's
// gateways: FastCGI (php-fpm), uwsgi and HTTP. It knows nothing of their
// protocols: it hands out net.Conns and takes them back as reusable or not,
// so balancing, limits, queueing and health are written once (Caddy's design:
// transports under one pool). The one protocol it speaks is HTTP/1.1 for its
// health checks, with proto/http1's strict response parser (RFC 9112).
//
// A Pool serves one group of addresses ("host:port" or "unix:/path"):
//
//   - at most MaxConns connections per address (in use, idle or being dialed);
//   - up to MaxIdle idle connections per address kept for reuse, most recently
//     used first, each closed after IdleTimeout unused; a kept connection is
//     checked before it is handed out (a peer that closed it, or sent bytes no
//     request asked for, makes it useless), and the caller retries a request
//     that failed on a reused connection once on a fresh one (GetFresh) when
//     nothing of the request was lost: see Conn.Reused;
//   - a Selector chooses the address each connection comes from, among the
//     addresses that are up; the pool moves on to the next when the chosen
//     one is at MaxConns. Config.Balance names the policy: round_robin
//     (smooth weighted, nginx's; the default), least_conn, ip_hash
//     (rendezvous hashing of Want.Key), first, random or random_two (the
//     power of two choices); Config.Weights weighs the addresses;
//   - passive health, nginx's: MaxFails failures (a failed dial, or
//     Conn.Fail) within FailTimeout mark an address down for FailTimeout,
//     then one request at a time is let through until one ends well; a pool
//     of one address is never marked down. Active health (Config.Health)
//     probes each address on an interval, by HTTP or TCP, with rise and
//     fall counts. Pool.MarkDown and Pool.MarkUp take health learned
//     elsewhere. A down address is skipped while another is up; when every
//     address is down they are all tried anyway: with a single php-fpm,
//     refusing requests after it restarts would only lengthen the outage
//     (nginx ignores max_fails for a lone server for the same reason);
//   - a host name is resolved when the pool is made, through Config.Resolver,
//     and each of its addresses becomes a server of the pool, as nginx does;
//   - when every address is at MaxConns, callers wait in a FIFO queue for up
//     to QueueTimeout, then get a 503 with Retry-After (the overload is
//     expected to pass). A released connection goes straight to the first
//     waiter.
//
// Errors carry their HTTP status for web.StatusOf: a refused or failed dial
// is 502 (Bad Gateway, RFC 9110 §15.6.3), a dial timeout 504 (§15.6.5, as
// nginx answers a connect timeout), a full queue or a queue timeout 503
// (§15.6.4).
package upstream
