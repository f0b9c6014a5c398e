package encode

import (
	"bytes"
	"gatehouse/internal/httpspec"
	"io"
	"os"
	"strconv"
	"sync"

	"gatehouse/internal/bytesconv"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// Encoder is the middleware for one Config. Build it once and share it: it
// holds the pools of encoders.
type Encoder struct {
	cfg    Config
	codecs *codecs
	ws     sync.Pool // *writer
	bufs   sync.Pool // *[]byte, for what waits for the minimum
	outs   sync.Pool // *[]byte of outSize: compressed output on its way
	reads  sync.Pool // *[]byte: a file read on its way to the compressor
}

// New returns the compression for cfg, or an error for a value out of range.
func New(cfg Config) (*Encoder, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Encoder{cfg: cfg, codecs: newCodecs(cfg)}
	e.ws.New = func() any { return &writer{e: e} }
	return e, nil
}

// Wrap returns next with its responses compressed.
func (e *Encoder) Wrap(next web.Handler) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		return e.serve(next, w, r)
	})
}

func (e *Encoder) serve(next web.Handler, w web.ResponseWriter, r *web.Request) error {
	x := e.ws.Get().(*writer)
	x.WriterWrapper.ResponseWriter, x.w, x.r = w, w, r
	accept := parseAccept(&r.Header)
	x.coding, x.accepted = choose(&accept, e.cfg.Codings)
	defer func() {
		if p := recover(); p != nil {
			x.release() // the server answers the panic; the writer is not reused
			panic(p)
		}
	}()
	err := next.ServeHTTP(x, r)
	err = x.finish(err)
	x.release()
	e.ws.Put(x)
	return err
}

// How a response goes out, decided when its head must go.
const (
	undecided uint8 = iota
	passing         // as the handler writes it
	encoding        // through the compressor
)

// writer is the web.ResponseWriter the handler writes to. It implements
// every method (see web.WriterWrapper) but Upgrade and WatchClient, which
// pass through: it changes what the body is.
type writer struct {
	web.WriterWrapper
	e        *Encoder
	w        web.ResponseWriter // the client's
	r        *web.Request
	coding   Coding
	accepted bool // the client accepts coding
	state    uint8
	status   int
	held     *[]byte // body written before the decision: fewer bytes than MinLength
	obuf     *[]byte // compressed output not yet written
	z        compressor
	written  int64
	zerr     error // the compressor's writes to w failed
}

func (x *writer) release() {
	if x.z != nil {
		x.e.codecs.put(x.coding, x.z)
	}
	if x.held != nil {
		*x.held = (*x.held)[:0]
		x.e.bufs.Put(x.held)
	}
	if x.obuf != nil {
		*x.obuf = (*x.obuf)[:0]
		x.e.outs.Put(x.obuf)
	}
	*x = writer{e: x.e}
}

func (x *writer) Header() *web.Header { return x.w.Header() }

func (x *writer) WriteHeader(status int) {
	if x.state != undecided || x.status != 0 {
		return
	}
	if status < 200 {
		x.w.WriteHeader(status) // interim: 100, 103, sent as they come
		return
	}
	x.status = status
}

func (x *writer) Status() int {
	if x.state == undecided {
		return x.status
	}
	return x.w.Status()
}

func (x *writer) Written() int64 { return x.written }

func (x *writer) WriteString(s string) (int, error) {
	return x.Write(bytesconv.Bytes(s)) // Write only reads p
}

func (x *writer) Write(p []byte) (int, error) {
	if x.state == undecided {
		held := 0
		if x.held != nil {
			held = len(*x.held)
		}
		if x.mustWait(held + len(p)) {
			x.hold(p)
			x.written += int64(len(p))
			return len(p), nil
		}
		if err := x.decide(held + len(p)); err != nil {
			return 0, err
		}
	}
	n, err := x.body(p)
	x.written += int64(n)
	return n, err
}

// mustWait reports whether a response without a Content-Length, that would
// otherwise be compressed, has fewer body bytes than the minimum so far:
// the decision waits for more, or for the end.
func (x *writer) mustWait(n int) bool {
	return n < x.e.cfg.MinLength && !x.w.Header().Has("Content-Length") && x.eligible()
}

func (x *writer) hold(p []byte) {
	if x.held == nil {
		if b, ok := x.e.bufs.Get().(*[]byte); ok {
			x.held = b
		} else {
			b := make([]byte, 0, max(x.e.cfg.MinLength, 512))
			x.held = &b
		}
	}
	*x.held = append(*x.held, p...)
}

