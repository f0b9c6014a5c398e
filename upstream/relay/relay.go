// Package relay reads an HTTP/1.x response from an upstream connection and
// relays it to a web.ResponseWriter: the head with proto/http1's strict
// parser, the body by its framing (Content-Length, chunked, or the
// connection's end), sent on whenever the upstream has nothing more ready.
// So a streamed response (Server-Sent Events, a long poll) is seen as it is
// produced, one that came whole goes out in one piece, and a large one is
// never held in memory. The uwsgi gateway and the reverse proxy share it:
// uWSGI answers in HTTP/1.x too.
//
// The Reader reports what happened; what it means (502, 504, a retry, a
// connection kept or closed) is the caller's to decide.
package relay

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"gatehouse/internal/rawio"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// bufPool holds the buffers responses are read into, 16 KiB each: a head
// that needs more grows its buffer up to Limits.MaxHeaderBytes.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

const bufSize = 16 << 10

// Reader reads one response from Conn. Set the exported fields, call
// ReadHead, then Body (or Buffered, for a tunnel); Release gives its
// buffer back.
type Reader struct {
	Conn net.Conn
	// ReadTimeout bounds each read (time without progress). 0: none.
	ReadTimeout time.Duration
	// Limits bound the head (see http1.ResponseParser).
	Limits http1.Limits
	// Fix, when set, may rewrite the first bytes of the response before
	// they are parsed (uWSGI's "HTTP/2.0" status line); it sees them once,
	// when at least 9 have arrived.
	Fix func(b []byte)

	bp    *[]byte
	buf   []byte
	r, w  int // buf[r:w] is read and not consumed
	raw   syscall.RawConn
	fixed bool
	// Got reports whether any byte of the response arrived.
	Got bool
	// Ended reports whether the body was read to its end exactly, with no
	// byte past it: the connection can carry another exchange.
	Ended bool
}

// Release gives the buffer back; the Reader may be used again after
// setting Conn.
func (x *Reader) Release() {
	if x.bp != nil && cap(x.buf) == bufSize {
		*x.bp = x.buf[:bufSize]
		bufPool.Put(x.bp)
	}
	x.bp, x.buf, x.r, x.w, x.raw, x.fixed, x.Got, x.Ended = nil, nil, 0, 0, nil, false, false, false
}

// ReadHead reads the next response head into resp. Interim responses (100,
// 102, 103) are skipped; 101 is returned like a final one, for the caller
// to decide. It returns a *http1.ResponseError for a malformed head, or the
// connection's read error (io.EOF, a timeout): Got says whether part of a
// response had come.
func (x *Reader) ReadHead(resp *http1.Response) error {
	if x.buf == nil {
		x.bp = bufPool.Get().(*[]byte)
		x.buf = (*x.bp)[:bufSize]
	}
	p := http1.ResponseParser{Limits: x.Limits}
	for {
		if x.w > x.r {
			n, err := p.Parse(x.buf[x.r:x.w], resp)
			if err == nil {
				x.r += n
				if resp.Status >= 200 || resp.Status == 101 {
					return nil
				}
				continue // an interim response: the final one follows
			}
			if err != http1.ErrNeedMore {
				return err
			}
		}
		if x.w == len(x.buf) {
			// Make room: move the partial head down, or grow up to the limit.
			if x.r > 0 {
				x.w = copy(x.buf, x.buf[x.r:x.w])
				x.r = 0
			} else {
				x.buf = append(x.buf, make([]byte, len(x.buf))...)
			}
			p.Reset()
		}
		k, err := x.read(x.buf[x.w:])
		x.w += k
		if k > 0 {
			x.Got = true
		}
		if x.Fix != nil && !x.fixed && x.w >= 9 {
			x.Fix(x.buf[:x.w])
			x.fixed = true
		}
		if k == 0 && err != nil {
			return err
		}
	}
}

// Buffered returns the bytes read past the head (and past the body, once
// Body returned), consuming them.
func (x *Reader) Buffered() []byte {
	b := x.buf[x.r:x.w]
	x.r = x.w
	return b
}

// ClientError is a failed write to the client: nothing more can be
// answered.
type ClientError struct{ Err error }

func (e *ClientError) Error() string { return "write to client: " + e.Err.Error() }
func (e *ClientError) Unwrap() error { return e.Err }

// ErrShortBody: the upstream closed the connection inside the body.
var ErrShortBody = errors.New("upstream closed the connection inside the body")

// BodyError is a body the upstream framed wrongly (a bad chunk).
type BodyError struct{ Err error }

func (e *BodyError) Error() string { return "bad response body: " + e.Err.Error() }
func (e *BodyError) Unwrap() error { return e.Err }

