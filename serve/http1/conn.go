package http1

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"gatehouse/engine"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// conn is the state of one connection. It is pooled: everything in it is reused,
// so that a keep-alive request costs no allocation.
//
// Buffers: rbuf holds received bytes; rbuf.b[r:w] is unread. While a request is
// served, its head (which the web.Request views) sits before bodyBase and is never
// overwritten. Idle connections hold no buffers: the idle read takes one from the
// pool only when bytes are actually there (see readIdle).
type conn struct {
	srv *Server
	cfg *Config
	ec  *engine.Conn     // the goroutine engine's connection; nil on epoll
	ev  engine.EventConn // the epoll engine's connection; nil on the goroutine engine
	nc  net.Conn         // ec.NetConn, or ev
	rc  syscall.RawConn  // nil when the connection has no file descriptor (TLS)
	tls *tls.ConnectionState

	remote, local netip.AddrPort
	ctx           context.Context
	drain         interface{ Draining() bool } // ec or ev

	// On epoll the loop parses heads; what it found for the worker to answer.
	refusal     error // a head that cannot be served, or the head timeout
	headStarted bool  // a partial head is buffered and its deadline set

	rbuf     *buffer
	r, w     int
	bodyBase int
	// inline is the first read buffer of every request: most heads fit in 1 KiB
	// (nginx's client_header_buffer_size), so they need no pool round trip, and
	// an idle connection pins only this. Larger heads move to a pooled buffer.
	inline    buffer
	inlineArr [inlineSize]byte

	wbuf *buffer
	out  []byte // pending output: responses not yet written
	iov  [3][]byte
	bufs net.Buffers

	parser http1.Parser
	head   http1.Request
	req    web.Request
	resp   response
	body   bodyReader
	entry  web.AccessEntry

	http11 bool // the current request is HTTP/1.1
	nreq   int
	broken bool // framing is lost (body error): close after the response

	// Time is kept as Unix nanoseconds: time.Time arithmetic costs more than
	// reading the clock. See tickNow and clock.
	rdl, wdl int64     // deadlines last set; 0: none
	base     time.Time // a wall-clock reading with its monotonic part (tickNow)
	baseNano int64     // base as Unix nanoseconds
	now      int64     // the time at the last clock() call
	readFn   func(fd uintptr) bool
	idleErr  error

	// sendFile's state, for its RawConn callbacks (method values made once).
	sendMoreFn, sendfileFn func(fd uintptr) bool
	sendOut                []byte
	sfFile                 int
	sfOff, sfLeft, sfN     int64
	sfErr                  error
	idleN                  int
	hijacked               bool

	// A byte the client watch read: the next request's first (watch.go).
	watchByte byte
	watchN    int
}

func newConn() *conn {
	c := &conn{}
	c.readFn = c.readIdleFn
	c.sendMoreFn, c.sendfileFn = c.sendMore, c.sendfile
	c.inline.b = c.inlineArr[:]
	c.resp.c = c
	c.body.c = c
	c.head.Fields = make([]http1.Field, 0, 16)
	return c
}

func (c *conn) start(s *Server, ec *engine.Conn) {
	c.srv, c.cfg, c.ec, c.nc = s, &s.cfg, ec, ec.NetConn
	c.remote, c.local, c.ctx, c.drain = ec.Remote, ec.Local, ec.Context(), ec
	c.rc, c.tls = nil, ec.TLS
	if sc, ok := c.nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
		}
	}
	c.r, c.w, c.bodyBase, c.nreq, c.broken, c.hijacked = 0, 0, 0, 0, false, false
	c.rdl, c.wdl, c.watchN = 0, 0, 0
	c.tickNow()
	c.parser.Limits = c.cfg.Limits
	c.parser.Reset()
	c.body.dec.Limits = c.cfg.Limits
	c.body.dec.MaxExt = c.cfg.MaxChunkExt
}

