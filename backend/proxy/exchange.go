package proxy

import (
	"gatehouse/internal/httpspec"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"gatehouse/proto/forwarded"
	"gatehouse/proto/http1"
	"gatehouse/upstream"
	"gatehouse/web"
)

// exchange is one request's state, pooled: its buffers are kept between
// requests.
type exchange struct {
	h       *Handler
	w       web.ResponseWriter
	r       *web.Request
	upgrade string   // the allowed protocol the client asks to switch to, or ""
	kind    bodyKind // how the body is sent
	head    []byte   // the request head sent upstream
	body    []byte   // an inline body
	copyBuf []byte   // a streamed body's buffer
	resp    http1.Response
	avoid   [4]string
}

var exchangePool = sync.Pool{New: func() any { return &exchange{head: make([]byte, 0, 1024)} }}

// maxPooledBuffer bounds the buffers kept with a pooled exchange.
const maxPooledBuffer = 64 << 10

func (x *exchange) put() {
	x.h, x.w, x.r, x.upgrade = nil, nil, nil, ""
	if cap(x.head) > maxPooledBuffer {
		x.head = make([]byte, 0, 1024)
	}
	if cap(x.body) > maxPooledBuffer {
		x.body = nil
	}
	clear(x.avoid[:])
	x.resp.Reset()
	if cap(x.resp.Fields) > 64 {
		x.resp.Fields = nil
	}
	// The fields point into the last relay buffer: let it go with the
	// request, not with the pooled exchange.
	clear(x.resp.Fields[:cap(x.resp.Fields)])
	exchangePool.Put(x)
}

