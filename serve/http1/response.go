package http1

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"gatehouse/internal/bytesconv"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// pendingMax is how much body the response buffers before sending the head. A
// handler that finishes within it gets a Content-Length; a longer body that has
// none is sent chunked (HTTP/1.1) or until close (HTTP/1.0).
const pendingMax = bufSize

// response is the web.ResponseWriter of a connection, reused for every request.
type response struct {
	c      *conn
	header web.Header
	status int

	committed  bool // the head is in c.out (or sent)
	isHead     bool // the request is HEAD: count the body, send none
	sendBody   bool // decided at commit
	chunked    bool
	length     int64 // Content-Length sent, or -1
	declared   int64 // the handler's Content-Length, read at its first write; -1 none, -2 not read yet
	written    int64 // body bytes the handler wrote
	sent       int64 // body bytes put on the wire
	closeAfter bool  // close the connection after this response
	abort      bool  // the handler failed after committing: do not end the body
	werr       error // sticky write error

	pending []byte // body written before commit
	small   [512]byte
	pbuf    *buffer
}

var _ web.ResponseWriter = (*response)(nil)

// ErrBodyNotAllowed is returned by Write when the status has no body (1xx, 204, 304)
// and the request is not HEAD.
var ErrBodyNotAllowed = errors.New("serve/http1: response status does not allow a body")

// ErrContentLength is returned by Write when the handler writes more than the
// Content-Length it declared.
var ErrContentLength = errors.New("serve/http1: wrote more than the declared Content-Length")

// ErrUpgraded is returned by writes after Upgrade.
var ErrUpgraded = errors.New("serve/http1: connection was upgraded")

func (w *response) reset(isHead bool) {
	w.header.Reset()
	w.status = 0
	w.committed, w.isHead, w.sendBody, w.chunked = false, isHead, false, false
	w.length, w.written, w.sent, w.declared = -1, 0, 0, -2
	w.closeAfter, w.abort, w.werr = false, false, nil
	w.pending = w.small[:0]
}

// abandon gives up on a response whose connection ended: nothing more is
// written and the connection closes. The access log keeps the status of a
// head already sent, 499 otherwise.
func (w *response) abandon() {
	w.releasePending()
	if !w.committed {
		w.status = web.StatusClientClosed
	}
	w.committed, w.abort, w.closeAfter = true, true, true
	w.length = -1
}

// resetForError discards what the handler prepared, before an error page.
func (w *response) resetForError() {
	w.header.Reset()
	w.status = 0
	w.declared = -2 // the error page declares its own length
	w.written = 0
	w.releasePending()
}

func (w *response) releasePending() {
	putBuf(w.pbuf)
	w.pbuf = nil
	w.pending = w.small[:0]
}

func (w *response) Header() *web.Header { return &w.header }

func (w *response) WriteHeader(status int) {
	if w.committed || w.status != 0 || status < 200 || status > 999 {
		// 1xx: 100 Continue is the server's to send; other interim responses
		// are not supported. A second call is ignored, as in net/http.
		return
	}
	w.status = status
}

func (w *response) Status() int { return w.status }

func (w *response) Written() int64 { return w.written }

func (w *response) WriteString(s string) (int, error) {
	return w.Write(bytesconv.Bytes(s)) // Write only reads p
}

func (w *response) Write(p []byte) (int, error) {
	if w.werr != nil {
		return 0, w.werr
	}
	if w.c.hijacked {
		return 0, ErrUpgraded
	}
	if !w.committed {
		if w.status == 0 {
			w.status = 200
		}
		if w.declared == -2 {
			w.declared = w.declaredLength()
		}
		var err error
		if w.declared >= 0 && w.written+int64(len(p)) > w.declared && !w.isHead {
			p, err = p[:w.declared-w.written], ErrContentLength
		}
		if len(w.pending)+len(p) <= pendingMax {
			w.buffer(p)
			w.written += int64(len(p))
			return len(p), err
		}
		w.commit(false)
		n, err2 := w.emit(p)
		if err2 != nil {
			err = err2
		}
		return n, err
	}
	return w.emit(p)
}

// declaredLength returns the Content-Length the handler set, or -1.
func (w *response) declaredLength() int64 {
	for i := 0; i < w.header.Len(); i++ {
		if f := w.header.At(i); len(f.Name) == 14 && http1.EqualFold(f.Name, "content-length") {
			if n, ok := http1.ParseContentLength(f.Value); ok {
				return n
			}
		}
	}
	return -1
}

