package uwsgi

import (
	"bytes"
	"errors"
	"net/netip"
	"strconv"

	"gatehouse/internal/bytesconv"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// Errors for requests whose variables cannot make a web.Request.
var (
	errMethod        = &web.Error{Status: 400, Err: errors.New("REQUEST_METHOD missing or not a token")}
	errUnknownMethod = &web.Error{Status: 501, Err: errors.New("unknown method")}
	errTarget        = &web.Error{Status: 400, Err: errors.New("REQUEST_URI missing or invalid")}
	errHost          = &web.Error{Status: 400, Err: errors.New("invalid HTTP_HOST")}
	errLength        = &web.Error{Status: 400, Err: errors.New("invalid CONTENT_LENGTH")}
	// A second REQUEST_METHOD, REQUEST_URI, QUERY_STRING or CONTENT_LENGTH
	// is how one front end's view of a request differs from the next one's
	// (which resource, which action, where the body ends: request
	// smuggling), so it is refused, naming the variable; the others are
	// resolved as uWSGI does, the last one winning (see buildRequest).
	errDupMethod    = dupError("REQUEST_METHOD")
	errDupURI       = dupError("REQUEST_URI")
	errDupQuery     = dupError("QUERY_STRING")
	errDupLength    = dupError("CONTENT_LENGTH")
	errFieldName    = &web.Error{Status: 400, Err: errors.New("HTTP_ variable that is no field name")}
	errFieldValue   = &web.Error{Status: 400, Err: errors.New("control character in a variable's value")}
	errBodyTooLarge = &web.Error{Status: 413, Err: errors.New("CONTENT_LENGTH over the body limit")}
)

func dupError(name string) *web.Error {
	return &web.Error{Status: 400, Err: errors.New("duplicate request variable " + name)}
}

// facts are the variables a request is made from; the rest are fields or ignored.
type facts struct {
	method, uri, query, scriptName, pathInfo, proto, length, ctype []byte
	https, scheme, host, serverName                                []byte
	remoteAddr, remotePort, serverAddr, serverPort                 []byte
	hasURI, hasQuery, hasHost                                      bool
	lastHost                                                       int    // the index of the HTTP_HOST that counts
	authority                                                      []byte // an absolute-form REQUEST_URI's
}

// buildRequest turns the packet into c.req. It always initializes c.req, so
// that an error can be rendered and logged against it; a non-nil error is the
// answer the request gets instead of the handler's.
func (c *conn) buildRequest() error {
	var f facts
	var dup *web.Error
	var magic []byte
	// once takes a variable that must come once: a second one is refused.
	once := func(dst *[]byte, v []byte, e *web.Error) {
		if *dst != nil && dup == nil {
			dup = e
		}
		*dst = v
	}
	// Every variable's name is matched here once; fields are added below.
	// A variable sent twice takes its last value, as in uWSGI (nginx sends
	// HTTP_HOST twice behind "uwsgi_param HTTP_HOST $http_host;"), except
	// those that once refuses.
	for i, v := range c.pkt.Vars {
		switch string(v.Key) { // the compiler does not allocate for this switch
		case "REQUEST_METHOD":
			once(&f.method, v.Value, errDupMethod)
		case "REQUEST_URI":
			once(&f.uri, v.Value, errDupURI)
			f.hasURI = true
		case "QUERY_STRING":
			once(&f.query, v.Value, errDupQuery)
			f.hasQuery = true
		case "SCRIPT_NAME":
			f.scriptName = v.Value
		case "PATH_INFO":
			f.pathInfo = v.Value
		case "SERVER_PROTOCOL":
			f.proto = v.Value
		case "CONTENT_LENGTH":
			once(&f.length, v.Value, errDupLength)
		case "CONTENT_TYPE":
			f.ctype = v.Value
		case "HTTPS":
			f.https = v.Value
		case "REQUEST_SCHEME":
			f.scheme = v.Value
		case "HTTP_HOST":
			f.host, f.hasHost, f.lastHost = v.Value, true, i
		case "SERVER_NAME":
			f.serverName = v.Value
		case "REMOTE_ADDR":
			f.remoteAddr = v.Value
		case "REMOTE_PORT":
			f.remotePort = v.Value
		case "SERVER_ADDR":
			f.serverAddr = v.Value
		case "SERVER_PORT":
			f.serverPort = v.Value
		default:
			if len(v.Key) > 6 && string(v.Key[:6]) == "UWSGI_" && magic == nil {
				magic = v.Key
			}
		}
	}
	if magic != nil {
		// uWSGI would load code or change directory for these; a front end
		// that sends them expects uWSGI. Say so once per request, at debug
		// level: the variable does nothing here.
		c.log().Debug("uwsgi magic variable ignored", "remote", c.ec.Remote, "name", string(magic))
	}

	head := web.Head{Scheme: "http", ProtoMajor: 1, ProtoMinor: 1}
	conn := web.Conn{Ctx: c.ec.Context(), Relayed: true}
	if isHTTPS(f.https) || string(f.scheme) == "https" {
		head.Scheme = "https"
	}
	if p := f.proto; len(p) == 8 && string(p[:5]) == "HTTP/" && p[6] == '.' && isDigit(p[5]) && isDigit(p[7]) {
		head.ProtoMajor, head.ProtoMinor = p[5]-'0', p[7]-'0'
	}
	conn.Remote = addrPort(f.remoteAddr, f.remotePort)
	conn.Local = addrPort(f.serverAddr, f.serverPort)
	if !conn.Local.IsValid() {
		// nginx's stock uwsgi_params send SERVER_PORT but no SERVER_ADDR:
		// the port the request came to nginx on is still known, and is
		// the application's SERVER_PORT (an unspecified address stands
		// for the one not sent; proto/cgienv sends no SERVER_ADDR for it).
		conn.Local = portOnly(f.serverPort)
	}

	// The method, interned so handlers compare constants.
	var err error
	method, known := web.InternMethod(f.method)
	switch {
	case !http1.IsToken(f.method):
		err, method = errMethod, "-"
	case !known:
		err, method = errUnknownMethod, string(f.method)
	}
	head.Method = method

	// The target: REQUEST_URI as the client sent it, so that routing sees the
	// same path it would over HTTP. Without one, rebuild it from the decoded
	// SCRIPT_NAME and PATH_INFO (what CGI gateways have).
	target := f.uri
	if !f.hasURI {
		target = appendEscapedPath(nil, f.scriptName, f.pathInfo)
		if len(f.query) > 0 {
			target = append(append(target, '?'), f.query...)
		}
	}
	path, query, authority, ok := splitTarget(target)
	if !ok && err == nil {
		err = errTarget
	}
	f.authority = authority
	if !ok {
		target, path, query = slash, slash, nil
	}
	head.Target, head.Path, head.Query = target, path, query

	// The host: the absolute-form target's authority, else HTTP_HOST, else
	// SERVER_NAME, as the HTTP server decides (RFC 9112 §3.2.2).
	switch {
	case authority != nil:
		head.Host = authority
	case f.hasHost:
		head.Host = f.host
	default:
		head.Host = f.serverName
	}
	if !http1.ValidHost(head.Host) {
		if err == nil {
			err = errHost
		}
		head.Host = nil
	}

	// The body: CONTENT_LENGTH bytes after the packet. nginx sends the
	// variable empty when the request has no body.
	head.ContentLength = 0
	c.unread = 0
	if len(f.length) > 0 {
		n, ok := http1.ParseContentLength(f.length)
		if ok {
			c.unread = n // the peer sends it whether or not it is read
		}
		switch {
		case !ok && err == nil:
			err = errLength
		case c.cfg.MaxBodyBytes >= 0 && n > c.cfg.MaxBodyBytes && err == nil:
			err = errBodyTooLarge
		}
		if ok && err == nil {
			head.ContentLength = n
		}
	}
	if dup != nil && err == nil {
		err = dup
	}

	c.body.reset(head.ContentLength)
	c.req.Init(head, conn, &c.body)
	if e := c.addFields(&f); e != nil && err == nil {
		err = e
	}
	if err != nil {
		c.body.reset(0) // a refused request's body is not read
	}
	return err
}

// addFields turns HTTP_* variables back into header fields, in packet order:
// "HTTP_ACCEPT_ENCODING" becomes "Accept-Encoding". CONTENT_TYPE and
// CONTENT_LENGTH become fields too, as they were on the client's request.
func (c *conn) addFields(f *facts) error {
	h := &c.req.Header
	// Names are built into one arena sized for all of them up front, so views
	// taken into it stay valid.
	if cap(c.names) < int(c.pkt.Size) {
		c.names = make([]byte, 0, int(c.pkt.Size))
	}
	c.names = c.names[:0]
	for i, v := range c.pkt.Vars {
		key := v.Key
		if len(key) <= 5 || string(key[:5]) != "HTTP_" {
			continue
		}
		switch string(key[5:]) {
		case "PROXY":
			continue // httpoxy: no handler or gateway below ever sees a Proxy field
		case "HOST":
			if i != f.lastHost {
				continue // one Host field, the last HTTP_HOST's
			}
		case "CONTENT_LENGTH", "TRANSFER_ENCODING", "CONTENT_TYPE":
			continue // framing is CONTENT_LENGTH's; the type is CONTENT_TYPE's
		}
		start := len(c.names)
		upper := true
		for _, b := range key[5:] {
			switch {
			case b == '_':
				b, upper = '-', true
			case b >= 'A' && b <= 'Z':
				if !upper {
					b += 'a' - 'A'
				}
				upper = false
			case b >= 'a' && b <= 'z' || b >= '0' && b <= '9':
				upper = false
			default:
				return errFieldName
			}
			c.names = append(c.names, b)
		}
		if !http1.IsFieldValue(bytesconv.String(v.Value)) {
			return errFieldValue
		}
		value := v.Value
		if f.authority != nil && string(key[5:]) == "HOST" {
			// RFC 9112 §3.2.2, as over HTTP: an absolute-form target's
			// authority is the Host, whatever HTTP_HOST says.
			value = f.authority
		}
		h.AppendView(c.names[start:len(c.names):len(c.names)], value)
	}
	if f.authority != nil && !f.hasHost {
		h.AppendView(hostName, f.authority)
	}
	if len(f.ctype) > 0 {
		if !http1.IsFieldValue(bytesconv.String(f.ctype)) {
			return errFieldValue
		}
		h.AppendView(contentType, f.ctype)
	}
	if len(f.length) > 0 {
		h.AppendView(contentLength, f.length)
	}
	return nil
}

var (
	slash         = []byte("/")
	contentType   = []byte("Content-Type")
	contentLength = []byte("Content-Length")
	hostName      = []byte("Host")
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHTTPS(v []byte) bool {
	return http1.EqualFold(v, "on") || string(v) == "1"
}

// addrPort parses an address and a port variable; zero when either is absent
// or malformed (the request then reads as from a Unix socket).
func addrPort(addr, port []byte) netip.AddrPort {
	if len(addr) == 0 {
		return netip.AddrPort{}
	}
	a, err := netip.ParseAddr(bytesconv.String(addr))
	if err != nil {
		return netip.AddrPort{}
	}
	p, err := strconv.ParseUint(bytesconv.String(port), 10, 16)
	if err != nil {
		p = 0
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(p))
}

// portOnly is the local address of a request whose front end sent its port
// and not its address: the unspecified IPv4 address with that port; zero
// when the port is absent, malformed or 0.
func portOnly(port []byte) netip.AddrPort {
	p, err := strconv.ParseUint(bytesconv.String(port), 10, 16)
	if err != nil || p == 0 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(p))
}

// splitTarget checks a request-target and splits it as the HTTP parser does
// (RFC 9112 §3.2): origin-form "/path?query", or absolute-form with an http or
// https URI, whose authority is returned. A fragment is refused, as over HTTP:
// where it ends the authority is where URL parsers disagree
// ("http://evil.example#@good.example/"). Bytes must be visible ASCII or
// obs-text: unlike the HTTP parser, raw non-ASCII bytes pass, since the front
// end (nginx passes them in $request_uri) has already decided what a URI may
// hold.
func splitTarget(t []byte) (path, query, authority []byte, ok bool) {
	if len(t) == 0 {
		return nil, nil, nil, false
	}
	for _, c := range t {
		if c <= 0x20 || c == 0x7f || c == '#' {
			return nil, nil, nil, false
		}
	}
	rest := t
	if t[0] != '/' {
		switch {
		case len(t) > 7 && http1.EqualFold(t[:7], "http://"):
			rest = t[7:]
		case len(t) > 8 && http1.EqualFold(t[:8], "https://"):
			rest = t[8:]
		default:
			return nil, nil, nil, false
		}
		end := len(rest)
		for i, c := range rest {
			if c == '/' || c == '?' {
				end = i
				break
			}
		}
		authority, rest = rest[:end], rest[end:]
		if len(authority) == 0 || bytes.IndexByte(authority, '@') >= 0 || !http1.ValidHost(authority) {
			return nil, nil, nil, false
		}
	}
	path = rest
	if q := bytes.IndexByte(rest, '?'); q >= 0 {
		path, query = rest[:q], rest[q+1:]
	}
	if len(path) == 0 {
		path = slash
	}
	return path, query, authority, true
}

// appendEscapedPath appends the percent-encoding of the decoded parts, for a
// target rebuilt from SCRIPT_NAME and PATH_INFO: '%', '?', '#', space,
// controls and non-ASCII bytes are escaped.
func appendEscapedPath(dst []byte, parts ...[]byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, p := range parts {
		for _, c := range p {
			if c <= 0x20 || c >= 0x7f || c == '%' || c == '?' || c == '#' {
				dst = append(dst, '%', hex[c>>4], hex[c&15])
				continue
			}
			dst = append(dst, c)
		}
	}
	if len(dst) == 0 || dst[0] != '/' {
		dst = append([]byte{'/'}, dst...)
	}
	return dst
}
