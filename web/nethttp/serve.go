package nethttp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"gatehouse/internal/bytesconv"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// Defaults for Config, the same as serve/http1's.
const (
	DefaultMaxBodyBytes    = 128 << 20
	DefaultBodyReadTimeout = 60 * time.Second
	DefaultServerName      = "gatehouse"
)

// Config is how HTTPHandler serves: the rules and limits gatehouse's own
// HTTP/1.1 server applies to each request, applied to requests net/http has
// parsed (HTTP/2 streams). A zero field means its default; a negative size or
// duration means none where that is allowed.
type Config struct {
	// Scheme is what requests report: "http" or "https". Default: "https"
	// for a request that came over TLS, else "http".
	Scheme string
	// ServerName is sent in the Server field unless the handler set one.
	// Default "gatehouse"; "-" sends none.
	ServerName string
	// Limits bound the request as serve/http1's do: MaxRequestLine bounds
	// the target (414), MaxFieldBytes one field, name and value (431),
	// MaxFields the number of fields (431). MaxHeaderBytes is left to the
	// server that parsed the request (net/http answers 431 past it). Zero
	// fields: proto/http1's defaults.
	Limits http1.Limits
	// MaxBodyBytes bounds a request body, in bytes. Default 128 MiB. A
	// declared length above it is answered 413 before the handler runs; a
	// body of unknown length fails the read with 413 once it passes it.
	// Negative: no limit.
	MaxBodyBytes int64
	// BodyReadTimeout bounds each read of the request body (time without
	// progress). Default 60 s; expiry fails the read with 408. Negative:
	// none.
	BodyReadTimeout time.Duration
	// Logger receives one line per refused request, handler error and
	// panic. nil means slog.Default().
	Logger *slog.Logger
	// AccessLog, if set, receives every finished exchange.
	AccessLog web.AccessLogger
}