// buffer appends p to the pending body, moving from the inline array to a pooled
// buffer when it outgrows it.
func (w *response) buffer(p []byte) {
	if len(w.pending)+len(p) > len(w.small) && w.pbuf == nil {
		w.pbuf = getBuf()
		w.pending = append(w.pbuf.b[:0], w.pending...)
	}
	w.pending = append(w.pending, p...)
}

// emit sends body bytes after the head is committed.
func (w *response) emit(p []byte) (int, error) {
	if !w.sendBody {
		w.written += int64(len(p))
		if !w.isHead && !http1.BodyAllowed(w.status) && len(p) > 0 {
			return 0, ErrBodyNotAllowed
		}
		return len(p), nil
	}
	var err error
	n := len(p)
	if w.length >= 0 && w.written+int64(n) > w.length {
		n = int(w.length - w.written)
		err = ErrContentLength
	}
	if n == 0 {
		return 0, err
	}
	w.written += int64(n)
	w.sent += int64(n)
	c := w.c
	p = p[:n]
	if w.chunked {
		c.out = http1.AppendChunkHeader(c.outBuf(), n)
		if len(c.out)+n+2 <= bufSize {
			c.out = append(c.out, p...)
			c.out = append(c.out, "\r\n"...)
			return n, err
		}
		if !c.writeVec(p, crlf) {
			return 0, w.werr
		}
		return n, err
	}
	if len(c.outBuf())+n <= bufSize {
		c.out = append(c.out, p...)
		return n, err
	}
	if !c.writeVec(p, nil) {
		return 0, w.werr
	}
	return n, err
}

var crlf = []byte("\r\n")

// commit decides the framing and appends the head to the connection's output.
// final is true when the handler has returned, so the whole body is pending.
func (w *response) commit(final bool) {
	w.committed = true
	c := w.c
	if w.status == 0 {
		w.status = 200
	}
	status := w.status
	if w.declared == -2 {
		w.declared = w.declaredLength()
	}
	declared := w.declared
	hasDate, hasServer := false, false
	for i := 0; i < w.header.Len(); i++ {
		f := w.header.At(i)
		switch len(f.Name) {
		case 4:
			hasDate = hasDate || http1.EqualFold(f.Name, "date")
		case 6:
			hasServer = hasServer || http1.EqualFold(f.Name, "server")
		case 10:
			if http1.EqualFold(f.Name, "connection") && http1.HasElement(f.Value, "close") {
				w.closeAfter = true
			}
		}
	}
	bodyAllowed := http1.BodyAllowed(status)
	w.sendBody = bodyAllowed && !w.isHead
	keepAlive := !w.closeAfter && !c.head.Close && !c.drain.Draining() &&
		(c.cfg.MaxRequestsPerConn <= 0 || c.nreq < c.cfg.MaxRequestsPerConn)
	switch {
	case !bodyAllowed:
	case declared >= 0:
		w.length = declared
	case final && !(w.isHead && w.written == 0):
		w.length = w.written
	case final:
		// HEAD with nothing written: the length GET would have is unknown.
	case c.http11:
		w.chunked = true
	default:
		keepAlive = false // HTTP/1.0 without a length: the body ends at close
	}
	if !keepAlive {
		w.closeAfter = true
	}

	out := c.appendStatus(c.outBuf(), status)
	for i := 0; i < w.header.Len(); i++ {
		f := w.header.At(i)
		if managedField(f.Name) {
			continue
		}
		out, _ = http1.AppendFieldSafe(out, f.Name, f.Value)
	}
	if !hasDate {
		out = append(out, "Date: "...)
		out = dates.appendTo(out, c.coarse())
		out = append(out, "\r\n"...)
	}
	if !hasServer {
		out = append(out, c.srv.serverField...)
	}
	if w.length >= 0 && bodyAllowed {
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, w.length, 10)
		out = append(out, "\r\n"...)
	}
	if w.chunked {
		out = append(out, "Transfer-Encoding: chunked\r\n"...)
	}
	if w.closeAfter {
		out = append(out, "Connection: close\r\n"...)
	} else if !c.http11 {
		out = append(out, "Connection: keep-alive\r\n"...)
	}
	c.out = append(out, "\r\n"...)

	pending := w.pending
	w.written -= int64(len(pending))
	if len(pending) > 0 {
		w.emit(pending)
	}
	w.releasePending()
}

