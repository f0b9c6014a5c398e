package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/netip"
	"net/url"
	"unsafe"

	"gatehouse/internal/bytesconv"
)

// Request is an HTTP request as a handler sees it. The server owns and reuses it:
// it and every []byte it returns are valid only until ServeHTTP returns. Use Clone
// to keep one.
type Request struct {
	method        string
	target        []byte
	path          []byte
	query         []byte
	host          []byte
	scheme        string
	major, minor  uint8
	contentLength int64

	// Header holds the request's fields, in the order received.
	Header Header

	body    io.Reader
	ctx     context.Context
	peer    netip.AddrPort // the connection's, never rewritten
	relayed bool
	remote  netip.AddrPort
	local   netip.AddrPort
	tls     *tls.ConnectionState

	decodedPath string
	pathDecoded bool
	routePath   []byte
	errorPages  ErrorPages

	// values are the values set under Keys (key.go): the first few inline,
	// the rest in more, whose storage is kept from one request to the next.
	values [inlineValues]keyValue
	more   []keyValue

	// pass and passVars are what gatehouse's middleware hands the backend
	// (inbound.go), their storage kept from one request to the next.
	pass, passVars Header
}

// Head is what a protocol server fills in for each request. Its byte slices are
// views into the server's buffers.
type Head struct {
	Method        string // interned: one of the Method constants, or a copy
	Target        []byte // request-target as received
	Path          []byte // path part of the target, still percent-encoded
	Query         []byte // query without '?'; nil if there is none
	Host          []byte // authority to route by: the absolute-form target's, else Host
	Scheme        string // "http" or "https"
	ProtoMajor    uint8
	ProtoMinor    uint8
	ContentLength int64 // -1 when unknown (chunked); 0 for a request without a body
}

// Conn describes the connection a request arrived on.
type Conn struct {
	Remote netip.AddrPort // zero for Unix sockets
	Local  netip.AddrPort // zero for Unix sockets
	TLS    *tls.ConnectionState
	Ctx    context.Context // canceled when the connection closes; nil means Background
	// Relayed says the peer is a front server that reports the client
	// itself (the uwsgi protocol's REMOTE_ADDR, HTTPS): Remote and the
	// scheme are already what it reports, and its forwarding fields are
	// its own business.
	Relayed bool
}

// Init prepares r for a new request. Protocol servers call it; handlers do not.
// body must not be nil; Header is reset and left for the caller to fill. Every
// value set under a Key is dropped: nothing of the last request stays.
func (r *Request) Init(h Head, c Conn, body io.Reader) {
	r.method, r.target, r.path, r.query, r.host = h.Method, h.Target, h.Path, h.Query, h.Host
	r.scheme, r.major, r.minor, r.contentLength = h.Scheme, h.ProtoMajor, h.ProtoMinor, h.ContentLength
	r.Header.Reset()
	r.body, r.ctx, r.remote, r.local, r.tls = body, c.Ctx, c.Remote, c.Local, c.TLS
	r.peer, r.relayed = c.Remote, c.Relayed
	r.decodedPath, r.pathDecoded = "", false
	r.routePath, r.errorPages = nil, nil
	r.resetValues()
	r.pass.Reset()
	r.passVars.Reset()
}

// Method returns the request method, such as "GET".
func (r *Request) Method() string { return r.method }

// Target returns the request-target exactly as received (RFC 9112 §3.2).
func (r *Request) Target() []byte { return r.target }

// RawPath returns the path of the target, still percent-encoded.
func (r *Request) RawPath() []byte { return r.path }

// Path returns the percent-decoded path. It allocates once per request when the
// path has escapes or is first asked for as a string; RawPath does not. A path
// whose escapes do not decode is returned as received.
func (r *Request) Path() string {
	if !r.pathDecoded {
		r.pathDecoded = true
		if bytes.IndexByte(r.path, '%') < 0 {
			r.decodedPath = string(r.path)
		} else if p, err := url.PathUnescape(b2s(r.path)); err == nil {
			r.decodedPath = p
		} else {
			r.decodedPath = string(r.path)
		}
	}
	return r.decodedPath
}

// RoutePath returns the path routing matched on: RawPath with unreserved
// characters decoded and repeated slashes merged (see route.Clean). Backends
// mounted at a prefix strip it from this path. Before routing it is RawPath.
func (r *Request) RoutePath() []byte {
	if r.routePath == nil {
		return r.path
	}
	return r.routePath
}

// SetRoutePath records the cleaned path; routers call it.
func (r *Request) SetRoutePath(p []byte) { r.routePath = p }

// ErrorPages returns the pages errors are rendered with for this request (nil:
// the built-in text pages).
func (r *Request) ErrorPages() ErrorPages { return r.errorPages }

// SetErrorPages sets the pages for errors of this request; a site sets its own.
func (r *Request) SetErrorPages(p ErrorPages) { r.errorPages = p }

// RawQuery returns the query without the '?' (nil when there is none).
func (r *Request) RawQuery() []byte { return r.query }

// Query parses the query string. It allocates.
func (r *Request) Query() url.Values {
	v, _ := url.ParseQuery(string(r.query))
	return v
}

// Host returns the authority the request is for: the absolute-form target's if the
// target had one (RFC 9112 §3.2.2), otherwise the Host field.
func (r *Request) Host() []byte { return r.host }

// Scheme returns "http" or "https".
func (r *Request) Scheme() string { return r.scheme }

