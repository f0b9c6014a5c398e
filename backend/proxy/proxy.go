package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/middleware/realip"
	"gatehouse/proto/http1"
	"gatehouse/upstream"
	"gatehouse/upstream/relay"
	"gatehouse/web"
	"gatehouse/web/webcgi"
)

// Defaults for Config, as research §4.1 settles them: Caddy's connect
// timeout, nginx's read and send timeouts.
const (
	DefaultConnectTimeout    = 3 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 90 * time.Second
	DefaultMaxResponseHeader = 64 << 10
	DefaultRetries           = 1
	DefaultRetryWindow       = 5 * time.Second
	// An upstream connection is held for a whole WebSocket or event
	// stream: the bound on them is high (nginx has none), and the idle
	// ones kept are nginx's usual keepalive 32, doubled.
	DefaultMaxConns = 1024
	DefaultMaxIdle  = 64
)

// inlineBody is the largest request body read whole before the request is
// sent: it goes out with the head in one write, and can be sent again on a
// retry. A larger body is streamed (and replayed only when the request
// buffering holds all of it).
const inlineBody = 64 << 10

// Config describes one proxied application.
type Config struct {
	// Pool is the connection pool to the upstreams, when several routes
	// share one; Close leaves it open. nil: New builds one from Upstream.
	Pool *upstream.Pool
	// Upstream describes the pool New builds: Addrs ("127.0.0.1:3000",
	// "unix:/run/app.sock", "app.internal:3000") is required. Its
	// DialTimeout defaults to 3 s, IdleTimeout to 90 s, MaxConns to 1024
	// and MaxIdle to 64 here.
	Upstream upstream.Config
	// Host is the Host field sent upstream. Default "": the client's.
	Host string
	// Trust says which peers are proxies whose X-Forwarded-For is appended
	// to; from any other peer it is replaced (the same Trust the server's
	// realip layer applies).
	Trust realip.Trust
	// Forwarded adds an RFC 7239 Forwarded field (for, host, proto).
	Forwarded bool
	// Via adds "Via: 1.1 gatehouse" to requests and responses.
	Via bool
	// Upgrade lists the protocols a client may switch to through the
	// proxy (the Upgrade field's tokens, case-insensitive). nil:
	// "websocket"; empty: none. "h2c" is never allowed.
	Upgrade []string
	// ReadTimeout bounds each read from the upstream (time without
	// progress), the wait for the response head included. Default 60 s;
	// expiry is 504, or a cut response once the head is sent.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of the request. Default 60 s; expiry
	// is 504.
	WriteTimeout time.Duration
	// TunnelIdle closes an upgraded connection (a WebSocket) when neither
	// side sent anything for this long. Default 0: no limit but the
	// server's shutdown.
	TunnelIdle time.Duration
	// MaxResponseHeader bounds the response head. Default 64 KiB; over it:
	// 502.
	MaxResponseHeader int
	// Retries is how many times a failed request may go to another
	// upstream (see the package comment for when). Default 1; negative:
	// none.
	Retries int
	// RetryWindow bounds the time retries may start in, from the first
	// attempt. Default 5 s.
	RetryWindow time.Duration
	// Logger receives the failed exchanges: the first of a kind at once,
	// then one line per interval with their count. nil: slog.Default().
	Logger *slog.Logger
}

// Handler passes requests to HTTP upstreams.
type Handler struct {
	cfg      Config
	pool     *upstream.Pool
	ownPool  bool
	failures *webcgi.Failures
	log      *slog.Logger
	upgrades []string
	limits   http1.Limits
	via      bool

	mu      sync.Mutex
	tunnels map[*tunnel]struct{}
	closed  bool
}

var _ web.Handler = (*Handler)(nil)

// PoolDefaults sets the proxy's defaults on the pool settings c leaves
// zero: connect 3 s, idle 90 s, 1024 connections and 64 idle per address.
// New applies them to a pool of its own; an [[upstream]] of HTTP servers
// takes them too.
func PoolDefaults(c *upstream.Config) {
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultConnectTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxIdle == 0 {
		c.MaxIdle = DefaultMaxIdle
	}
}