func (c Config) withDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.BodyReadTimeout == 0 {
		c.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if c.ServerName == "" {
		c.ServerName = DefaultServerName
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// HTTPHandler adapts h to net/http, the other way from Handler: net/http's
// servers (Go's HTTP/2 server, in serve/h2) run it, and h sees a
// web.Request and a web.ResponseWriter as on gatehouse's own HTTP/1.1
// server. It does what that server does around a handler: it refuses what
// that server refuses before the handler runs (unknown methods, CONNECT,
// targets and fields its codec would not take, bodies over the limit),
// renders a returned error with web.RenderError while nothing is sent,
// turns a panic into a 500 (or a reset stream once the response has begun),
// and writes the access log.
//
// Connection-specific fields (Connection, Keep-Alive, Proxy-Connection,
// Transfer-Encoding, Upgrade, and TE other than "trailers") are dropped
// from the request before h sees it: HTTP/2 forbids them (RFC 9113
// §8.2.2), Go's server has passed them through (golang/go#26321), and a
// gateway must never act on them. They are dropped from the response too.
//
// Each request borrows pooled state (the web.Request, its header and
// bytes), so the conversion costs a few allocations per request (the
// response's http.Header, net/http's own), paid by this path only.
func HTTPHandler(h web.Handler, cfg Config) http.Handler {
	return &httpHandler{h: h, cfg: cfg.withDefaults()}
}

type httpHandler struct {
	h   web.Handler
	cfg Config
}

// exchange is one request's state, pooled.
type exchange struct {
	req   web.Request
	w     webWriter
	body  bodyReader
	buf   []byte   // the target's and the host's bytes, which req views
	keys  []string // the request's field names, sorted
	entry web.AccessEntry
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func (h *httpHandler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	x := exchanges.Get().(*exchange)
	x.w.reset(h, rw, r.Method == http.MethodHead)
	early := h.init(x, r)
	var err error
	switch {
	case early != nil:
		h.cfg.Logger.Info("request refused", "remote", x.req.RemoteAddr(), "status", web.StatusOf(early),
			"reason", reason(early), "method", r.Method, "target", r.RequestURI, "proto", r.Proto)
		err = early
	case r.RequestURI == "*":
		// OPTIONS * asks about the server, not a resource (RFC 9110 §9.3.7).
		x.w.header.Set("Allow", allowServer)
		x.w.WriteHeader(200)
	default:
		err = h.call(x)
	}
	abort := h.finish(x, r, err, early != nil)
	if h.cfg.AccessLog != nil {
		x.entry = web.AccessEntry{Request: &x.req, Status: x.w.status, BodyBytes: x.w.sent,
			Start: start, Duration: time.Since(start), Remote: x.req.RemoteAddr()}
		h.cfg.AccessLog.LogAccess(&x.entry)
		x.entry = web.AccessEntry{}
	}
	x.release()
	if abort {
		// Reset the stream (HTTP/2) or close the connection (HTTP/1): the
		// client must see that the response is incomplete. net/http does
		// not log this panic value.
		panic(http.ErrAbortHandler)
	}
}

// allowServer lists the methods the server itself handles, for OPTIONS *
// (as serve/http1 answers it).
const allowServer = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"

func reason(err error) string {
	var pe *http1.Error
	if errors.As(err, &pe) {
		return pe.Reason
	}
	var we *web.Error
	if errors.As(err, &we) && we.Err != nil {
		return we.Err.Error()
	}
	return err.Error()
}

func (x *exchange) release() {
	x.req.Init(web.Head{}, web.Conn{}, web.NoBody)
	x.w.release()
	x.body = bodyReader{}
	clear(x.keys)
	x.keys = x.keys[:0]
	if cap(x.buf) > 64<<10 {
		x.buf = nil // a rare huge target does not stay pinned in the pool
	}
	exchanges.Put(x)
}

// Errors answered before the handler runs, as serve/http1 answers them.
var (
	errUnknownMethod = &web.Error{Status: 501, Err: errors.New("unknown method")}
	errConnect       = &web.Error{Status: 501, Err: errors.New("CONNECT is not implemented: no forward proxy")}
	errExpectation   = &web.Error{Status: 417, Err: errors.New("unsupported expectation")}
	errBodyTooLarge  = &web.Error{Status: 413, Err: errors.New("declared Content-Length over the body limit")}
	errTargetTooLong = &web.Error{Status: 414, Err: errors.New("request-target too long")}
)

// init fills x.req from r. The error it returns is answered instead of
// running the handler; x.req is usable either way (for the log).
func (h *httpHandler) init(x *exchange, r *http.Request) error {
	method, known := web.InternMethod(bytesconv.Bytes(r.Method)) // only read
	if !known {
		method = r.Method
	}
	// The target and the host are copied into the exchange's own bytes:
	// the request views them, and handlers may keep views until they
	// return.
	x.buf = append(append(x.buf[:0], r.RequestURI...), r.Host...)
	n := len(r.RequestURI)
	target, host := x.buf[:n:n], x.buf[n:]

	scheme := h.cfg.Scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	length := r.ContentLength // -1: unknown, as a chunked HTTP/1.1 body
	var body io.Reader = web.NoBody
	if length != 0 && r.Body != nil && r.Body != http.NoBody {
		x.body = bodyReader{r: r.Body, left: -1, timeout: h.cfg.BodyReadTimeout}
		if h.cfg.MaxBodyBytes >= 0 {
			x.body.left = h.cfg.MaxBodyBytes
		}
		x.body.dl, _ = x.w.w.(interface{ SetReadDeadline(time.Time) error })
		body = &x.body
	} else {
		length = 0
	}
	var remote, local netip.AddrPort
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = ap
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ta, ok := a.(*net.TCPAddr); ok {
			local = ta.AddrPort()
		}
	}
	major, minor := uint8(r.ProtoMajor), uint8(r.ProtoMinor)
	if major == 0 {
		major, minor = 1, 1
	}

	var err error
	path, query := target, []byte(nil)
	switch {
	case !known:
		err = errUnknownMethod // RFC 9110 §9.1
	case method == web.MethodConnect:
		err = errConnect
	case len(target) > h.cfg.Limits.MaxRequestLine:
		err = errTargetTooLong
	default:
		path, query, err = http1.ParseTarget(bytesconv.Bytes(method), target)
		if err != nil {
			path, query = target, nil
		} else if !http1.ValidHost(host) {
			err = http1.ErrHost
		}
	}
	if err == nil && h.cfg.MaxBodyBytes >= 0 && length > h.cfg.MaxBodyBytes {
		err = errBodyTooLarge // decided before reading any of it
	}
	x.req.Init(web.Head{
		Method: method, Target: target, Path: path, Query: query, Host: host,
		Scheme: scheme, ProtoMajor: major, ProtoMinor: minor, ContentLength: length,
	}, web.Conn{Remote: remote, Local: local, TLS: r.TLS, Ctx: r.Context()}, body)
	if ferr := h.fields(x, r); err == nil {
		err = ferr
	}
	return err
}

// fields copies r's header into x.req's: Host first (HTTP/2's :authority,
// RFC 9113 §8.3.1, which gateways read as HTTP_HOST), then the fields in
// name order (net/http keeps them in a map; the order a client sent them
// in is gone), without the connection-specific ones.
func (h *httpHandler) fields(x *exchange, r *http.Request) error {
	hdr := &x.req.Header
	if r.Host != "" {
		hdr.AddBytes(hostName, x.req.Host())
	}
	for k := range r.Header {
		x.keys = append(x.keys, k)
	}
	slices.Sort(x.keys)
	lim := &h.cfg.Limits
	count := hdr.Len()
	for _, k := range x.keys {
		vs := r.Header[k]
		if dropRequestField(k, vs) {
			continue
		}
		for _, v := range vs {
			if count++; count > lim.MaxFields {
				return http1.ErrTooManyFields
			}
			if len(k)+2+len(v) > lim.MaxFieldBytes {
				return http1.ErrFieldTooLong
			}
			if k == "Expect" && !http1.EqualFold(bytesconv.Bytes(v), "100-continue") {
				return errExpectation // RFC 9110 §10.1.1; 100-continue is net/http's
			}
			hdr.Add(k, v)
		}
	}
	return nil
}

var hostName = []byte("Host")

// dropRequestField reports the fields a handler must not see: Host (the
// request's own, from :authority, comes first) and the connection-specific
// fields HTTP/2 forbids (RFC 9113 §8.2.2). TE may only be "trailers".
func dropRequestField(name string, values []string) bool {
	switch name {
	case "Host", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Http2-Settings":
		return true
	case "Te":
		return len(values) != 1 || values[0] != "trailers"
	}
	return false
}

// call runs the handler. A panic becomes a 500 (or, once the response has
// begun, a reset stream): the handler's state is unknown.
func (h *httpHandler) call(x *exchange) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == web.ErrAbortHandler || p == http.ErrAbortHandler {
				err = web.ErrAbortHandler
			} else {
				h.cfg.Logger.Error("handler panicked", "remote", x.req.RemoteAddr(), "method", x.req.Method(),
					"target", string(x.req.Target()), "panic", p, "stack", string(debug.Stack()))
				err = &web.Error{Status: 500, Err: errPanic}
			}
		}
	}()
	return h.h.ServeHTTP(&x.w, &x.req)
}

var errPanic = errors.New("handler panicked")

// finish answers err, completes the response, and reports whether the
// response must be cut short (the stream reset).
func (h *httpHandler) finish(x *exchange, r *http.Request, err error, early bool) (abort bool) {
	w := &x.w
	if err != nil {
		method, target := x.req.Method(), string(x.req.Target())
		switch {
		case err == web.ErrAbortHandler:
			w.abandon(false)
			return true
		case !early && r.Context().Err() != nil && errors.Is(err, context.Canceled):
			// The stream or the connection ended under the handler:
			// nobody is left to answer (nginx's 499).
			w.abandon(true)
			h.cfg.Logger.Info("request abandoned: the connection ended", "remote", x.req.RemoteAddr(),
				"status", w.status, "method", method, "target", target, "err", err)
			return true
		case w.committed:
			h.cfg.Logger.Log(context.Background(), failLevel(err), "handler failed after responding",
				"remote", x.req.RemoteAddr(), "method", method, "target", target, "err", err)
			return true
		}
		status := web.StatusOf(err)
		if status >= 500 && !early {
			h.cfg.Logger.Log(context.Background(), failLevel(err), "handler failed", "remote", x.req.RemoteAddr(),
				"status", status, "method", method, "target", target, "err", err)
		} else if !early {
			h.cfg.Logger.Info("request failed", "remote", x.req.RemoteAddr(), "status", status,
				"method", method, "target", target, "err", err)
		}
		w.resetForError()
		web.RenderError(w, &x.req, err)
	}
	return w.finish()
}

// failLevel is the level of a failed handler's line: error, or debug when the
// handler logged the failure itself (web.Logged).
func failLevel(err error) slog.Level {
	if web.IsLogged(err) {
		return slog.LevelDebug
	}
	return slog.LevelError
}

// bodyReader is the request body as the handler reads it: net/http's body
// with the body limit for a body of unknown length, and the body read
// timeout moved forward at each read (time without progress, as on
// HTTP/1.1).
type bodyReader struct {
	r        io.Reader
	left     int64 // bytes the limit still allows; -1: no limit
	dl       interface{ SetReadDeadline(time.Time) error }
	timeout  time.Duration
	deadline time.Time // the read deadline last set
	err      error
}

var errBodyOverLimit = &web.Error{Status: 413, Err: errors.New("request body over the limit")}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.timeout > 0 && b.dl != nil {
		// Moved only when it would move by more than 1/16 of the timeout:
		// a deadline costs net/http a message to the connection's
		// goroutine.
		next := time.Now().Add(b.timeout)
		if b.deadline.IsZero() || next.Sub(b.deadline) > min(b.timeout/16, time.Second) {
			b.deadline = next
			b.dl.SetReadDeadline(next)
		}
	}
	if b.left >= 0 && int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the limit tells a body that is over it
	}
	n, err := b.r.Read(p)
	if b.left >= 0 {
		if int64(n) > b.left {
			n, err = int(b.left), errBodyOverLimit
		}
		b.left -= int64(n)
	}
	if err != nil {
		b.err = err
	}
	return n, err
}