// Proto returns the protocol version: "HTTP/1.1", "HTTP/1.0", or "HTTP/2.0"
// for a request that came over HTTP/2 (through web/nethttp.HTTPHandler).
func (r *Request) Proto() string {
	if r.major == 1 && r.minor == 0 {
		return "HTTP/1.0"
	}
	if r.major == 2 {
		return "HTTP/2.0"
	}
	return "HTTP/1.1"
}

// ProtoAtLeast reports whether the request's version is at least major.minor.
func (r *Request) ProtoAtLeast(major, minor int) bool {
	return int(r.major) > major || int(r.major) == major && int(r.minor) >= minor
}

// ContentLength returns the body's length: as declared, 0 for a request
// without a body, or -1 when unknown (chunked).
func (r *Request) ContentLength() int64 { return r.contentLength }

// Body returns the request body. It is never nil; for a request without a body it
// returns EOF at once. Reading it after ServeHTTP returns is an error.
func (r *Request) Body() io.Reader { return r.body }

// SetBody replaces the request's body, for a middleware that buffers,
// verifies or rewrites it, and records its length (-1: unknown). The fields
// that describe the body's framing (Content-Length, Transfer-Encoding) are
// the caller's to keep true. body must not be nil. The replacement lasts
// until the server reuses the request (Init); a middleware that must leave
// the request as it came puts the old body back when its handler returns.
func (r *Request) SetBody(body io.Reader, contentLength int64) {
	r.body, r.contentLength = body, contentLength
}

// Context returns the request's context. It is canceled when the connection closes
// or the server shuts down.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// SetContext replaces the request's context, for a middleware that bounds
// the request (a deadline): ctx must be derived from Context(), so that it
// is still canceled when the connection closes. The replacement lasts until
// the server reuses the request (Init); a middleware puts the old context
// back when its handler returns.
func (r *Request) SetContext(ctx context.Context) { r.ctx = ctx }

// RemoteAddr returns the peer's address; it is invalid (zero) for Unix sockets.
func (r *Request) RemoteAddr() netip.AddrPort { return r.remote }

// Peer returns the address of the connection's other end, as accepted:
// unlike RemoteAddr, never what a proxy in front reports. Zero for Unix
// sockets.
func (r *Request) Peer() netip.AddrPort { return r.peer }

// Relayed reports whether the request came through a front server that
// reports the client itself (web.Conn.Relayed).
func (r *Request) Relayed() bool { return r.relayed }

// SetClient records what a trusted proxy in front reports of the client:
// its address (as the peer's, for logs, gateways and every later layer) and
// the scheme it used. Only the layer that decides which proxies are trusted
// (middleware/realip) calls it; an invalid addr or an empty scheme keeps
// the current one.
func (r *Request) SetClient(addr netip.AddrPort, scheme string) {
	if addr.IsValid() {
		r.remote = addr
	}
	if scheme != "" {
		r.scheme = scheme
	}
}

// LocalAddr returns the address the request arrived on; zero for Unix sockets.
func (r *Request) LocalAddr() netip.AddrPort { return r.local }

// TLS returns the TLS connection state, or nil for plain connections.
func (r *Request) TLS() *tls.ConnectionState { return r.tls }

// Clone returns a copy that owns its bytes and stays valid after ServeHTTP returns.
// The clone's body is empty: read the body before cloning if you need it (its
// ContentLength and header fields still describe the body r had). The route
// path and error pages are kept. Values set under Keys are copied shallowly:
// the clone holds the same values (the same pointers), and a Set on either
// request does not show on the other.
func (r *Request) Clone() *Request {
	c := &Request{
		method: r.method, scheme: r.scheme, major: r.major, minor: r.minor,
		contentLength: r.contentLength, ctx: r.ctx, remote: r.remote, peer: r.peer, relayed: r.relayed, local: r.local, tls: r.tls,
		body: eofReader{}, errorPages: r.errorPages,
	}
	buf := make([]byte, 0, len(r.target)+len(r.host))
	buf = append(buf, r.target...)
	c.target = buf[:len(r.target):len(r.target)]
	// path, query and route path are sub-slices of the target when the
	// target holds them.
	c.path = subslice(c.target, r.target, r.path)
	c.query = subslice(c.target, r.target, r.query)
	c.routePath = subslice(c.target, r.target, r.routePath)
	buf = append(buf, r.host...)
	c.host = buf[len(r.target):]
	c.Header = r.Header.Clone()
	c.pass, c.passVars = r.pass.Clone(), r.passVars.Clone()
	r.copyValues(c)
	return c
}

// subslice maps part, a view into orig, onto the same range of cp; if part is not
// inside orig it is copied.
func subslice(cp, orig, part []byte) []byte {
	if part == nil {
		return nil
	}
	if len(orig) > 0 && len(part) > 0 {
		o := uintptr(unsafe.Pointer(unsafe.SliceData(orig)))
		p := uintptr(unsafe.Pointer(unsafe.SliceData(part)))
		if p >= o && p+uintptr(len(part)) <= o+uintptr(len(orig)) {
			off := int(p - o)
			return cp[off : off+len(part) : off+len(part)]
		}
	}
	return append([]byte(nil), part...)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// NoBody is a body that is always at EOF.
var NoBody io.Reader = eofReader{}

// b2s views b as a string; see bytesconv.String for when that is safe.
func b2s(b []byte) string { return bytesconv.String(b) }