// Body relays the body of resp, the response to a request whose method was
// HEAD when head is set, to w. It returns nil once the body is complete
// (Ended then says whether the connection ended cleanly with it), a
// *ClientError, a *BodyError, ErrShortBody, or the connection's read error.
func (x *Reader) Body(w web.ResponseWriter, resp *http1.Response, head bool) error {
	switch resp.Framing(head) {
	case http1.FramingNone:
		x.Ended = x.w == x.r
		return nil
	case http1.FramingChunked:
		return x.chunked(w)
	case http1.FramingLength:
		return x.copy(w, true, resp.ContentLength)
	}
	return x.copy(w, false, -1)
}

func (x *Reader) read(p []byte) (int, error) {
	if x.ReadTimeout > 0 {
		x.Conn.SetReadDeadline(time.Now().Add(x.ReadTimeout))
	}
	return x.Conn.Read(p)
}

// readReady reads what the upstream has sent, without waiting:
// rawio.ErrNotReady when nothing is there yet.
func (x *Reader) readReady(p []byte) (int, error) {
	if x.raw == nil {
		sc, ok := x.Conn.(syscall.Conn)
		if !ok {
			return 0, rawio.ErrNotReady
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return 0, rawio.ErrNotReady
		}
		x.raw = rc
	}
	return rawio.ReadNoWait(x.raw, p)
}

// next returns the next bytes of the body: at once when the upstream has
// some ready; otherwise what was written so far is flushed to the client
// first, then it waits.
func (x *Reader) next(w web.ResponseWriter, p []byte) (int, error) {
	n, err := x.readReady(p)
	if err != rawio.ErrNotReady {
		return n, err
	}
	if err := w.Flush(); err != nil {
		return 0, &ClientError{err}
	}
	return x.read(p)
}

// copy relays a body framed by a length (exact) or by the connection's end.
func (x *Reader) copy(w web.ResponseWriter, exact bool, length int64) error {
	left := length
	emit := func(p []byte) error {
		if exact {
			if int64(len(p)) > left {
				p = p[:left] // bytes past the body: see Ended
			}
			left -= int64(len(p))
		}
		x.r += len(p)
		if _, err := w.Write(p); err != nil {
			return &ClientError{err}
		}
		return nil
	}
	if x.w > x.r {
		if err := emit(x.buf[x.r:x.w]); err != nil {
			return err
		}
	}
	if exact && left == 0 {
		x.Ended = x.r == x.w
		return nil
	}
	buf := x.buf[:cap(x.buf)]
	for {
		x.r, x.w = 0, 0
		n, err := x.next(w, buf)
		x.w = n
		if n > 0 {
			if err := emit(buf[:n]); err != nil {
				return err
			}
			if exact && left == 0 {
				x.Ended = x.r == x.w
				return nil
			}
		}
		switch {
		case err == io.EOF && !exact:
			return nil // the body ends with the connection: never Ended
		case err == io.EOF:
			return ErrShortBody
		case err != nil:
			return err
		}
	}
}

// chunked decodes a chunked body and writes the data; the server frames it
// again for the client. Trailers are read and dropped.
func (x *Reader) chunked(w web.ResponseWriter) error {
	var dec http1.ChunkedDecoder
	dec.Limits = x.Limits
	x.buf = x.buf[:cap(x.buf)]
	for {
		n, data, err := dec.Decode(x.buf[x.r:x.w], len(x.buf))
		x.r += n
		if len(data) > 0 {
			if _, werr := w.Write(data); werr != nil {
				return &ClientError{werr}
			}
			continue
		}
		switch err {
		case io.EOF:
			x.Ended = x.r == x.w
			return nil
		case http1.ErrNeedMore:
		default:
			return &BodyError{fmt.Errorf("chunked: %w", err)}
		}
		if x.r > 0 {
			x.w = copy(x.buf, x.buf[x.r:x.w])
			x.r = 0
		}
		if x.w == len(x.buf) {
			return &BodyError{errors.New("chunk line over the buffer")}
		}
		k, rerr := x.next(w, x.buf[x.w:])
		x.w += k
		if k == 0 && rerr != nil {
			if rerr == io.EOF {
				return ErrShortBody
			}
			return rerr
		}
	}
}

// CopyHeader adds resp's end-to-end fields to h: not the hop-by-hop ones
// (RFC 9110 §7.6.1), nor those its Connection field names, nor those drop
// reports.
func CopyHeader(h *web.Header, resp *http1.Response, drop func(name []byte) bool) {
	for _, f := range resp.Fields {
		if http1.HopByHop(f.Name) || (drop != nil && drop(f.Name)) || ListedInConnection(resp.Fields, f.Name) {
			continue
		}
		h.AddBytes(f.Name, f.Value)
	}
}

// ListedInConnection reports whether the Connection fields among fields
// name name: a hop-by-hop field too (RFC 9110 §7.6.1).
func ListedInConnection(fields []http1.Field, name []byte) bool {
	for _, f := range fields {
		if len(f.Name) != len("connection") || !http1.EqualFold(f.Name, "connection") {
			continue
		}
		for v := f.Value; len(v) > 0; {
			var opt []byte
			opt, v = http1.NextElement(v)
			if http1.EqualFoldBytes(opt, name) {
				return true
			}
		}
	}
	return false
}
