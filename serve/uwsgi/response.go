package uwsgi

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"gatehouse/internal/bytesconv"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// response is the web.ResponseWriter of a connection. It writes an HTTP/1.1
// response, which is what a uwsgi peer reads back (nginx parses it as it parses
// uWSGI's). The connection carries one request, so a body of unknown length
// simply ends when the connection closes; no chunked coding is needed, and
// nginx's uwsgi module would not decode one.
type response struct {
	c      *conn
	header web.Header
	status int

	committed bool
	isHead    bool
	sendBody  bool
	length    int64 // Content-Length sent, or -1
	declared  int64 // the handler's Content-Length; -1 none, -2 not read yet
	written   int64 // body bytes the handler wrote
	sent      int64 // body bytes put on the wire
	abort     bool  // the handler failed after committing
	werr      error // sticky write error

	pending []byte // body written before commit, up to bufSize
	pbuf    *buffer
	out     []byte // head and body not yet written
	obuf    *buffer
	bufs    net.Buffers
}

var _ web.ResponseWriter = (*response)(nil)

// Errors a handler's writes can return.
var (
	ErrBodyNotAllowed = errors.New("serve/uwsgi: response status does not allow a body")
	ErrContentLength  = errors.New("serve/uwsgi: wrote more than the declared Content-Length")
	ErrNoUpgrade      = errors.New("serve/uwsgi: the uwsgi protocol cannot switch protocols")
)

func (w *response) reset() {
	w.header.Reset()
	w.status = 0
	w.committed, w.isHead, w.sendBody = false, false, false
	w.length, w.declared, w.written, w.sent = -1, -2, 0, 0
	w.abort, w.werr = false, nil
}

// abandon gives up on a response whose connection ended: nothing more is
// written.
func (w *response) abandon() {
	w.pending = w.pending[:0]
	if !w.committed {
		w.status = web.StatusClientClosed
	}
	w.committed, w.abort = true, true
	w.length = -1
}

func (w *response) resetForError() {
	w.header.Reset()
	w.status = 0
	w.written = 0
	w.declared = -2
	w.pending = w.pending[:0]
}

func (w *response) release() {
	putBuf(w.pbuf)
	putBuf(w.obuf)
	w.pbuf, w.obuf, w.pending, w.out = nil, nil, nil, nil
}

func (w *response) outBuf() []byte {
	if w.obuf == nil {
		w.obuf = getBuf()
		w.out = w.obuf.b[:0]
	}
	return w.out
}

func (w *response) Header() *web.Header { return &w.header }

func (w *response) WriteHeader(status int) {
	if w.committed || w.status != 0 || status < 200 || status > 999 {
		return // 1xx is not relayed; a second call is ignored
	}
	w.status = status
}

func (w *response) Status() int    { return w.status }
func (w *response) Written() int64 { return w.written }

func (w *response) WriteString(s string) (int, error) { return w.Write(bytesconv.Bytes(s)) }