// end releases the connection's buffers and closes it, unless it was upgraded.
func (c *conn) end() {
	if !c.hijacked {
		c.nc.Close()
	}
	c.releaseBuffers()
	c.req.Init(web.Head{}, web.Conn{}, web.NoBody)
	c.head.Reset()
	c.srv, c.cfg, c.ec, c.nc, c.rc, c.tls = nil, nil, nil, nil, nil, nil
	c.ctx, c.drain = nil, nil
	c.watchN = 0 // a pipelined byte the watch read, never served: not the next client's
}

func (c *conn) releaseBuffers() {
	putBuf(c.rbuf)
	putBuf(c.wbuf)
	c.rbuf, c.wbuf, c.out = nil, nil, nil
	c.r, c.w = 0, 0
	c.resp.releasePending()
}

func (c *conn) log() *slog.Logger { return c.cfg.Logger }

// serve runs the request loop until the connection is to be closed.
func (c *conn) serve() {
	for {
		if c.r == c.w {
			// Nothing buffered: send what is pending, give the buffers back and
			// wait for the next request holding nothing but the goroutine.
			if !c.flush() {
				return
			}
			c.releaseBuffers()
			if !c.ec.SetIdle() {
				return
			}
			// Let other connections run before reading: a client that just
			// got its response usually sends the next request within
			// microseconds, so after one turn of the run queue the read
			// finds it instead of failing with EAGAIN and parking. Measured:
			// syscalls per keep-alive request fall from 3.0 to 2.4 (50
			// connections) and 2.1 (256). Alone on the CPU, it is ~100 ns.
			runtime.Gosched()
			// The first request of a connection gets the header timeout: a
			// connection that opens and sends nothing is a slowloris too.
			wait := c.cfg.IdleTimeout
			if c.nreq == 0 {
				wait = c.cfg.ReadHeaderTimeout
			}
			c.setReadDeadline(c.now, wait)
			if err := c.readIdle(); err != nil {
				c.idleReadFailed(err)
				return
			}
			if !c.ec.SetActive() {
				return
			}
		}
		if !c.readHead() {
			return
		}
		if !c.serveRequest() {
			c.flush()
			return
		}
	}
}

func (c *conn) idleReadFailed(err error) {
	if errors.Is(err, os.ErrDeadlineExceeded) && c.nreq == 0 {
		// A connection that never sent a byte: close without a response, as
		// nginx does; there is no request to answer.
		c.log().Debug("closing silent connection", "remote", c.remote)
	}
}

// readIdle waits for the first bytes of the next request without holding a buffer:
// the raw read callback takes a buffer from the pool, reads, and gives it back if
// the read would block, so the wait itself pins no memory.
func (c *conn) readIdle() error {
	if c.takeWatchByte() {
		return nil
	}
	if c.rc == nil {
		c.rbuf = &c.inline
		n, err := c.nc.Read(c.rbuf.b)
		c.r, c.w = 0, n
		if n > 0 {
			return nil
		}
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	c.idleErr, c.idleN = nil, 0
	if err := c.rc.Read(c.readFn); err != nil {
		return err
	}
	if c.idleErr != nil {
		return c.idleErr
	}
	c.r, c.w = 0, c.idleN
	return nil
}

func (c *conn) readIdleFn(fd uintptr) bool {
	c.rbuf = &c.inline
	for {
		n, _, errno := syscall.Syscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.inlineArr[0])), inlineSize)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno == syscall.EAGAIN:
			return false
		case errno != 0:
			c.idleErr = errno
		case n == 0:
			c.idleErr = io.EOF
		default:
			c.idleN = int(n)
		}
		return true
	}
}

// readHead reads until a whole request head is buffered at rbuf.b[r:].
func (c *conn) readHead() bool {
	deadline := false
	for {
		_, err := c.parser.Parse(c.rbuf.b[c.r:c.w], &c.head)
		if err == nil {
			return true
		}
		if err != http1.ErrNeedMore {
			c.refuse(err)
			return false
		}
		// Responses to earlier pipelined requests go out before we wait.
		if !c.flush() {
			return false
		}
		if !deadline {
			// The head timeout counts from now, when the first bytes are here.
			c.tickNow()
			c.setReadDeadline(c.now, c.cfg.ReadHeaderTimeout)
			deadline = true
		}
		c.roomForHead()
		n, err := c.nc.Read(c.rbuf.b[c.w:])
		c.w += n
		if err != nil && n == 0 {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				if c.headBegun() {
					c.refuse(errHeaderTimeout)
				} else {
					c.idleReadFailed(err)
				}
			} else if c.w > c.r {
				c.log().Debug("connection closed inside a request head", "remote", c.remote, "err", err)
			}
			return false
		}
	}
}

var errHeaderTimeout = &web.Error{Status: 408, Err: errors.New("request head not received in time")}

// headBegun reports whether the buffered bytes begin a request head. Empty
// lines do not (RFC 9112 §2.2: ignored before a request line; old clients send
// one after a POST body), so a connection that sent only those is as idle as
// one that sent nothing: when its wait ends it is closed without a response,
// where a head under way gets 408. The parser has refused anything else that is
// not a head (a bare LF, a 17th empty line), so this looks at a few bytes.
func (c *conn) headBegun() bool {
	if c.rbuf == nil {
		return false
	}
	for _, b := range c.rbuf.b[c.r:c.w] {
		if b != '\r' && b != '\n' {
			return true
		}
	}
	return false
}

// roomForHead makes space after w for more head bytes: it moves the partial head to
// the start of the buffer, or grows the buffer. Either way the parser restarts,
// since its views would point at moved bytes.
func (c *conn) roomForHead() {
	if c.w < len(c.rbuf.b) {
		return
	}
	if c.r > 0 {
		c.w = copy(c.rbuf.b, c.rbuf.b[c.r:c.w])
		c.r = 0
	} else {
		// The parser refuses a head beyond MaxHeaderBytes, so the buffer never
		// needs to grow past that (plus room for pipelined bytes behind it).
		var nb *buffer
		if size := min(2*len(c.rbuf.b), c.cfg.Limits.MaxHeaderBytes+bufSize); size <= bufSize {
			nb = getBuf()
		} else {
			nb = &buffer{b: make([]byte, size)}
		}
		c.w = copy(nb.b, c.rbuf.b[c.r:c.w])
		c.r = 0
		putBuf(c.rbuf)
		c.rbuf = nb
	}
	c.parser.Reset()
	c.head.Reset()
}

// refuse answers a request that could not be parsed or timed out, and leaves the
// connection to be closed: after a framing error its state is unknown.
func (c *conn) refuse(err error) {
	status := web.StatusOf(err)
	reason := err.Error()
	var pe *http1.Error
	if errors.As(err, &pe) {
		reason = pe.Reason
	}
	c.log().Info("request refused", "remote", c.remote, "status", status, "reason", reason)
	now := c.coarse()
	c.out = c.outBuf()
	c.out = c.appendSimple(c.out, status, now)
	c.flush()
	if c.cfg.AccessLog != nil {
		c.entry = web.AccessEntry{Status: status, Start: time.Unix(0, now), Remote: c.remote,
			BodyBytes: int64(len(web.StatusText(status)) + 5)}
		c.cfg.AccessLog.LogAccess(&c.entry)
	}
}

// appendSimple appends a complete error response that closes the connection.
func (c *conn) appendSimple(dst []byte, status int, now int64) []byte {
	text := web.StatusText(status)
	dst = c.appendStatus(dst, status)
	dst = append(dst, "Date: "...)
	dst = dates.appendTo(dst, now)
	dst = append(dst, "\r\n"...)
	dst = append(dst, c.srv.serverField...)
	dst = append(dst, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(text)+5), 10)
	dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, text...)
	return append(dst, '\n')
}

func (c *conn) appendStatus(dst []byte, status int) []byte {
	if status >= 100 && status < len(c.srv.statusLines) && c.srv.statusLines[status] != nil {
		return append(dst, c.srv.statusLines[status]...)
	}
	return appendStatusLine(dst, status, "")
}

func appendStatusLine(dst []byte, code int, text string) []byte {
	return http1.AppendStatusLine(dst, code, text)
}

// serveRequest serves the request whose head is parsed; it returns false when the
// connection must close.
func (c *conn) serveRequest() bool {
	h := &c.head
	c.nreq++
	c.http11 = h.HTTP11()
	var start int64
	if c.cfg.AccessLog != nil {
		start = c.clock()
	}

	// Checks on a well-formed head, before any handler runs.
	var early error
	method, known := web.InternMethod(h.Method)
	switch {
	case !known:
		early = errUnknownMethod // RFC 9110 §9.1
	case c.http11 && !h.HasHost:
		early = errMissingHost // RFC 9112 §3.2
	case method == web.MethodConnect:
		// CONNECT asks for a tunnel, not a resource: answered here, before
		// routing, so that no handler mistakes its authority-form target for a
		// path. The forward proxy will take CONNECT at this point.
		early = errConnect
	case h.ExpectOther:
		early = errExpectation // RFC 9110 §10.1.1
	case c.cfg.MaxBodyBytes >= 0 && h.ContentLength > c.cfg.MaxBodyBytes:
		early = errBodyTooLarge // decided before reading any of it
	}

	host := h.Host
	fromTarget := h.Form == http1.FormAbsolute || h.Form == http1.FormAuthority
	if fromTarget {
		host = h.Authority // RFC 9112 §3.2.2: the target's authority wins over Host
	}
	if !known {
		method = string(h.Method) // for the log line only
	}
	length := h.ContentLength
	if length < 0 && !h.Chunked {
		length = 0 // neither field: no body (RFC 9112 §6.3)
	}
	c.req.Init(web.Head{
		Method: method, Target: h.Target, Path: h.Path, Query: h.Query, Host: host,
		Scheme: c.cfg.Scheme, ProtoMajor: h.Major, ProtoMinor: h.Minor, ContentLength: length,
	}, web.Conn{Remote: c.remote, Local: c.local, TLS: c.tls, Ctx: c.ctx}, &c.body)
	if fromTarget {
		appendFieldsHostFrom(&c.req.Header, h.Fields, host)
	} else {
		for _, f := range h.Fields {
			c.req.Header.AppendView(f.Name, f.Value)
		}
	}
	c.r += h.HeadLen
	c.bodyBase = c.r
	c.body.reset(h)
	c.resp.reset(method == web.MethodHead)

	var err error
	switch {
	case early != nil:
		c.log().Info("request refused", "remote", c.remote, "status", web.StatusOf(early),
			"reason", early.(*web.Error).Err.Error(), "method", method, "target", string(h.Target))
		err = early
		if h.Chunked || h.ContentLength > 0 {
			c.resp.closeAfter = true // the body is not read: framing is lost
		}
	case h.Form == http1.FormAsterisk:
		// OPTIONS * asks about the server, not a resource (RFC 9110 §9.3.7).
		c.resp.header.Set("Allow", allowServer)
		c.resp.header.Set("Content-Length", "0")
		c.resp.WriteHeader(200)
	default:
		err = c.callHandler()
		c.unwatch()
	}
	c.body.active = false

	if err != nil {
		if early == nil && c.ctx.Err() != nil && errors.Is(err, context.Canceled) {
			// The connection ended under the handler (the client went away, or
			// the server was force-closed): nobody is left to answer. Logged,
			// and counted in the access log, as nginx's 499.
			c.resp.abandon()
			c.log().Info("request abandoned: the connection ended", "remote", c.remote,
				"status", c.resp.status, "method", method, "target", string(h.Target), "err", err)
		} else if c.resp.committed {
			// Too late for an error page: cut the response short so the client
			// sees it is incomplete.
			c.resp.closeAfter = true
			c.resp.abort = true
			if c.resp.werr != nil {
				// The client stopped taking the response (a reset, a broken
				// pipe): the client's doing, not a fault of the server or the
				// application, so not an error (nginx logs it at info).
				c.log().Info("response cut short: the client went away", "remote", c.remote,
					"method", method, "target", string(h.Target), "err", err)
			} else {
				c.log().Log(context.Background(), failLevel(err), "handler failed after responding", "remote", c.remote,
					"method", method, "target", string(h.Target), "err", err)
			}
		} else {
			status := web.StatusOf(err)
			if status >= 500 && early == nil {
				c.log().Log(context.Background(), failLevel(err), "handler failed", "remote", c.remote, "status", status,
					"method", method, "target", string(h.Target), "err", err)
			} else if early == nil {
				c.log().Info("request failed", "remote", c.remote, "status", status,
					"method", method, "target", string(h.Target), "err", err)
			}
			c.resp.resetForError()
			web.RenderError(&c.resp, &c.req, err)
		}
	}
	if c.hijacked {
		return false
	}
	if c.broken || c.body.expect100 && !c.body.done {
		// A body error left framing unknown; or the client waits for 100
		// Continue that never came and may or may not send the body.
		c.resp.closeAfter = true
	}
	if !c.resp.committed && !c.body.done && c.body.remainingHint() > c.cfg.DrainBodyBytes {
		c.resp.closeAfter = true // not worth reading the rest to keep the connection
	}
	c.resp.finish()

	if c.cfg.AccessLog != nil {
		c.entry = web.AccessEntry{Request: &c.req, Status: c.resp.status, BodyBytes: c.resp.sent,
			Start: time.Unix(0, start), Duration: time.Duration(c.clock() - start), Remote: c.req.RemoteAddr()}
		c.cfg.AccessLog.LogAccess(&c.entry)
	}
	if c.resp.closeAfter {
		return false
	}
	if !c.body.done && !c.body.drain(c.cfg.DrainBodyBytes) {
		return false
	}
	// Flush unless the next pipelined request is already here: its response
	// then goes out with this one in a single write.
	if c.r == c.w || len(c.out) >= bufSize {
		return c.flush()
	}
	return true
}

// appendFieldsHostFrom exposes the fields of a request whose target carries its
// authority, with that authority as the Host field (RFC 9112 §3.2.2: the
// server MUST ignore the Host field then). Handlers and gateways (HTTP_HOST)
// read the Host field; left as sent, an attacker's Host beside
// "GET http://shop.example/" would reach an application that builds links
// (a password-reset mail) from it. HTTP/1.0 may send no Host: one is added.
func appendFieldsHostFrom(hdr *web.Header, fields []http1.Field, authority []byte) {
	seen := false
	for _, f := range fields {
		if http1.EqualFold(f.Name, "host") {
			f.Value, seen = authority, true
		}
		hdr.AppendView(f.Name, f.Value)
	}
	if !seen {
		hdr.AppendView(hostName, authority)
	}
}

var hostName = []byte("Host")

// allowServer lists the methods the server itself handles, for OPTIONS *.
const allowServer = "GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH"

var (
	errUnknownMethod = &web.Error{Status: 501, Err: errors.New("unknown method")}
	errMissingHost   = &web.Error{Status: 400, Err: errors.New("HTTP/1.1 request without Host")}
	// 501, not 405: 405 says the target resource does not allow the method and
	// MUST list the ones it does (RFC 9110 §15.5.6), but an authority-form target
	// names no resource; 501 says the server supports the method for none
	// (RFC 9110 §15.6.2), which is the case until there is a forward proxy.
	errConnect      = &web.Error{Status: 501, Err: errors.New("CONNECT is not implemented: no forward proxy")}
	errExpectation  = &web.Error{Status: 417, Err: errors.New("unsupported expectation")}
	errBodyTooLarge = &web.Error{Status: 413, Err: errors.New("declared Content-Length over the body limit")}
)

// callHandler runs the handler, turning a panic into a 500 that closes the
// connection (the handler's state is unknown).
func (c *conn) callHandler() (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == web.ErrAbortHandler {
				err = web.ErrAbortHandler
			} else {
				c.log().Error("handler panicked", "remote", c.remote, "method", c.req.Method(),
					"target", string(c.req.Target()), "panic", p, "stack", string(debug.Stack()))
				err = &web.Error{Status: 500, Err: errPanic}
			}
			c.resp.closeAfter = true
		}
	}()
	return c.srv.handler.ServeHTTP(&c.resp, &c.req)
}

var errPanic = errors.New("handler panicked")

