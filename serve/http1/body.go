package http1

import (
	"errors"
	"io"
	"os"

	"gatehouse/proto/http1"
	"gatehouse/web"
)

const (
	bodyNone uint8 = iota
	bodyLength
	bodyChunked
)

// bodyReader streams the request body to the handler: bytes already buffered
// first, then from the connection. Large reads of a Content-Length body go straight
// into the caller's slice. It is the web.Request's Body.
type bodyReader struct {
	c         *conn
	kind      uint8
	remaining int64 // bodyLength: bytes still to come
	total     int64 // bodyChunked: data bytes so far
	dec       http1.ChunkedDecoder
	err       error // sticky
	done      bool  // the whole body (and any trailers) has been read
	active    bool  // false once the handler has returned
	expect100 bool  // the client waits for 100 Continue, not yet sent
}

var (
	errBodyTimeout    = &web.Error{Status: 408, Err: errors.New("request body not received in time")}
	errBodyIncomplete = &web.Error{Status: 400, Err: io.ErrUnexpectedEOF}
	errBodyOverLimit  = &web.Error{Status: 413, Err: errors.New("chunked body over the body limit")}
	errBodyClosed     = errors.New("serve/http1: body read after the handler returned")
)

func (b *bodyReader) reset(h *http1.Request) {
	b.err, b.active, b.total, b.remaining = nil, true, 0, 0
	// RFC 9110 §15.2: a server MUST NOT send a 1xx response to an HTTP/1.0
	// client, which cannot tell it from the final one; its body is just read.
	b.expect100 = h.Expect100 && h.HTTP11()
	switch {
	case h.Chunked:
		b.kind, b.done = bodyChunked, false
		b.dec.Reset()
	case h.ContentLength > 0:
		b.kind, b.done, b.remaining = bodyLength, false, h.ContentLength
	default:
		b.kind, b.done, b.expect100 = bodyNone, true, false
	}
}

// Read implements io.Reader.
func (b *bodyReader) Read(p []byte) (int, error) {
	switch {
	case !b.active:
		return 0, errBodyClosed
	case b.err != nil:
		return 0, b.err
	case b.done:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if b.expect100 && !b.sendContinue() {
		return 0, b.err
	}
	return b.read(p)
}

func (b *bodyReader) read(p []byte) (int, error) {
	if b.kind == bodyChunked {
		return b.readChunked(p)
	}
	return b.readLength(p)
}

// sendContinue answers Expect: 100-continue, at the handler's first read: a
// handler that refuses the request without reading spares the client the upload.
func (b *bodyReader) sendContinue() bool {
	b.expect100 = false
	c := b.c
	if c.resp.committed {
		return true // a final response is out already (RFC 9110 §10.1.1)
	}
	c.out = append(c.outBuf(), "HTTP/1.1 100 Continue\r\n\r\n"...)
	if !c.flush() {
		b.err = c.resp.werr
		return false
	}
	return true
}

func (b *bodyReader) readLength(p []byte) (int, error) {
	c := b.c
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	var n int
	if c.r < c.w {
		n = copy(p, c.rbuf.b[c.r:c.w])
		c.r += n
	} else {
		c.setReadDeadline(c.coarse(), c.cfg.BodyReadTimeout)
		var err error
		if len(p) >= bufSize {
			n, err = c.nc.Read(p) // large reads skip the buffer
		} else {
			if err = b.room(); err == nil {
				var k int
				k, err = c.nc.Read(c.rbuf.b[c.w:])
				c.w += k
				n = copy(p, c.rbuf.b[c.r:c.w])
				c.r += n
			}
		}
		if n == 0 && err != nil {
			return 0, b.fail(err)
		}
	}
	b.remaining -= int64(n)
	if b.remaining == 0 {
		b.done = true
	}
	return n, nil
}

func (b *bodyReader) readChunked(p []byte) (int, error) {
	c := b.c
	for {
		n, data, err := b.dec.Decode(c.rbuf.b[c.r:c.w], len(p))
		c.r += n
		// What the chunks declared so far, data not yet here included: a chunk
		// line that takes the body past the limit is refused when it arrives,
		// not after the client sent (or stalled on) data refused anyway.
		// (Compared as a difference: a 64-bit chunk size plus the total so
		// far would overflow.)
		if max := c.cfg.MaxBodyBytes; max >= 0 && b.dec.Pending() > max-b.total-int64(len(data)) {
			return 0, b.fail(errBodyOverLimit)
		}
		if len(data) > 0 {
			k := copy(p, data)
			b.total += int64(k)
			return k, nil
		}
		switch err {
		case io.EOF:
			b.done = true
			return 0, io.EOF
		case http1.ErrNeedMore:
			if err := b.more(); err != nil {
				return 0, b.fail(err)
			}
		default:
			return 0, b.fail(err)
		}
	}
}

// more reads more body bytes into the buffer, keeping unconsumed framing.
func (b *bodyReader) more() error {
	c := b.c
	if err := b.room(); err != nil {
		return err
	}
	c.setReadDeadline(c.coarse(), c.cfg.BodyReadTimeout)
	n, err := c.nc.Read(c.rbuf.b[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// room makes space after w without touching the head, which the request still
// views: unread bytes move down to bodyBase, or to a fresh, larger buffer. The old
// buffer then stays with the head's views and goes to the garbage collector,
// never back to the pool.
func (b *bodyReader) room() error {
	c := b.c
	if c.r == c.w {
		c.r, c.w = c.bodyBase, c.bodyBase
	}
	if c.rbuf == &c.inline && len(c.rbuf.b)-c.bodyBase < bufSize/2 {
		// The body streams through a full-size buffer so reads stay large; the
		// head stays in the inline buffer, which no one reuses before the
		// request ends.
		nb := getBuf()
		c.w = copy(nb.b, c.rbuf.b[c.r:c.w])
		c.r, c.bodyBase = 0, 0
		c.rbuf = nb
	}
	if c.w < len(c.rbuf.b) {
		return nil
	}
	if c.r > c.bodyBase {
		c.w = c.bodyBase + copy(c.rbuf.b[c.bodyBase:], c.rbuf.b[c.r:c.w])
		c.r = c.bodyBase
		if c.w < len(c.rbuf.b) {
			return nil
		}
	}
	// A chunk line or trailer field longer than the space after the head.
	need := c.w - c.r + max(c.cfg.Limits.MaxFieldBytes, c.cfg.MaxChunkExt+32)
	nb := &buffer{b: make([]byte, max(need, bufSize))}
	c.w = copy(nb.b, c.rbuf.b[c.r:c.w])
	if c.bodyBase == 0 {
		putBuf(c.rbuf) // it holds no head: nothing views it
	}
	c.r, c.bodyBase = 0, 0
	c.rbuf = nb
	return nil
}

func (b *bodyReader) fail(err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = errBodyTimeout
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		err = errBodyIncomplete
	}
	b.err = err
	b.c.broken = true
	return err
}

// remainingHint is how much body is known to be left (0 when unknown).
func (b *bodyReader) remainingHint() int64 {
	if b.kind == bodyLength {
		return b.remaining
	}
	return 0
}

// drain reads and discards what the handler left of the body, up to limit bytes,
// so the connection can serve another request. It reports whether the body ended.
func (b *bodyReader) drain(limit int64) bool {
	if b.err != nil || b.expect100 {
		return false
	}
	var scratch [512]byte
	for read := int64(0); read <= limit; {
		n, err := b.read(scratch[:])
		read += int64(n)
		if err == io.EOF || b.done {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}
