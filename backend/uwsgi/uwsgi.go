package uwsgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/internal/rawio"
	"gatehouse/proto/cgienv"
	"gatehouse/proto/http1"
	puwsgi "gatehouse/proto/uwsgi"
	"gatehouse/upstream"
	"gatehouse/web"
	"gatehouse/web/webcgi"
)

// Defaults for Config.
const (
	DefaultReadTimeout    = 60 * time.Second // nginx's uwsgi_read_timeout
	DefaultWriteTimeout   = 60 * time.Second // nginx's uwsgi_send_timeout
	DefaultMaxBodyBytes   = 128 << 20
	DefaultServerSoftware = "gatehouse"
)

// uwsgiBufferSize is uWSGI's default --buffer-size: a larger packet is dropped
// by uWSGI with a log line on its side and a closed connection on ours.
const uwsgiBufferSize = 4096

// Config describes one uWSGI application.
type Config struct {
	// Pool is the connection pool to uWSGI, when several routes share one
	// (its MaxConns then bounds them all); Close leaves it open. nil: New
	// builds one from Upstream.
	Pool *upstream.Pool
	// Upstream is the pool of connections to uWSGI: Addrs ("127.0.0.1:3031"
	// or "unix:/run/app.sock", as uwsgi --socket binds) is required; the
	// rest (MaxConns, DialTimeout, QueueTimeout, ...) as upstream documents.
	// uWSGI closes every connection after its response, so none is kept.
	Upstream upstream.Config
	// Mount is the path the application is mounted at ("/app"); it becomes
	// SCRIPT_NAME and the rest of the path PATH_INFO. Default "": the root.
	Mount string
	// Modifier1 and Modifier2 are the packet's type (nginx's uwsgi_modifier1
	// and uwsgi_modifier2). Default 0, 0: a WSGI request, which every uWSGI
	// language plugin accepts.
	Modifier1, Modifier2 uint8
	// MaxVarsBytes bounds the variable block, in bytes: the request's fields
	// plus its CGI variables. Default and ceiling 65535, the protocol's. A
	// request over it is answered 431. Set it to uWSGI's --buffer-size (4096
	// by default) to answer 431 where uWSGI would drop the request (502).
	MaxVarsBytes int
	// Params are extra variables, set after the standard ones (they may
	// override them). Default none.
	Params [][2]string
	// ReadTimeout bounds each read of the response (time without progress),
	// the wait for its head included. Default 60 s; expiry is 504, or a cut
	// response once the head is sent.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of the request to uWSGI. Default 60 s;
	// expiry is 504.
	WriteTimeout time.Duration
	// Limits bound the response head uWSGI sends (MaxHeaderBytes, default
	// 32 KiB; MaxFieldBytes, 8 KiB; MaxFields, 100; MaxRequestLine bounds
	// the status line, 8 KiB). Over a limit: 502.
	Limits http1.Limits
	// MaxBodyBytes bounds a request body of unknown length (chunked), which
	// is spooled to a temporary file so that CONTENT_LENGTH can be sent
	// (WSGI applications read exactly that much). Default 128 MiB; over it:
	// 413. Bodies of known length are streamed.
	MaxBodyBytes int64
	// SpoolDir is where such bodies are spooled. Default "": os.TempDir().
	SpoolDir string
	// ServerSoftware is SERVER_SOFTWARE. Default "gatehouse".
	ServerSoftware string
	// Logger receives the failed exchanges with uWSGI: the first of a kind at
	// once, then one line per interval with their count. nil means
	// slog.Default().
	Logger *slog.Logger
}

// Handler forwards requests to uWSGI over the uwsgi protocol.
type Handler struct {
	cfg      Config
	pool     *upstream.Pool
	ownPool  bool
	failures *webcgi.Failures // the failed requests' log, rate-limited
}

var _ web.Handler = (*Handler)(nil)

// New returns a handler for cfg. Close releases its connections.
func New(cfg Config) (*Handler, error) {
	if cfg.Mount != "" && (cfg.Mount[0] != '/' || strings.HasSuffix(cfg.Mount, "/")) {
		return nil, fmt.Errorf("uwsgi: mount %q: want \"\" or a path like /app", cfg.Mount)
	}
	pool, own := cfg.Pool, false
	if pool == nil {
		cfg.Upstream.MaxIdle = -1 // uWSGI closes after each response
		p, err := upstream.New(cfg.Upstream)
		if err != nil {
			return nil, fmt.Errorf("uwsgi: %w", err)
		}
		pool, own = p, true
	}
	if cfg.MaxVarsBytes <= 0 || cfg.MaxVarsBytes > puwsgi.MaxVarsSize {
		cfg.MaxVarsBytes = puwsgi.MaxVarsSize
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ServerSoftware == "" {
		cfg.ServerSoftware = DefaultServerSoftware
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{cfg: cfg, pool: pool, ownPool: own}
	h.failures = &webcgi.Failures{Limiter: lograte.Limiter{Logger: cfg.Logger}, Msg: "uwsgi request failed"}
	return h, nil
}

// Close closes the connection pool, when New built it.
func (h *Handler) Close() error {
	if !h.ownPool {
		return nil
	}
	return h.pool.Close()
}

var (
	errTimeout    = &web.Error{Status: 504, Err: errors.New("uwsgi: upstream did not answer in time")}
	errSendTime   = &web.Error{Status: 504, Err: errors.New("uwsgi: upstream did not take the request in time")}
	errNoResponse = &web.Error{Status: 502, Err: errors.New("uwsgi: upstream closed the connection without a response")}
	errSwitch     = &web.Error{Status: 502, Err: errors.New("uwsgi: upstream switched protocols")}
	errShortBody  = &web.Error{Status: 502, Err: errors.New("uwsgi: upstream closed the connection inside the body")}
)

// ServeHTTP sends the request to uWSGI and streams the answer back. Its
// failures are logged here, rate-limited (webcgi.Failures), not by the server
// per request.
func (h *Handler) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	return h.failures.Check(r, h.serve(w, r), "upstream", h.pool.String())
}

func (h *Handler) serve(w web.ResponseWriter, r *web.Request) error {
	ctx := r.Context()
	body, length := r.Body(), r.ContentLength()
	if length < 0 {
		f, n, err := spool(body, h.cfg.SpoolDir, h.cfg.MaxBodyBytes)
		if err != nil {
			return err
		}
		defer f.Close()
		body, length = f, n
	}
	pp := pktPool.Get().(*[]byte)
	defer pktPool.Put(pp)
	pkt, err := h.packet((*pp)[:0], r, length)
	if err != nil {
		return err
	}
	if cap(pkt) <= maxPooledPacket {
		*pp = pkt[:0] // grown for a large request: keep the larger buffer
	}

	uc, err := h.pool.Get(ctx)
	if err != nil {
		return err
	}
	upstream.Connected(r)
	defer uc.Release(false) // one request per connection: uWSGI closes it after the response
	// A client that goes away ends the exchange: every blocked read or write
	// on the upstream connection fails at once, and closing it tells uWSGI.
	stop := context.AfterFunc(ctx, func() { uc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	x := &exchange{h: h, w: w, r: r, conn: uc.Conn, upstream: uc.Upstream(), pktLen: len(pkt)}
	sendErr := x.send(pkt, body, length)
	if sendErr != nil && !x.upstreamWriteFailed {
		return sendErr // the client's body failed: its error, its status
	}
	w.WatchClient() // a client that leaves ends the exchange
	// Even when the request could not all be sent, uWSGI may have answered
	// (an application that refuses a body without reading it): read on.
	return x.receive(sendErr)
}

// packet builds the request packet: the CGI variables of proto/cgienv.
func (h *Handler) packet(dst []byte, r *web.Request, length int64) ([]byte, error) {
	cr := webcgi.Request(r)
	// The path split by the mount point is the one routing matched (merged
	// slashes, unreserved escapes decoded), so SCRIPT_NAME is a prefix of it
	// whatever the request's spelling.
	cr.Path = r.RoutePath()
	if r.ContentLength() < 0 {
		cr.BodyLength = length // a chunked body, spooled to learn its length
	}
	m := cgienv.Mount{ScriptName: h.cfg.Mount, ServerSoftware: h.cfg.ServerSoftware, Extra: h.cfg.Params}
	var b puwsgi.Builder
	b.Reset(dst, h.cfg.Modifier1, h.cfg.Modifier2, h.cfg.MaxVarsBytes)
	switch err := cgienv.Build(cr, &m, b.Add); {
	case errors.Is(err, cgienv.ErrPath):
		return nil, &web.Error{Status: 400, Err: err}
	case err != nil:
		return nil, &web.Error{Status: 404, Err: err}
	}
	pkt, err := b.Finish()
	if err != nil {
		return nil, fmt.Errorf("uwsgi: request variables: %w", err) // 431 from the codec
	}
	return pkt, nil
}

// pktPool holds the buffers request packets are built in: 1 KiB, grown to
// what a request needs up to maxPooledPacket.
var pktPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledPacket = 8 << 10

// bufPool holds the buffers responses are read into, 16 KiB each.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// exchange is one request to uWSGI and its response.
type exchange struct {
	h        *Handler
	w        web.ResponseWriter
	r        *web.Request
	conn     net.Conn
	raw      syscall.RawConn
	upstream string
	pktLen   int

	upstreamWriteFailed bool
}

// send writes the packet, then the body.
func (x *exchange) send(pkt []byte, body io.Reader, length int64) error {
	if err := x.write(pkt); err != nil {
		return err
	}
	if length == 0 {
		return nil
	}
	buf := make([]byte, min(length, 32<<10))
	for length > 0 {
		n, err := body.Read(buf[:min(int64(len(buf)), length)])
		if n > 0 {
			length -= int64(n)
			if werr := x.write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF && length > 0 {
			return &web.Error{Status: 400, Err: io.ErrUnexpectedEOF}
		}
		if err != nil && err != io.EOF {
			return err
		}
	}
	return nil
}

func (x *exchange) write(p []byte) error {
	x.conn.SetWriteDeadline(time.Now().Add(x.h.cfg.WriteTimeout))
	if _, err := x.conn.Write(p); err != nil {
		x.upstreamWriteFailed = true
		return err
	}
	return nil
}

// h2Version is what uWSGI writes at the start of its status line for a
// request whose SERVER_PROTOCOL was HTTP/2.0: it echoes the protocol it was
// given, as behind nginx, and frames the response as HTTP/1.1 all the same.
const h2Version = "HTTP/2.0 "

// relabelHTTP2 reads a status line that starts "HTTP/2.0 " as the HTTP/1.1
// response it is: only on the first bytes of the response to a request that
// came over HTTP/2, so the strict parser still refuses every other version.
func relabelHTTP2(b []byte) {
	if string(b[:len(h2Version)]) == h2Version {
		copy(b, "HTTP/1.1 ")
	}
}

// receive reads the response head, then relays the body.
func (x *exchange) receive(sendErr error) error {
	h := x.h
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var resp http1.Response
	p := http1.ResponseParser{Limits: h.cfg.Limits}
	var r, w int // buf[r:w] is unconsumed
	for {
		n, err := p.Parse(buf[r:w], &resp)
		if err == nil {
			if resp.Status >= 200 {
				r += n
				break
			}
			if resp.Status == 101 {
				return errSwitch
			}
			r += n // an interim response (100, 103): the final one follows
			continue
		}
		if err != http1.ErrNeedMore {
			// a *http1.ResponseError: 502
			return h.failures.Warn(err, x.upstream+"\x00"+err.Error(), "uwsgi upstream sent a bad response head",
				"upstream", x.upstream, "target", string(x.r.Target()), "err", err)
		}
		if w == len(buf) {
			// Make room: move the partial head down, or grow up to the limit.
			if r > 0 {
				w = copy(buf, buf[r:w])
				r = 0
			} else {
				buf = append(buf, make([]byte, len(buf))...)
			}
			p.Reset()
		}
		k, rerr := x.read(buf[w:])
		if r == 0 && w < len(h2Version) && w+k >= len(h2Version) && x.r.ProtoAtLeast(2, 0) {
			relabelHTTP2(buf[:w+k])
		}
		w += k
		if k == 0 && rerr != nil {
			return x.readFailed(rerr, sendErr, w > r)
		}
	}

	hdr := x.w.Header()
	for _, f := range resp.Fields {
		if http1.HopByHop(f.Name) || listedInConnection(&resp, f.Name) {
			continue
		}
		hdr.AddBytes(f.Name, f.Value)
	}
	framing := resp.Framing(x.r.Method() == web.MethodHead)
	x.w.WriteHeader(resp.Status)
	switch framing {
	case http1.FramingNone:
		return nil
	case http1.FramingChunked:
		return x.relayChunked(buf, r, w)
	}
	return x.relay(buf, r, w, framing == http1.FramingLength, resp.ContentLength)
}

// listedInConnection reports a field the Connection field names: hop-by-hop
// too (RFC 9110 §7.6.1).
func listedInConnection(resp *http1.Response, name []byte) bool {
	for _, f := range resp.Fields {
		if !http1.EqualFold(f.Name, "connection") {
			continue
		}
		for _, opt := range strings.Split(string(f.Value), ",") {
			if o := strings.TrimSpace(opt); o != "" && strings.EqualFold(o, string(name)) {
				return true
			}
		}
	}
	return false
}

// read reads from uWSGI with the read timeout.
func (x *exchange) read(p []byte) (int, error) {
	x.conn.SetReadDeadline(time.Now().Add(x.h.cfg.ReadTimeout))
	return x.conn.Read(p)
}

// readFailed maps a failed read before or during the head to an error.
func (x *exchange) readFailed(err, sendErr error, partial bool) error {
	h := x.h
	switch {
	case x.r.Context().Err() != nil:
		return fmt.Errorf("uwsgi: client went away: %w", x.r.Context().Err())
	case errors.Is(err, os.ErrDeadlineExceeded):
		return h.failures.Warn(errTimeout, x.upstream, "uwsgi upstream timed out",
			"upstream", x.upstream, "timeout", h.cfg.ReadTimeout, "target", string(x.r.Target()))
	case errors.Is(sendErr, os.ErrDeadlineExceeded):
		return errSendTime
	}
	if !partial && x.pktLen-puwsgi.HeaderSize > uwsgiBufferSize {
		return h.failures.Warn(errNoResponse, x.upstream, "uwsgi upstream closed without a response; uWSGI drops a request whose variables exceed its --buffer-size (4096 bytes by default)",
			"upstream", x.upstream, "vars_bytes", x.pktLen-puwsgi.HeaderSize, "target", string(x.r.Target()), "err", err)
	}
	return h.failures.Warn(errNoResponse, x.upstream, "uwsgi upstream closed without a response",
		"upstream", x.upstream, "target", string(x.r.Target()), "err", err, "send_err", sendErr)
}

// bodyFailed maps a failed read of the body (after the head went out).
func (x *exchange) bodyFailed(err error) error {
	switch {
	case x.r.Context().Err() != nil:
		return fmt.Errorf("uwsgi: client went away: %w", x.r.Context().Err())
	case errors.Is(err, os.ErrDeadlineExceeded):
		return x.h.failures.Warn(errTimeout, x.upstream, "uwsgi upstream timed out inside the body",
			"upstream", x.upstream, "timeout", x.h.cfg.ReadTimeout, "target", string(x.r.Target()))
	case err == io.EOF:
		return errShortBody
	}
	return &web.Error{Status: 502, Err: fmt.Errorf("uwsgi: read body: %w", err)}
}

var errNotReady = rawio.ErrNotReady

// readReady reads what uWSGI has sent, without waiting: errNotReady when
// nothing is there yet.
func (x *exchange) readReady(p []byte) (int, error) {
	if x.raw == nil {
		sc, ok := x.conn.(syscall.Conn)
		if !ok {
			return 0, errNotReady
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return 0, errNotReady
		}
		x.raw = rc
	}
	return rawio.ReadNoWait(x.raw, p)
}

// next returns the next bytes of the response body: at once when uWSGI has
// some ready; otherwise what was written so far is flushed to the client
// first, then it waits. So a body is sent as it comes, and one that came
// whole is sent in one piece, with a Content-Length when the server can.
func (x *exchange) next(p []byte) (int, error) {
	n, err := x.readReady(p)
	if err != errNotReady {
		return n, err
	}
	if err := x.w.Flush(); err != nil {
		return 0, &clientError{err}
	}
	return x.read(p)
}

// clientError marks a failed write to the client: nothing to answer.
type clientError struct{ err error }

func (e *clientError) Error() string { return "uwsgi: write to client: " + e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// relay copies a body framed by a length (exact) or by the connection's end.
func (x *exchange) relay(buf []byte, r, w int, exact bool, length int64) error {
	left := length
	emit := func(p []byte) error {
		if exact {
			if int64(len(p)) > left {
				p = p[:left] // bytes past the body: nothing asked for them
			}
			left -= int64(len(p))
		}
		if _, err := x.w.Write(p); err != nil {
			return &clientError{err}
		}
		return nil
	}
	if w > r {
		if err := emit(buf[r:w]); err != nil {
			return err
		}
	}
	buf = buf[:cap(buf)]
	for !exact || left > 0 {
		n, err := x.next(buf)
		if n > 0 {
			if err := emit(buf[:n]); err != nil {
				return err
			}
		}
		if err == io.EOF && !exact {
			return nil
		}
		if ce, ok := err.(*clientError); ok {
			return ce
		}
		if err != nil {
			return x.bodyFailed(err)
		}
	}
	return nil
}

// relayChunked decodes a chunked body (uWSGI relays one when the application
// set Transfer-Encoding itself) and writes the data; the server frames it
// again for the client.
func (x *exchange) relayChunked(buf []byte, r, w int) error {
	var dec http1.ChunkedDecoder
	dec.Limits = x.h.cfg.Limits
	buf = buf[:cap(buf)]
	for {
		n, data, err := dec.Decode(buf[r:w], len(buf))
		r += n
		if len(data) > 0 {
			if _, werr := x.w.Write(data); werr != nil {
				return &clientError{werr}
			}
			continue
		}
		switch err {
		case io.EOF:
			return nil
		case http1.ErrNeedMore:
		default:
			return &web.Error{Status: 502, Err: fmt.Errorf("uwsgi: chunked body: %w", err)}
		}
		if r > 0 {
			w = copy(buf, buf[r:w])
			r = 0
		}
		if w == len(buf) {
			return &web.Error{Status: 502, Err: errors.New("uwsgi: chunk line over the buffer")}
		}
		k, rerr := x.next(buf[w:])
		w += k
		if k == 0 && rerr != nil {
			if ce, ok := rerr.(*clientError); ok {
				return ce
			}
			return x.bodyFailed(rerr)
		}
	}
}