// New returns a handler for cfg. Close releases its connections and ends
// its tunnels.
func New(cfg Config) (*Handler, error) {
	pool, own := cfg.Pool, false
	if pool == nil {
		PoolDefaults(&cfg.Upstream)
		p, err := upstream.New(cfg.Upstream)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		pool, own = p, true
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.MaxResponseHeader <= 0 {
		cfg.MaxResponseHeader = DefaultMaxResponseHeader
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	if cfg.RetryWindow <= 0 {
		cfg.RetryWindow = DefaultRetryWindow
	}
	if cfg.Host != "" && !http1.ValidHost([]byte(cfg.Host)) {
		return nil, fmt.Errorf("proxy: host %q is not a valid Host field", cfg.Host)
	}
	upgrades := cfg.Upgrade
	if upgrades == nil {
		upgrades = []string{"websocket"}
	}
	upgrades = append([]string(nil), upgrades...)
	for i, u := range upgrades {
		u = strings.ToLower(u) // compared with http1.EqualFold, which wants lowercase
		upgrades[i] = u
		if u == "h2c" {
			return nil, errors.New("proxy: upgrade to h2c cannot be allowed (it would bypass the server's HTTP/2 limits)")
		}
		if !http1.IsToken([]byte(u)) {
			return nil, fmt.Errorf("proxy: upgrade %q is not a protocol token", u)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, pool: pool, ownPool: own, log: cfg.Logger, upgrades: upgrades, via: cfg.Via,
		tunnels: make(map[*tunnel]struct{})}
	// Fields as long as the head may be: a large Set-Cookie or
	// Content-Security-Policy is common, and the head's bound is the one
	// that matters.
	h.limits = http1.Limits{MaxRequestLine: 8 << 10, MaxHeaderBytes: cfg.MaxResponseHeader,
		MaxFieldBytes: cfg.MaxResponseHeader, MaxFields: 256}.WithDefaults()
	h.failures = &webcgi.Failures{Limiter: lograte.Limiter{Logger: cfg.Logger}, Msg: "proxy request failed"}
	return h, nil
}

// Close ends the open tunnels and closes the connection pool, when New
// built it.
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closed = true
	ts := make([]*tunnel, 0, len(h.tunnels))
	for t := range h.tunnels {
		ts = append(ts, t)
	}
	h.mu.Unlock()
	for _, t := range ts {
		t.close()
	}
	if !h.ownPool {
		return nil
	}
	return h.pool.Close()
}

// Pool returns the handler's connection pool.
func (h *Handler) Pool() *upstream.Pool { return h.pool }

var (
	errTimeout    = &web.Error{Status: 504, Err: errors.New("proxy: upstream did not answer in time")}
	errSendTime   = &web.Error{Status: 504, Err: errors.New("proxy: upstream did not take the request in time")}
	errNoResponse = &web.Error{Status: 502, Err: errors.New("proxy: upstream closed the connection without a response")}
	errSwitch     = &web.Error{Status: 502, Err: errors.New("proxy: upstream switched protocols unasked")}
	errShortBody  = &web.Error{Status: 502, Err: errors.New("proxy: upstream closed the connection inside the body")}
	errClientBody = &web.Error{Status: 400, Err: errors.New("proxy: the request body ended early")}
)

// ServeHTTP passes the request on and relays the answer. Its failures are
// logged here, rate-limited, not by the server per request.
func (h *Handler) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	err := h.serve(w, r)
	if err == nil {
		return nil
	}
	return h.failures.Check(r, err, "upstream", h.pool.String())
}

// bodyKind is how the request body is sent, and whether it can be sent
// again.
type bodyKind uint8

const (
	bodyNone   bodyKind = iota
	bodyInline          // read whole into the exchange: sent with the head, replayable
	bodySpool           // held whole by the request buffering: replayable by rewinding
	bodyStream          // read from the client as it is sent: never replayed
)

// rewinder is a body that can be read again from its start (spool.Body).
type rewinder interface{ Rewind() error }

func (h *Handler) serve(w web.ResponseWriter, r *web.Request) error {
	x := exchangePool.Get().(*exchange)
	defer x.put()
	x.h, x.w, x.r = h, w, r
	x.upgrade = h.upgradeToken(r)
	if err := x.prepareBody(); err != nil {
		return err
	}
	want := upstream.Want{Key: h.pool.KeyFor(x.r.RemoteAddr().Addr()), Avoid: x.avoid[:0]} // for ip_hash
	deadline := time.Now().Add(h.cfg.RetryWindow)
	retries, freshTried := 0, false
	for {
		uc, err := h.pool.GetWant(r.Context(), want)
		if err != nil {
			return err
		}
		out := x.attempt(uc)
		if out.err == nil || !out.replayable {
			return out.err
		}
		switch {
		case out.reused && !freshTried && (out.unsent || x.idempotent()):
			// A kept connection the upstream may have closed while it sat
			// idle: once more on a new one, anywhere.
			freshTried, want.Fresh = true, true
		case retries < h.cfg.Retries && (out.unsent || x.idempotent()) && time.Now().Before(deadline):
			retries++
			want.Fresh = false
			want.Avoid = append(want.Avoid, out.upstream)
		default:
			return out.err
		}
		h.log.Debug("proxy request retried", "upstream", out.upstream, "err", out.err,
			"method", r.Method(), "target", string(r.Target()))
		if x.kind == bodySpool {
			if err := r.Body().(rewinder).Rewind(); err != nil {
				return err
			}
		}
	}
}

// idempotent reports a request that may be sent twice: an idempotent method
// (RFC 9110 §9.2.2), or one with an Idempotency-Key (net/http's rule).
func (x *exchange) idempotent() bool {
	switch x.r.Method() {
	case web.MethodGet, web.MethodHead, web.MethodOptions, "TRACE", web.MethodPut, web.MethodDelete:
		return true
	}
	return x.r.Header.Has("Idempotency-Key") || x.r.Header.Has("X-Idempotency-Key")
}

// upgradeToken returns the protocol a request asks to switch to, when the
// proxy allows it: HTTP/1.1, "Connection: upgrade", and an Upgrade field
// whose first token is allowed. "" otherwise: the request is passed on
// without its Upgrade field, as a plain request (RFC 9110 §7.8: a server
// may ignore it).
func (h *Handler) upgradeToken(r *web.Request) string {
	if r.ProtoAtLeast(2, 0) || !r.ProtoAtLeast(1, 1) || len(h.upgrades) == 0 {
		return ""
	}
	up := r.Header.Peek("Upgrade")
	if up == nil || !connectionHas(&r.Header, "upgrade") {
		return ""
	}
	tok, _ := http1.NextElement(up)
	if i := bytes.IndexByte(tok, '/'); i >= 0 {
		tok = tok[:i] // "websocket/13": the protocol's name decides
	}
	for _, u := range h.upgrades {
		if len(tok) == len(u) && http1.EqualFold(tok, u) {
			return u
		}
	}
	return ""
}

// connectionHas reports whether a Connection field of h lists opt (lower
// case).
func connectionHas(h *web.Header, opt string) bool {
	for v := range h.Values("Connection") {
		if http1.HasElement(v, opt) {
			return true
		}
	}
	return false
}

// prepareBody decides how the body is sent, reading a small one whole.
func (x *exchange) prepareBody() error {
	r := x.r
	length := r.ContentLength()
	switch _, rewindable := r.Body().(rewinder); {
	case length == 0:
		x.kind = bodyNone
	case length > 0 && length <= inlineBody:
		x.kind = bodyInline
		if cap(x.body) < int(length) {
			x.body = make([]byte, length, max(length, 4<<10))
		}
		x.body = x.body[:length]
		if _, err := io.ReadFull(r.Body(), x.body); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
				return errClientBody
			}
			return err // the body's own error (400, 408, 413)
		}
	case length > 0 && rewindable:
		x.kind = bodySpool
	default:
		x.kind = bodyStream
	}
	return nil
}

