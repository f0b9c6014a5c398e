package uwsgi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"gatehouse/engine"
	"gatehouse/proto/uwsgi"
	"gatehouse/web"
)

// Server serves the uwsgi protocol on connections handed to it by an engine.
type Server struct {
	handler web.Handler
	cfg     Config
}

var _ engine.Handler = (*Server)(nil)

// New returns a server running h with cfg.
func New(h web.Handler, cfg Config) *Server {
	return &Server{handler: h, cfg: cfg.withDefaults()}
}

// Config returns the server's configuration with defaults applied.
func (s *Server) Config() Config { return s.cfg }

// bufSize is the size of pooled read and write buffers. nginx's packets for
// ordinary requests fit; larger ones grow a private buffer.
const bufSize = 8 << 10

type buffer struct{ b []byte }

var bufPool = sync.Pool{New: func() any { return &buffer{b: make([]byte, bufSize)} }}

func getBuf() *buffer { return bufPool.Get().(*buffer) }

func putBuf(b *buffer) {
	if b != nil && len(b.b) == bufSize {
		bufPool.Put(b)
	}
}

var connPool = sync.Pool{New: func() any { return newConn() }}

// conn is the state of one connection; pooled, so a request costs few
// allocations.
type conn struct {
	srv *Server
	cfg *Config
	ec  *engine.Conn
	nc  net.Conn

	rbuf   *buffer
	r, w   int // rbuf.b[r:w]: body bytes read with the packet, not yet consumed
	parser uwsgi.Parser
	pkt    uwsgi.Packet
	names  []byte // header names made from HTTP_* variables, viewed by req.Header
	unread int64  // the body length the packet announced, read or not
	req    web.Request
	body   bodyReader
	resp   response
	entry  web.AccessEntry
}

func newConn() *conn {
	c := &conn{}
	c.body.c = c
	c.resp.c = c
	c.pkt.Vars = make([]uwsgi.Var, 0, 32)
	return c
}

// ServeConn serves the one request a uwsgi connection carries, then closes it.
// It implements engine.Handler.
func (s *Server) ServeConn(ec *engine.Conn) {
	if !s.allowed(ec.Remote) {
		s.cfg.Logger.Warn("uwsgi peer refused: not in the allow-list", "remote", ec.Remote)
		ec.NetConn.Close()
		return
	}
	c := connPool.Get().(*conn)
	c.srv, c.cfg, c.ec, c.nc = s, &s.cfg, ec, ec.NetConn
	c.parser.Limits = s.cfg.Limits
	c.resp.reset()
	c.serve()
	c.nc.Close()
	putBuf(c.rbuf)
	c.rbuf, c.r, c.w = nil, 0, 0
	c.resp.release()
	c.req.Init(web.Head{}, web.Conn{}, web.NoBody)
	c.pkt.Reset()
	c.srv, c.cfg, c.ec, c.nc = nil, nil, nil, nil
	connPool.Put(c)
}

// allowed reports whether a peer may speak to this server: Unix-socket peers
// (no address) always, TCP peers when an Allow prefix holds them.
func (s *Server) allowed(remote netip.AddrPort) bool {
	if !remote.IsValid() {
		return true
	}
	a := remote.Addr().Unmap()
	for _, p := range s.cfg.Allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (c *conn) log() *slog.Logger { return c.cfg.Logger }

func (c *conn) serve() {
	start := time.Now()
	n, err := c.readPacket(start)
	if err != nil {
		c.packetFailed(err, start)
		return
	}
	h := &c.pkt.Header
	if h.Modifier1 != uwsgi.ModWSGI || h.Modifier2 != 0 {
		// Other packet types (uWSGI's internal routing, signals, other
		// plugins' requests) may not expect an HTTP answer: close.
		c.log().Info("uwsgi request refused: unsupported packet type", "remote", c.ec.Remote,
			"modifier1", h.Modifier1, "modifier2", h.Modifier2)
		return
	}
	c.r += n
	early := c.buildRequest()
	c.resp.isHead = c.req.Method() == web.MethodHead

	var herr error
	if early != nil {
		c.log().Info("uwsgi request refused", "remote", c.ec.Remote, "status", web.StatusOf(early),
			"reason", early.Error(), "target", string(c.req.Target()))
		herr = early
	} else {
		herr = c.callHandler()
		c.unwatch()
	}
	c.body.active = false
	if herr != nil {
		if early == nil && c.req.Context().Err() != nil && errors.Is(herr, context.Canceled) {
			// The connection ended under the handler (nginx went away, or the
			// server was force-closed): nobody is left to answer; nginx's 499.
			c.resp.abandon()
			c.log().Info("request abandoned: the connection ended", "remote", c.req.RemoteAddr(),
				"status", c.resp.status, "method", c.req.Method(), "target", string(c.req.Target()), "err", herr)
		} else if c.resp.committed {
			c.log().Log(context.Background(), failLevel(herr), "handler failed after responding", "remote", c.req.RemoteAddr(),
				"method", c.req.Method(), "target", string(c.req.Target()), "err", herr)
			c.resp.abort = true
		} else {
			status := web.StatusOf(herr)
			if early == nil {
				if status >= 500 {
					c.log().Log(context.Background(), failLevel(herr), "handler failed", "remote", c.req.RemoteAddr(), "status", status,
						"method", c.req.Method(), "target", string(c.req.Target()), "err", herr)
				} else {
					c.log().Info("request failed", "remote", c.req.RemoteAddr(), "status", status,
						"method", c.req.Method(), "target", string(c.req.Target()), "err", herr)
				}
			}
			c.resp.resetForError()
			web.RenderError(&c.resp, &c.req, herr)
		}
	}
	c.resp.finish()
	if c.cfg.AccessLog != nil {
		c.entry = web.AccessEntry{Request: &c.req, Status: c.resp.status, BodyBytes: c.resp.sent,
			Start: start, Duration: time.Since(start), Remote: c.req.RemoteAddr()}
		c.cfg.AccessLog.LogAccess(&c.entry)
	}
	if !c.resp.abort && c.resp.werr == nil {
		// What the peer still sends: the body the handler left, or all of a
		// refused request's.
		left := c.body.remaining
		if early != nil {
			left = c.unread
		}
		c.linger(left - int64(c.w-c.r))
	}
}

// readPacket reads until a whole packet is buffered at rbuf.b[0:].
func (c *conn) readPacket(start time.Time) (int, error) {
	// The wait for the first byte counts as idle for a graceful shutdown: a
	// connection that has sent nothing is closed at once.
	if !c.ec.SetIdle() {
		return 0, errDraining
	}
	c.nc.SetReadDeadline(deadline(start, c.cfg.ReadHeaderTimeout))
	c.rbuf = getBuf()
	first := true
	for {
		n, err := c.parser.Parse(c.rbuf.b[:c.w], &c.pkt)
		if err == nil {
			return n, nil
		}
		if err != uwsgi.ErrNeedMore {
			return 0, err
		}
		if c.w == len(c.rbuf.b) {
			// Grow to hold the whole block, which the header announced
			// (and the parser checked against the limit), plus a little body.
			hd, _ := uwsgi.ParseHeader(c.rbuf.b[:c.w])
			nb := &buffer{b: make([]byte, uwsgi.HeaderSize+int(hd.Size)+bufSize)}
			c.w = copy(nb.b, c.rbuf.b[:c.w])
			putBuf(c.rbuf)
			c.rbuf = nb
		}
		k, err := c.nc.Read(c.rbuf.b[c.w:])
		c.w += k
		if k > 0 && first {
			first = false
			if !c.ec.SetActive() {
				return 0, errDraining
			}
		}
		if err != nil && k == 0 {
			if errors.Is(err, os.ErrDeadlineExceeded) && c.w > 0 {
				return 0, errPacketTimeout
			}
			if c.w > 0 && !errors.Is(err, os.ErrDeadlineExceeded) {
				return 0, errPacketCut
			}
			return 0, errSilent
		}
	}
}

var (
	errDraining      = errors.New("server shutting down")
	errSilent        = errors.New("connection closed or timed out before a packet")
	errPacketCut     = errors.New("connection closed inside a packet")
	errPacketTimeout = &web.Error{Status: 408, Err: errors.New("uwsgi packet not received in time")}
)

// packetFailed answers or closes after a packet that could not be read.
func (c *conn) packetFailed(err error, start time.Time) {
	switch err {
	case errDraining, errSilent:
		return
	case errPacketCut:
		c.log().Debug("uwsgi connection closed inside a packet", "remote", c.ec.Remote)
		return
	}
	status := web.StatusOf(err)
	c.log().Info("uwsgi request refused", "remote", c.ec.Remote, "status", status, "reason", err.Error())
	text := web.StatusText(status)
	out := c.resp.outBuf()
	out = appendStatusLine(out, status)
	out = append(out, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(text)+5), 10)
	out = append(out, "\r\n\r\n"...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, ' ')
	out = append(out, text...)
	out = append(out, '\n')
	c.resp.out = out
	werr := c.resp.flushOut()
	if c.cfg.AccessLog != nil {
		c.entry = web.AccessEntry{Status: status, Start: start, Duration: time.Since(start),
			Remote: c.ec.Remote, BodyBytes: int64(len(text) + 5)}
		c.cfg.AccessLog.LogAccess(&c.entry)
	}
	if werr == nil {
		c.linger(c.cfg.DrainBodyBytes) // the rest of the packet and its body may be on the way
	}
}

// callHandler runs the handler, turning a panic into a 500.
func (c *conn) callHandler() (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == web.ErrAbortHandler {
				err = web.ErrAbortHandler
			} else {
				c.log().Error("handler panicked", "remote", c.req.RemoteAddr(), "method", c.req.Method(),
					"target", string(c.req.Target()), "panic", p, "stack", string(debug.Stack()))
				err = &web.Error{Status: 500, Err: errors.New("handler panicked")}
			}
		}
	}()
	return c.srv.handler.ServeHTTP(&c.resp, &c.req)
}

// linger ends the connection gently when the peer is still sending (left
// bytes): the response is complete, so the write side is shut (the peer sees
// the end of the response), and what comes is read and dropped, up to
// DrainBodyBytes. Closing with unread bytes would make the kernel reset the
// connection, and a reset can destroy the response before the peer reads it:
// nginx would then answer 502 in place of the 413 or 431 it was sent.
func (c *conn) linger(left int64) {
	if left <= 0 || c.cfg.DrainBodyBytes < 0 {
		return
	}
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.CopyN(io.Discard, c.nc, min(left, c.cfg.DrainBodyBytes))
}

// failLevel is the level of a failed handler's line: error, or debug when the
// handler logged the failure itself (web.Logged: a gateway, rate-limited).
func failLevel(err error) slog.Level {
	if web.IsLogged(err) {
		return slog.LevelDebug
	}
	return slog.LevelError
}