// appendHead appends the request head sent upstream (research §4.2): the
// request line in origin form, Host, the client's end-to-end fields, then
// the forwarding fields, the body's framing and an allowed upgrade.
func (x *exchange) appendHead(b []byte) []byte {
	h, r := x.h, x.r
	b = append(b, r.Method()...)
	b = append(b, ' ')
	b = x.appendTarget(b)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	host := r.Host()
	if h.cfg.Host != "" {
		b = append(b, h.cfg.Host...)
	} else {
		b = append(b, host...)
	}
	b = append(b, "\r\n"...)

	// The peer's own forwarding fields are kept only from a trusted proxy
	// (or a uwsgi front server, which reports the client itself).
	trusted := r.Relayed() || h.cfg.Trust.Peer(r.Peer())
	listed := r.Header.Has("Connection")
	var xfh []byte
	for i := 0; i < r.Header.Len(); i++ {
		f := r.Header.At(i)
		switch requestField(f.Name) {
		case fieldDrop:
			continue
		case fieldXFH:
			if trusted && xfh == nil {
				xfh = f.Value
			}
			continue
		case fieldOurs:
			continue // written below, from the client's when trusted
		case fieldVia:
			if h.via {
				continue // written below
			}
		}
		if listed && connectionListed(&r.Header, f.Name, h) {
			continue
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}

	// X-Forwarded-For: a trusted proxy's list with the peer appended, or
	// the peer alone (Caddy's rule).
	const xffName = "X-Forwarded-For: "
	b = append(b, xffName...)
	start := len(b)
	if trusted {
		for v := range r.Header.Values("X-Forwarded-For") {
			if v = httpspec.TrimOWS(v); len(v) > 0 {
				if len(b) > start {
					b = append(b, ", "...)
				}
				b = append(b, v...)
			}
		}
	}
	if peer := r.Peer(); peer.IsValid() {
		if len(b) > start {
			b = append(b, ", "...)
		}
		b = peer.Addr().Unmap().AppendTo(b)
	}
	if len(b) == start {
		b = b[:start-len(xffName)] // a Unix socket's peer, and no list before it
	} else {
		b = append(b, "\r\n"...)
	}
	// X-Forwarded-Proto: the scheme as the realip layer settled it.
	b = append(b, "X-Forwarded-Proto: "...)
	b = append(b, r.Scheme()...)
	b = append(b, "\r\nX-Forwarded-Host: "...)
	if xfh != nil {
		b = append(b, xfh...)
	} else {
		b = append(b, host...)
	}
	b = append(b, "\r\n"...)
	if h.cfg.Forwarded {
		b = x.appendForwarded(b, trusted, host)
	}
	if h.via {
		b = append(b, "Via: "...)
		for v := range r.Header.Values("Via") {
			if v = httpspec.TrimOWS(v); len(v) > 0 {
				b = append(b, v...)
				b = append(b, ", "...)
			}
		}
		b = append(b, "1.1 gatehouse\r\n"...)
	}

	switch {
	case x.kind == bodyNone:
		if bodyMethod(r.Method()) {
			b = append(b, "Content-Length: 0\r\n"...) // RFC 9110 §8.6, as net/http does
		}
	case r.ContentLength() >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.ContentLength(), 10)
		b = append(b, "\r\n"...)
	default:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if x.upgrade != "" {
		b = append(b, "Connection: Upgrade\r\nUpgrade: "...)
		b = append(b, x.upgrade...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendTarget appends the request target in origin form: an absolute-form
// target ("http://host/path") as its path and query.
func (x *exchange) appendTarget(b []byte) []byte {
	t := x.r.Target()
	if len(t) > 0 && (t[0] == '/' || (len(t) == 1 && t[0] == '*')) {
		return append(b, t...)
	}
	p := x.r.RawPath()
	if len(p) == 0 {
		p = []byte{'/'}
	}
	b = append(b, p...)
	if q := x.r.RawQuery(); q != nil {
		b = append(b, '?')
		b = append(b, q...)
	}
	return b
}

// appendForwarded appends RFC 7239's Forwarded: a trusted proxy's elements,
// then this hop's (for, host, proto).
func (x *exchange) appendForwarded(b []byte, trusted bool, host []byte) []byte {
	r := x.r
	b = append(b, "Forwarded: "...)
	if trusted {
		for v := range r.Header.Values("Forwarded") {
			if v = httpspec.TrimOWS(v); len(v) > 0 {
				b = append(b, v...)
				b = append(b, ", "...)
			}
		}
	}
	b = append(b, "for="...)
	var peer netip.AddrPort // the address alone: the peer's port tells the upstream nothing
	if p := r.Peer(); p.IsValid() {
		peer = netip.AddrPortFrom(p.Addr().Unmap(), 0)
	}
	b = forwarded.AppendFor(b, peer)
	if len(host) > 0 {
		b = append(b, ";host=\""...)
		b = append(b, host...) // a valid Host has no '"' or '\'
		b = append(b, '"')
	}
	b = append(b, ";proto="...)
	b = append(b, r.Scheme()...)
	return append(b, "\r\n"...)
}

// bodyMethod reports the methods whose requests are expected to carry a
// body: sent with "Content-Length: 0" when they have none.
func bodyMethod(m string) bool {
	return m == web.MethodPost || m == web.MethodPut || m == "PATCH"
}

// Kinds of request fields, for appendHead.
const (
	fieldPass = iota
	fieldDrop // hop-by-hop, or framing the proxy sets itself
	fieldOurs // forwarding fields the proxy writes
	fieldXFH  // X-Forwarded-Host: kept from a trusted proxy
	fieldVia  // Via: appended to when Config.Via
)

// requestField sorts a request field by name (research §4.2's fixed list,
// and the fields the proxy sets).
func requestField(name []byte) int {
	switch len(name) {
	case 2:
		if http1.EqualFold(name, "te") {
			return fieldDrop // trailers are not relayed
		}
	case 3:
		if http1.EqualFold(name, "via") {
			return fieldVia
		}
	case 4:
		if http1.EqualFold(name, "host") {
			return fieldDrop
		}
	case 6:
		if http1.EqualFold(name, "expect") {
			return fieldDrop // the body goes at once: no 100-continue to wait for
		}
	case 7:
		if http1.EqualFold(name, "upgrade") || http1.EqualFold(name, "trailer") {
			return fieldDrop
		}
	case 9:
		if http1.EqualFold(name, "forwarded") {
			return fieldOurs
		}
	case 10:
		if http1.EqualFold(name, "connection") || http1.EqualFold(name, "keep-alive") {
			return fieldDrop
		}
	case 14:
		if http1.EqualFold(name, "content-length") || http1.EqualFold(name, "http2-settings") {
			return fieldDrop
		}
	case 15:
		if http1.EqualFold(name, "x-forwarded-for") {
			return fieldOurs
		}
	case 16:
		if http1.EqualFold(name, "proxy-connection") || http1.EqualFold(name, "x-forwarded-host") {
			if name[2]|0x20 == 'f' {
				return fieldXFH
			}
			return fieldDrop
		}
	case 17:
		if http1.EqualFold(name, "transfer-encoding") || http1.EqualFold(name, "x-forwarded-proto") {
			if name[0]|0x20 == 'x' {
				return fieldOurs
			}
			return fieldDrop
		}
	case 19:
		if http1.EqualFold(name, "proxy-authorization") {
			return fieldDrop // credentials for this hop, not the application
		}
	}
	return fieldPass
}

// connectionListed reports whether the request's Connection field names
// name, making it hop-by-hop (RFC 9110 §7.6.1). Naming a field that
// carries framing or credentials is how hop-by-hop abuse strips what a
// proxy or an application relies on: it is logged.
func connectionListed(hd *web.Header, name []byte, h *Handler) bool {
	for v := range hd.Values("Connection") {
		for len(v) > 0 {
			var tok []byte
			tok, v = http1.NextElement(v)
			if !http1.EqualFoldBytes(tok, name) {
				continue
			}
			switch {
			case http1.EqualFold(name, "authorization"), http1.EqualFold(name, "cookie"):
				h.failures.Log(slog.LevelInfo, "connection-lists\x00"+string(name),
					"proxy request's Connection field removes a field the application may rely on", "field", string(name))
			}
			return true
		}
	}
	return false
}

// send writes the head and the body, or, for a large body the request
// buffering holds, starts the sender that writes it while the response is
// read (an upstream may answer before it has read the body). unsent
// reports that the upstream took no byte of the request. A failed write
// to the upstream is an *upstreamWriteError; a failed read of the client's
// body is returned as it is.
func (x *exchange) send(uc *upstream.Conn) (s *sender, unsent bool, err error) {
	conn := uc.Conn
	h := x.h
	conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
	out := x.head
	if x.kind == bodyInline {
		out = append(out, x.body...)
		x.head = out
	}
	if n, err := conn.Write(out); err != nil {
		return nil, n == 0, &upstreamWriteError{err}
	}
	switch x.kind {
	case bodySpool:
		return startSender(x.r.Body(), conn, h.cfg.WriteTimeout), false, nil
	case bodyStream:
		return nil, false, x.stream(conn)
	}
	return nil, false, nil
}

// stream copies the body from the client as it comes: Content-Length bytes,
// or chunked when the length is unknown.
func (x *exchange) stream(conn net.Conn) error {
	if x.copyBuf == nil {
		x.copyBuf = make([]byte, 32<<10)
	}
	buf := x.copyBuf
	body, left := x.r.Body(), x.r.ContentLength()
	chunked := left < 0
	dw := deadlineWriter{conn, x.h.cfg.WriteTimeout}
	for {
		room := buf
		if chunked {
			room = buf[10 : len(buf)-2] // the chunk's size line before, CRLF after
		} else if int64(len(room)) > left {
			room = room[:left]
		}
		if len(room) == 0 {
			return nil
		}
		n, rerr := body.Read(room)
		if n > 0 {
			out := room[:n]
			if chunked {
				var digits [16]byte
				size := strconv.AppendInt(digits[:0], int64(n), 16)
				start := 10 - len(size) - 2
				copy(buf[start:], size)
				buf[8], buf[9] = '\r', '\n'
				out = buf[start : 10+n+2]
				out[len(out)-2], out[len(out)-1] = '\r', '\n'
			} else {
				left -= int64(n)
			}
			if _, err := dw.Write(out); err != nil {
				return err
			}
		}
		switch {
		case rerr == io.EOF && chunked:
			_, err := dw.Write([]byte("0\r\n\r\n"))
			return err
		case rerr == io.EOF && left > 0:
			return errClientBody
		case rerr == io.EOF:
			return nil
		case rerr != nil:
			return rerr
		}
	}
}

// deadlineWriter writes to the upstream with a fresh write deadline per
// write (time without progress), its failures marked as the upstream's.
type deadlineWriter struct {
	c       net.Conn
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.c.SetWriteDeadline(time.Now().Add(d.timeout))
	n, err := d.c.Write(p)
	if err != nil {
		err = &upstreamWriteError{err}
	}
	return n, err
}

// sender writes a buffered body on its own goroutine.
type sender struct{ done chan error }

func startSender(body io.Reader, conn net.Conn, timeout time.Duration) *sender {
	s := &sender{done: make(chan error, 1)}
	go func() {
		_, err := io.Copy(deadlineWriter{conn, timeout}, body)
		s.done <- err
	}()
	return s
}

// wait returns once the sender is done: at once when the response has
// ended and the body still goes, by cutting the write short (the
// connection is then not reused). Without a sender, it returns err.
func (s *sender) wait(uc *upstream.Conn, err error) error {
	if s == nil {
		return err
	}
	select {
	case err := <-s.done:
		return err
	default:
	}
	uc.SetWriteDeadline(aLongTimeAgo)
	if err := <-s.done; err != nil {
		return errBodyCut
	}
	return nil
}

// errBodyCut: the response ended before the upstream read the whole body.
var errBodyCut = &upstreamWriteError{errSendCut}

var errSendCut = &web.Error{Status: 502, Err: errString("the upstream answered before it read the whole body")}

type errString string

func (e errString) Error() string { return string(e) }