// managedField reports fields the server writes itself: framing and connection
// management are the server's, whatever the handler set (a handler's
// Transfer-Encoding or Content-Length must never disagree with the framing sent).
func managedField(name []byte) bool {
	switch len(name) {
	case 10:
		return http1.EqualFold(name, "connection") || http1.EqualFold(name, "keep-alive")
	case 14:
		return http1.EqualFold(name, "content-length")
	case 17:
		return http1.EqualFold(name, "transfer-encoding")
	}
	return false
}

// Flush sends the head and pending body now.
func (w *response) Flush() error {
	if w.werr != nil {
		return w.werr
	}
	if w.c.hijacked {
		return ErrUpgraded
	}
	if !w.committed {
		w.commit(false)
	}
	if !w.c.flush() {
		return w.werr
	}
	return nil
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	c := w.c
	if c.hijacked {
		return
	}
	if !w.committed {
		w.commit(true)
	} else if w.chunked && w.sendBody && !w.abort && w.werr == nil {
		c.out = append(c.outBuf(), http1.LastChunk...)
	}
	if w.length >= 0 && w.sendBody && w.sent < w.length {
		// The declared length was not reached: the client must see the body
		// end early, which only closing can tell it.
		w.closeAfter = true
		if !w.abort {
			c.log().Error("handler wrote less than its Content-Length", "remote", c.remote,
				"target", string(c.req.Target()), "declared", w.length, "written", w.sent)
		}
	}
}

// SendFile sends count bytes of f from offset, with sendfile(2) when the
// connection is a plain TCP or Unix socket. f's own offset is neither used nor
// moved, so one open file can serve several requests at once.
func (w *response) SendFile(f *os.File, offset, count int64) error {
	if w.werr != nil {
		return w.werr
	}
	c := w.c
	if c.hijacked {
		return ErrUpgraded
	}
	if !w.committed {
		if w.status == 0 {
			w.status = 200
		}
		w.commit(false)
	}
	if !w.sendBody || count <= 0 {
		w.written += max(count, 0)
		return nil
	}
	if w.length >= 0 && w.written+count > w.length {
		return ErrContentLength
	}
	if w.chunked {
		c.out = http1.AppendChunkHeader(c.outBuf(), int(count))
	}
	if c.rc == nil {
		// TLS and other connections without a descriptor: copy through memory,
		// reading at explicit offsets (f's own offset is not used or moved).
		if !c.flush() {
			return w.werr
		}
		n, err := io.Copy(c.nc, io.NewSectionReader(f, offset, count))
		w.written += n
		w.sent += n
		if err == nil && n < count {
			err = io.ErrUnexpectedEOF // the file is shorter than count
		}
		if err != nil {
			w.closeAfter = true
			c.writeFailed(err)
			return err
		}
	} else if err := c.sendFile(f, offset, count); err != nil {
		w.closeAfter = true
		return err
	}
	if w.chunked {
		c.out = append(c.outBuf(), "\r\n"...)
	}
	return nil
}

// WatchClient cancels the request's context as soon as the client closes the
// connection, while the handler waits (see watch.go).
func (w *response) WatchClient() { w.c.watchClient() }

// Upgrade hands the connection to the handler. Pending output is written first.
func (w *response) Upgrade() (net.Conn, error) {
	c := w.c
	if c.hijacked {
		return nil, ErrUpgraded
	}
	c.unwatch()
	if !c.flush() {
		return nil, w.werr
	}
	c.hijacked = true
	nc := c.nc
	if c.ev != nil {
		// The event loop lets go of the socket; the handler gets it on Go's
		// own poller. The connection is gone from the engine even on error.
		var err error
		if nc, err = c.ev.Detach(); err != nil {
			return nil, err
		}
	}
	nc.SetDeadline(time.Time{})
	var buffered []byte
	if c.rbuf != nil && c.r < c.w {
		buffered = append([]byte(nil), c.rbuf.b[c.r:c.w]...)
		c.r = c.w
	}
	if c.watchN > 0 { // the client watch read the tunnel's first byte
		buffered = append(buffered, c.watchByte)
		c.watchN = 0
	}
	return &upgradedConn{Conn: nc, buffered: buffered}, nil
}

type upgradedConn struct {
	net.Conn
	buffered []byte
}

// CloseWrite ends the sending side alone (a tunnel's half-close), where the
// connection can.
func (u *upgradedConn) CloseWrite() error {
	if cw, ok := u.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (u *upgradedConn) Read(p []byte) (int, error) {
	if len(u.buffered) > 0 {
		n := copy(p, u.buffered)
		u.buffered = u.buffered[n:]
		return n, nil
	}
	return u.Conn.Read(p)
}