// outcome is how one attempt ended.
type outcome struct {
	err        error
	upstream   string
	reused     bool // on a kept connection
	unsent     bool // not one byte of the request was taken by the upstream
	replayable bool // the request may go again: nothing reached the client, no response byte came, the body can be sent again
}

// afterFuncer is a context that runs functions when it ends without a
// goroutine for each (the epoll engine's connection context).
// context.AfterFunc uses the method too, but wraps the function in
// allocations of its own.
type afterFuncer interface {
	AfterFunc(f func()) (stop func() bool)
}

// watchClient makes every blocked read or write on uc fail at once when ctx
// ends (the client went away). stop ends the watch: false when the watch
// fired, or is firing.
func watchClient(ctx context.Context, uc *upstream.Conn) (stop func() bool) {
	if a, ok := ctx.(afterFuncer); ok {
		return a.AfterFunc(uc.AbortFunc())
	}
	return context.AfterFunc(ctx, uc.AbortFunc())
}

// aLongTimeAgo is a deadline that has passed: every blocked operation on a
// connection given it fails at once.
var aLongTimeAgo = time.Unix(1, 0)

// attempt sends the request on uc and relays the response.
func (x *exchange) attempt(uc *upstream.Conn) (out outcome) {
	h, r, w := x.h, x.r, x.w
	out.upstream, out.reused = uc.Upstream(), uc.Reused()
	// A client that goes away ends the exchange: every blocked read or
	// write on the upstream connection fails at once.
	stop := watchClient(r.Context(), uc)
	defer stop()

	x.head = x.appendHead(x.head[:0])
	sender, unsent, sendErr := x.send(uc)
	if sendErr != nil && !isUpstreamWrite(sendErr) {
		uc.Release(false)
		return outcome{err: sendErr} // the client's body failed: its error, its status
	}
	out.unsent = unsent
	if x.kind != bodyStream || sendErr == nil {
		w.WatchClient() // the body is in: a client that leaves ends the exchange
	}
	// Even when the request could not all be sent, the upstream may have
	// answered (a refusal without reading the body): read on.
	rd := relay.Reader{Conn: uc.Conn, ReadTimeout: h.cfg.ReadTimeout, Limits: h.limits}
	defer rd.Release()
	resp := &x.resp
	err := rd.ReadHead(resp)
	if err == nil && resp.Status == 101 && x.upgrade == "" {
		err = errSwitch
	}
	if err != nil {
		sendErr = sender.wait(uc, sendErr)
		out.err = x.headFailed(uc, err, sendErr, rd.Got)
		// A timeout counts as a failure to retry, as nginx's default
		// proxy_next_upstream error timeout has it.
		out.replayable = !rd.Got && x.kind != bodyStream && r.Context().Err() == nil
		return out
	}
	if resp.Status == 101 {
		return outcome{err: x.tunnel(uc, &rd, resp, sender), upstream: out.upstream}
	}

	hdr := w.Header()
	relay.CopyHeader(hdr, resp, dropResponseField)
	if h.via {
		hdr.Add("Via", "1.1 gatehouse")
	}
	w.WriteHeader(resp.Status)
	err = rd.Body(w, resp, r.Method() == web.MethodHead)
	sendErr = sender.wait(uc, sendErr)
	// A watch that fired, or is about to, would cut the connection's next
	// exchange short: the connection is not kept then.
	reusable := err == nil && rd.Ended && sendErr == nil && !resp.Close && stop()
	if err == nil {
		uc.Release(reusable)
		return outcome{upstream: out.upstream}
	}
	var ce *relay.ClientError
	var be *relay.BodyError
	switch {
	case errors.As(err, &ce):
		uc.Release(false)
		out.err = err
	case r.Context().Err() != nil:
		uc.Release(false)
		out.err = fmt.Errorf("proxy: client went away: %w", r.Context().Err())
	case errors.As(err, &be):
		uc.Fail()
		out.err = h.failures.Warn(&web.Error{Status: 502, Err: fmt.Errorf("proxy: %w", err)}, out.upstream+"\x00body",
			"proxy upstream sent a bad response body", "upstream", out.upstream, "target", string(r.Target()), "err", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		uc.Fail()
		out.err = h.failures.Warn(errTimeout, out.upstream, "proxy upstream timed out inside the body",
			"upstream", out.upstream, "timeout", h.cfg.ReadTimeout, "target", string(r.Target()))
	case err == relay.ErrShortBody:
		uc.Release(false)
		out.err = errShortBody
	default:
		uc.Release(false)
		out.err = &web.Error{Status: 502, Err: fmt.Errorf("proxy: read body: %w", err)}
	}
	return out
}

// dropResponseField reports the response fields not passed to the client
// besides the hop-by-hop ones: Alt-Svc would advertise the upstream's
// protocols as the server's (research §4.2); Server and Date are the
// server's own, as nginx's proxy_hide_header has them by default (and an
// upstream's Server tells an attacker what runs behind).
func dropResponseField(name []byte) bool {
	switch len(name) {
	case 4:
		return http1.EqualFold(name, "date")
	case 6:
		return http1.EqualFold(name, "server")
	case 7:
		return http1.EqualFold(name, "alt-svc")
	case 18:
		return http1.EqualFold(name, "proxy-authenticate")
	}
	return false
}

// headFailed maps a failed wait for the response head to an error, and
// settles the connection: closed, and counted against its upstream when
// the upstream is at fault (a timeout, a malformed head, a fresh connection
// that closed without a word).
func (x *exchange) headFailed(uc *upstream.Conn, err, sendErr error, partial bool) error {
	h, r := x.h, x.r
	up := uc.Upstream()
	var re *http1.ResponseError
	switch {
	case r.Context().Err() != nil:
		uc.Release(false)
		return fmt.Errorf("proxy: client went away: %w", r.Context().Err())
	case errors.As(err, &re):
		uc.Fail()
		return h.failures.Warn(err, up+"\x00"+err.Error(), "proxy upstream sent a bad response head",
			"upstream", up, "target", string(r.Target()), "err", err)
	case err == errSwitch:
		uc.Fail()
		return h.failures.Warn(err, up+"\x00101", "proxy upstream answered 101 to a request that asked no upgrade",
			"upstream", up, "target", string(r.Target()))
	case errors.Is(err, os.ErrDeadlineExceeded):
		uc.Fail()
		return h.failures.Warn(errTimeout, up, "proxy upstream timed out",
			"upstream", up, "timeout", h.cfg.ReadTimeout, "target", string(r.Target()))
	case errors.Is(sendErr, os.ErrDeadlineExceeded):
		uc.Fail()
		return h.failures.Warn(errSendTime, up+"\x00send", "proxy upstream did not take the request in time",
			"upstream", up, "timeout", h.cfg.WriteTimeout, "target", string(r.Target()))
	}
	if uc.Reused() && !partial {
		uc.Release(false) // a kept connection closed while idle: not the upstream's failure
	} else {
		uc.Fail()
	}
	return h.failures.Warn(errNoResponse, up+"\x00eof", "proxy upstream closed the connection without a response",
		"upstream", up, "target", string(r.Target()), "err", err, "send_err", sendErr, "reused", uc.Reused())
}

// upstreamWriteError marks a failed write to the upstream, as opposed to a
// failed read of the client's body.
type upstreamWriteError struct{ err error }

func (e *upstreamWriteError) Error() string { return "proxy: write to upstream: " + e.err.Error() }
func (e *upstreamWriteError) Unwrap() error { return e.err }

func isUpstreamWrite(err error) bool {
	var we *upstreamWriteError
	return errors.As(err, &we)
}