// outBuf returns the pending-output slice, backed by a pooled buffer.
func (c *conn) outBuf() []byte {
	if c.wbuf == nil {
		c.wbuf = getBuf()
		c.out = c.wbuf.b[:0]
	}
	return c.out
}

// flush writes pending output. It returns false if the write failed.
func (c *conn) flush() bool {
	if len(c.out) == 0 {
		return true
	}
	c.setWriteDeadline(c.now, c.cfg.WriteTimeout)
	_, err := c.nc.Write(c.out)
	c.resetOut()
	if err != nil {
		c.writeFailed(err)
		return false
	}
	return true
}

func (c *conn) resetOut() {
	if c.wbuf != nil {
		c.out = c.wbuf.b[:0]
	} else {
		c.out = nil
	}
}

// writeVec writes pending output followed by p (and tail) in one writev call.
func (c *conn) writeVec(p, tail []byte) bool {
	c.iov[0], c.iov[1], c.iov[2] = c.out, p, tail
	c.bufs = c.iov[:]
	if len(tail) == 0 {
		c.bufs = c.iov[:2]
	}
	c.setWriteDeadline(c.coarse(), c.cfg.WriteTimeout)
	_, err := c.bufs.WriteTo(c.nc)
	c.iov = [3][]byte{}
	c.resetOut()
	if err != nil {
		c.writeFailed(err)
		return false
	}
	return true
}

func (c *conn) writeFailed(err error) {
	c.resp.werr = err
	c.resp.closeAfter = true
	if !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		c.log().Debug("write failed", "remote", c.remote, "err", err)
	}
}

// coarse returns the time for Date fields and deadlines: on the epoll engine the
// loop's clock, read once per loop turn (Date has a resolution of a second,
// deadlines a slack of 1/16), which spares a clock read per request; else clock.
func (c *conn) coarse() int64 {
	if c.ev != nil {
		c.now = c.ev.Now()
		return c.now
	}
	return c.clock()
}

// tickNow reads the wall clock (47 ns on the reference machine).
func (c *conn) tickNow() {
	c.base = time.Now()
	c.baseNano = c.base.UnixNano()
	c.now = c.baseNano
}

// clock returns the current time in Unix nanoseconds from the monotonic clock,
// which costs half a wall-clock read, added to a wall-clock reading refreshed once
// a second (so a step of the system clock shows within a second). Responses take
// their Date from it; deadlines set between two calls use the last value, c.now.
func (c *conn) clock() int64 {
	if d := time.Since(c.base); d < time.Second {
		c.now = c.baseNano + int64(d)
	} else {
		c.tickNow()
	}
	return c.now
}

// Deadlines are set only when they move by more than a small slack (1/16 of the
// timeout, at most a second), or earlier: a timer update per request is measurable
// on a keep-alive loop, and a timeout a fraction early is harmless.
func (c *conn) setReadDeadline(now int64, d time.Duration) { c.setDeadline(&c.rdl, true, now, d) }

func (c *conn) setWriteDeadline(now int64, d time.Duration) { c.setDeadline(&c.wdl, false, now, d) }

func (c *conn) setDeadline(cur *int64, read bool, now int64, d time.Duration) {
	var t int64
	if d > 0 {
		t = now + int64(d)
	}
	if slackOK(*cur, t, d) {
		return
	}
	*cur = t
	switch {
	case c.ev != nil && read:
		c.ev.SetReadDeadlineNano(t)
	case c.ev != nil:
		c.ev.SetWriteDeadlineNano(t)
	case read:
		c.nc.SetReadDeadline(deadline(t))
	default:
		c.nc.SetWriteDeadline(deadline(t))
	}
}

func deadline(t int64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(0, t)
}

func slackOK(cur, want int64, d time.Duration) bool {
	if cur == 0 || want == 0 {
		return cur == want
	}
	return want >= cur && want-cur <= int64(min(d/16, time.Second))
}

// failLevel is the level of a failed handler's line: error, or debug when the
// handler logged the failure itself (web.Logged: a gateway, rate-limited), so
// that a backend that is down does not write a line per request.
func failLevel(err error) slog.Level {
	if web.IsLogged(err) {
		return slog.LevelDebug
	}
	return slog.LevelError
}