// body writes p as the decision says.
func (x *writer) body(p []byte) (int, error) {
	if x.state == passing {
		return x.w.Write(p)
	}
	if x.zerr != nil {
		return 0, x.zerr
	}
	n, err := x.z.Write(p)
	if err == nil {
		err = x.zerr
	}
	return n, err
}

// outSize is the buffer between the compressor and the client's writer: the
// encoders write their output in many small pieces, and each would be a
// write(2) of its own on a chunked response.
const outSize = 16 << 10

// writeOut is the compressor's destination: the output buffer, emptied into
// the client's writer when full; the first error is kept.
func (x *writer) writeOut(p []byte) (int, error) {
	if x.zerr != nil {
		return 0, x.zerr
	}
	if x.obuf == nil {
		if b, ok := x.e.outs.Get().(*[]byte); ok {
			x.obuf = b
		} else {
			b := make([]byte, 0, outSize)
			x.obuf = &b
		}
	}
	n := len(p)
	for len(p) > 0 {
		b := *x.obuf
		k := copy(b[len(b):cap(b)], p)
		*x.obuf, p = b[:len(b)+k], p[k:]
		if len(*x.obuf) == cap(*x.obuf) {
			if err := x.sendOut(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// sendOut writes the output buffer to the client's writer.
func (x *writer) sendOut() error {
	if x.obuf == nil || len(*x.obuf) == 0 || x.zerr != nil {
		return x.zerr
	}
	_, err := x.w.Write(*x.obuf)
	*x.obuf = (*x.obuf)[:0]
	if err != nil {
		x.zerr = err
	}
	return err
}

// out adapts writeOut to io.Writer without an allocation per request.
type out writer

func (o *out) Write(p []byte) (int, error) { return (*writer)(o).writeOut(p) }

func (x *writer) Flush() error {
	if x.state == undecided {
		// A flush is a stream: it is compressed whatever its length.
		if err := x.decide(-1); err != nil {
			return err
		}
	}
	if x.state == encoding {
		if err := x.z.Flush(); err != nil {
			return err
		}
		if err := x.sendOut(); err != nil {
			return err
		}
	}
	return x.w.Flush()
}

func (x *writer) SendFile(f *os.File, offset, count int64) error {
	if x.state == undecided {
		held := 0
		if x.held != nil {
			held = len(*x.held)
		}
		n := int(min(count, 1<<30)) + held
		if x.mustWait(n) {
			// Small: read it into what waits.
			buf := make([]byte, count)
			if _, err := f.ReadAt(buf, offset); err != nil {
				return err
			}
			x.hold(buf)
			x.written += count
			return nil
		}
		if err := x.decide(n); err != nil {
			return err
		}
	}
	if x.state == passing {
		err := x.w.SendFile(f, offset, count)
		if err == nil {
			x.written += count
		}
		return err
	}
	// Compressed: the file is read and goes through the compressor.
	buf, _ := x.e.reads.Get().(*[]byte)
	if buf == nil {
		b := make([]byte, 32<<10)
		buf = &b
	}
	sr := io.NewSectionReader(f, offset, count)
	n, err := io.CopyBuffer(onlyWriter{x.z}, onlyReader{sr}, *buf)
	x.e.reads.Put(buf)
	x.written += n
	if err == nil {
		err = x.zerr
	}
	return err
}

// finish ends the response after the handler returned err. A response still
// undecided is decided now, its length known; a compressed one gets its
// coding's end, unless the handler failed: then the response is cut short
// (the server closes the connection), never ended as if whole.
func (x *writer) finish(err error) error {
	if x.state == undecided {
		if err != nil {
			return err // nothing reached the client's writer: the server renders err
		}
		held := 0
		if x.held != nil {
			held = len(*x.held)
		}
		if derr := x.decide(held); derr != nil {
			return derr
		}
		return nil
	}
	if x.state == encoding && err == nil {
		if cerr := x.z.Close(); cerr != nil {
			return cerr
		}
		return x.sendOut()
	}
	return err
}

// decide chooses between passing and encoding, changes the head to match,
// and sends what was held. n is the body's length so far (-1: a flush,
// which compresses whatever the length).
func (x *writer) decide(n int) error {
	if x.status == 0 {
		x.status = 200
	}
	h := x.w.Header()
	x.state = passing
	if x.eligible() {
		addVary(h)
		if x.accepted && x.bigEnough(n) {
			x.state = encoding
		}
	}
	if x.status == 304 && x.accepted {
		x.weaken304(h)
	}
	if x.state == encoding {
		h.Del("Content-Length")
		h.Del("Accept-Ranges")
		h.Set("Content-Encoding", names[x.coding])
		if etag := h.Peek("ETag"); len(etag) > 0 && !bytes.HasPrefix(etag, []byte("W/")) {
			var b [128]byte
			h.Set("ETag", bytesconv.String(append(append(b[:0], "W/"...), etag...)))
		}
		x.z = x.e.codecs.get(x.coding, (*out)(x))
	}
	x.w.WriteHeader(x.status)
	if x.held != nil && len(*x.held) > 0 {
		if _, err := x.body(*x.held); err != nil {
			return err
		}
		*x.held = (*x.held)[:0]
	}
	return nil
}

// bigEnough applies MinLength: to the Content-Length when there is one,
// else to what the handler wrote (n; -1 for a flush).
func (x *writer) bigEnough(n int) bool {
	min := x.e.cfg.MinLength
	if cl := x.w.Header().Peek("Content-Length"); len(cl) > 0 {
		v, err := strconv.ParseInt(bytesconv.String(cl), 10, 64)
		return err == nil && v >= int64(min)
	}
	return n < 0 || n >= min
}

// eligible reports whether the response, by its request, status and head,
// is one that is compressed for a client that accepts a coding (and so
// varies by Accept-Encoding).
func (x *writer) eligible() bool {
	if x.r.Method() == web.MethodHead {
		return false
	}
	switch s := x.status; {
	case s == 0: // 200 when decided
	case s < 200, s == 204, s == 206, s == 304:
		return false
	}
	h := x.w.Header()
	if ce := h.Peek("Content-Encoding"); len(ce) > 0 && !http1.EqualFold(ce, "identity") {
		return false
	}
	for v := range h.Values("Cache-Control") {
		if containsToken(v, "no-transform") {
			return false
		}
	}
	return x.typeMatches(h.Peek("Content-Type"))
}

// typeMatches reports whether the media type of ct (its parameters and case
// ignored) is among Types.
func (x *writer) typeMatches(ct []byte) bool {
	if i := bytes.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = httpspec.TrimOWS(ct)
	slash := bytes.IndexByte(ct, '/')
	if slash <= 0 {
		return false
	}
	for _, t := range x.e.cfg.Types {
		if len(t) == slash+2 && t[slash:] == "/*" && http1.EqualFold(ct[:slash], t[:slash]) || http1.EqualFold(ct, t) {
			return true
		}
	}
	return false
}

// weaken304 keeps a 304 consistent with the compressed response it
// revalidates: the client holds it under the weak tag (W/"x") it sent, and
// a 304 carrying the strong "x" would put the strong tag on it.
func (x *writer) weaken304(h *web.Header) {
	etag := h.Peek("ETag")
	if len(etag) == 0 || bytes.HasPrefix(etag, []byte("W/")) {
		return
	}
	for v := range x.r.Header.Values("If-None-Match") {
		for i := 0; i+2+len(etag) <= len(v); i++ {
			if v[i] == 'W' && v[i+1] == '/' && bytes.Equal(v[i+2:i+2+len(etag)], etag) {
				addVary(h)
				var b [128]byte
				h.Set("ETag", bytesconv.String(append(append(b[:0], "W/"...), etag...)))
				return
			}
		}
	}
}

// addVary adds Accept-Encoding to Vary, unless it is there (or "*").
func addVary(h *web.Header) {
	for v := range h.Values("Vary") {
		if containsToken(v, "accept-encoding") || containsToken(v, "*") {
			return
		}
	}
	h.Add("Vary", "Accept-Encoding")
}

// containsToken reports whether the comma-separated list v names tok
// (lower case), ignoring case and parameters.
func containsToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var elem []byte
		elem, v = http1.NextElement(v)
		if i := bytes.IndexAny(elem, "=;"); i >= 0 {
			elem = elem[:i]
		}
		if http1.EqualFold(httpspec.TrimOWS(elem), tok) {
			return true
		}
	}
	return false
}

// onlyWriter and onlyReader hide ReadFrom and WriteTo, so io.CopyBuffer
// uses the pooled buffer it is given.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }
