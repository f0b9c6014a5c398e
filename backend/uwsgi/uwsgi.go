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
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/proto/cgienv"
	"gatehouse/proto/http1"
	puwsgi "gatehouse/proto/uwsgi"
	"gatehouse/upstream"
	"gatehouse/upstream/relay"
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

	uc, err := h.pool.GetWant(ctx, upstream.Want{Key: h.pool.KeyFor(r.RemoteAddr().Addr())})
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

// exchange is one request to uWSGI and its response.
type exchange struct {
	h        *Handler
	w        web.ResponseWriter
	r        *web.Request
	conn     net.Conn
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
	rd := relay.Reader{Conn: x.conn, ReadTimeout: h.cfg.ReadTimeout, Limits: h.cfg.Limits}
	if x.r.ProtoAtLeast(2, 0) {
		rd.Fix = relabelHTTP2
	}
	defer rd.Release()
	var resp http1.Response
	if err := rd.ReadHead(&resp); err != nil {
		var re *http1.ResponseError
		if errors.As(err, &re) { // 502
			return h.failures.Warn(err, x.upstream+"\x00"+err.Error(), "uwsgi upstream sent a bad response head",
				"upstream", x.upstream, "target", string(x.r.Target()), "err", err)
		}
		return x.readFailed(err, sendErr, rd.Got)
	}
	if resp.Status == 101 {
		return errSwitch
	}
	relay.CopyHeader(x.w.Header(), &resp, nil)
	x.w.WriteHeader(resp.Status)
	err := rd.Body(x.w, &resp, x.r.Method() == web.MethodHead)
	var ce *relay.ClientError
	var be *relay.BodyError
	switch {
	case err == nil, errors.As(err, &ce):
		return err
	case errors.As(err, &be):
		return &web.Error{Status: 502, Err: fmt.Errorf("uwsgi: %w", err)}
	}
	return x.bodyFailed(err)
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
	case err == relay.ErrShortBody:
		return errShortBody
	}
	return &web.Error{Status: 502, Err: fmt.Errorf("uwsgi: read body: %w", err)}
}