func (w *response) Write(p []byte) (int, error) {
	if w.werr != nil {
		return 0, w.werr
	}
	if w.committed {
		return w.emit(p)
	}
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
	if len(w.pending)+len(p) <= bufSize {
		if w.pbuf == nil {
			w.pbuf = getBuf()
			w.pending = w.pbuf.b[:0]
		}
		w.pending = append(w.pending, p...)
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

func (w *response) declaredLength() int64 {
	if v := w.header.Peek("Content-Length"); v != nil {
		if n, ok := http1.ParseContentLength(v); ok {
			return n
		}
	}
	return -1
}

// emit sends body bytes after the head is committed.
func (w *response) emit(p []byte) (int, error) {
	if !w.sendBody {
		w.written += int64(len(p))
		if !w.isHead && len(p) > 0 {
			return 0, ErrBodyNotAllowed
		}
		return len(p), nil
	}
	var err error
	n := len(p)
	if w.length >= 0 && w.written+int64(n) > w.length {
		n, err = int(w.length-w.written), ErrContentLength
	}
	if n == 0 {
		return 0, err
	}
	p = p[:n]
	w.written += int64(n)
	w.sent += int64(n)
	if out := w.outBuf(); len(out)+n <= bufSize {
		w.out = append(out, p...)
		return n, err
	}
	w.setWriteDeadline()
	w.bufs = append(w.bufs[:0], w.out, p)
	_, werr := w.bufs.WriteTo(w.c.nc)
	w.out = w.obuf.b[:0]
	if werr != nil {
		w.werr = werr
		return 0, werr
	}
	return n, err
}

// commit appends the head to the output. final is true when the handler has
// returned, so the whole body is pending and its length known.
func (w *response) commit(final bool) {
	w.committed = true
	if w.status == 0 {
		w.status = 200
	}
	if w.declared == -2 {
		w.declared = w.declaredLength()
	}
	bodyAllowed := http1.BodyAllowed(w.status)
	w.sendBody = bodyAllowed && !w.isHead
	switch {
	case !bodyAllowed:
	case w.declared >= 0:
		w.length = w.declared
	case final && !(w.isHead && w.written == 0):
		w.length = w.written
	}
	out := appendStatusLine(w.outBuf(), w.status)
	for i := 0; i < w.header.Len(); i++ {
		f := w.header.At(i)
		if managedField(f.Name) {
			continue
		}
		out, _ = http1.AppendFieldSafe(out, f.Name, f.Value)
	}
	if w.length >= 0 {
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, w.length, 10)
		out = append(out, "\r\n"...)
	}
	// Each connection carries one request: say so, so that a peer that keeps
	// connections (it may not, over uwsgi) does not wait for another.
	out = append(out, "Connection: close\r\n\r\n"...)
	w.out = out
	pending := w.pending
	w.written -= int64(len(pending))
	if len(pending) > 0 {
		w.emit(pending)
	}
	w.pending = w.pending[:0]
}

// managedField reports fields the server writes itself: the framing is its
// own, whatever the handler set.
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

func appendStatusLine(dst []byte, status int) []byte {
	return http1.AppendStatusLine(dst, status, web.StatusText(status))
}

func (w *response) setWriteDeadline() {
	w.c.nc.SetWriteDeadline(deadline(time.Now(), w.c.cfg.WriteTimeout))
}

// flushOut writes pending output.
func (w *response) flushOut() error {
	if w.werr != nil {
		return w.werr
	}
	if len(w.out) == 0 {
		return nil
	}
	w.setWriteDeadline()
	_, err := w.c.nc.Write(w.out)
	w.out = w.out[:0]
	if err != nil {
		w.werr = err
	}
	return err
}

func (w *response) Flush() error {
	if w.werr != nil {
		return w.werr
	}
	if !w.committed {
		w.commit(false)
	}
	return w.flushOut()
}

// finish completes the response after the handler returned.
func (w *response) finish() {
	if !w.committed {
		w.commit(true)
	}
	if w.abort {
		// The peer must see the response end early; with a Content-Length it
		// can tell, without one it cannot, which the log line records.
		w.flushOut()
		return
	}
	if w.length >= 0 && w.sendBody && w.sent < w.length {
		w.c.log().Error("handler wrote less than its Content-Length", "remote", w.c.req.RemoteAddr(),
			"target", string(w.c.req.Target()), "declared", w.length, "written", w.sent)
	}
	w.flushOut()
}

// SendFile sends count bytes of f from offset, by sendfile(2) at an explicit
// offset when the connection has a descriptor; f's own offset is not used.
func (w *response) SendFile(f *os.File, offset, count int64) error {
	if w.werr != nil {
		return w.werr
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
	if err := w.flushOut(); err != nil {
		return err
	}
	n, err := w.sendFile(f, offset, count)
	w.written += n
	w.sent += n
	if err != nil {
		w.werr = err
	}
	return err
}

func (w *response) sendFile(f *os.File, offset, count int64) (int64, error) {
	sc, ok := w.c.nc.(syscall.Conn)
	var rc syscall.RawConn
	if ok {
		rc, _ = sc.SyscallConn()
	}
	if rc == nil {
		w.setWriteDeadline()
		n, err := io.Copy(w.c.nc, io.NewSectionReader(f, offset, count))
		if err == nil && n < count {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	src := int(f.Fd())
	var sent int64
	var serr error
	const piece = 4 << 20 // each piece under a fresh deadline: time without progress
	for left := count; left > 0 && serr == nil; {
		want := min(left, piece)
		w.setWriteDeadline()
		err := rc.Write(func(fd uintptr) bool {
			for want > 0 {
				n, err := syscall.Sendfile(int(fd), src, &offset, int(want))
				if n > 0 {
					want -= int64(n)
					left -= int64(n)
					sent += int64(n)
				}
				switch {
				case err == syscall.EINTR:
					continue
				case err == syscall.EAGAIN:
					return false
				case err != nil:
					serr = err
					return true
				case n == 0:
					serr = io.ErrUnexpectedEOF // the file is shorter than count
					return true
				}
			}
			return true
		})
		if err != nil {
			serr = err
		}
	}
	return sent, serr
}

// Upgrade is not possible: the peer reads an HTTP response, not a byte stream.
func (w *response) Upgrade() (net.Conn, error) { return nil, ErrNoUpgrade }
