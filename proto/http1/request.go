package http1

import (
	"bytes"
	"gatehouse/internal/httpspec"
)

// Default limits. Each one answers a status when exceeded; see Limits.
const (
	DefaultMaxRequestLine = 8 << 10  // RFC 9112 §3 recommends at least 8000 octets
	DefaultMaxHeaderBytes = 32 << 10 // the whole head, request line included
	DefaultMaxFieldBytes  = 8 << 10  // one field line, name and value
	DefaultMaxFields      = 100
	maxLeadingBlank       = 16 // blank lines ignored before a request line (RFC 9112 §2.2)

	// maxMethod bounds a method, in bytes. RFC 9112 §3: "A server that receives a
	// method longer than any that it implements SHOULD respond with a 501 (Not
	// Implemented)". It is above every registered method (the longest,
	// UPDATEREDIRECTREF, has 17), so no method a handler could serve is cut; a
	// shorter unknown method gets the same 501 from the server.
	maxMethod = 20
)

// Limits bound what the parser accepts. A zero field means its default.
type Limits struct {
	// MaxRequestLine is the longest request line, in bytes, CRLF excluded.
	// Default 8 KiB. Longer: 414 URI Too Long.
	MaxRequestLine int
	// MaxHeaderBytes bounds the whole head (request line, fields, CRLFs), in bytes.
	// Default 32 KiB. Larger: 431 Request Header Fields Too Large.
	// For trailers, it bounds the trailer section.
	MaxHeaderBytes int
	// MaxFieldBytes bounds one field line, in bytes. Default 8 KiB. Longer: 431.
	MaxFieldBytes int
	// MaxFields bounds the number of field lines. Default 100. More: 431.
	MaxFields int
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxRequestLine <= 0 {
		l.MaxRequestLine = DefaultMaxRequestLine
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxFieldBytes <= 0 {
		l.MaxFieldBytes = DefaultMaxFieldBytes
	}
	if l.MaxFields <= 0 {
		l.MaxFields = DefaultMaxFields
	}
	return l
}

// Field is one header or trailer field. Name and Value are views into the parsed
// buffer; Value has its surrounding whitespace removed.
type Field struct {
	Name, Value []byte
}

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

// The four request-target forms.
const (
	FormOrigin    TargetForm = iota // "/path?query"
	FormAbsolute                    // "http://authority/path?query"
	FormAuthority                   // "host:port", CONNECT only
	FormAsterisk                    // "*", OPTIONS only
)

// Request is a parsed request head. Every []byte is a view into the buffer given to
// Parser.Parse and is valid while that buffer is.
type Request struct {
	Method []byte
	Target []byte // the request-target exactly as received
	Major  uint8  // always 1 for a request that parsed
	Minor  uint8  // 0 or 1; a higher minor is served as 1.1 (RFC 9110 §2.5)
	Form   TargetForm

	Path      []byte // origin and absolute form: path, without query or fragment; "/" if empty
	Query     []byte // text after '?', up to any '#'; nil when there is no '?'
	Authority []byte // absolute and authority form: host[:port] from the target

	Fields []Field

	// Values derived from the fields.
	Host          []byte // value of the Host field
	HasHost       bool
	ContentLength int64 // -1 when absent
	Chunked       bool  // Transfer-Encoding: chunked
	Close         bool  // the client asked to close (Connection: close, or HTTP/1.0 without keep-alive)
	KeepAlive     bool  // Connection: keep-alive was sent
	Upgrade       bool  // Connection: upgrade was sent
	Expect100     bool  // Expect: 100-continue
	ExpectOther   bool  // an expectation other than 100-continue (answer 417)

	// HeadLen is the length of the head in bytes, leading blank lines included.
	HeadLen int

	te teState
}

type teState struct {
	present, chunkedLast, other bool
	chunkedCount                int
}

// Reset clears r for reuse, keeping the capacity of Fields.
func (r *Request) Reset() {
	fields := r.Fields[:0]
	*r = Request{Fields: fields, ContentLength: -1}
}

// HTTP11 reports whether the request is HTTP/1.1 (or a later 1.x).
func (r *Request) HTTP11() bool { return r.Minor >= 1 }

// Parser parses request heads incrementally. The zero value is ready to use with
// default limits; set Limits before the first call to change them.
type Parser struct {
	Limits Limits

	lim     Limits
	state   uint8
	start   int // offset of the request line
	pos     int // offset of the next line to parse
	scanned int // offset up to which the current line has been searched for LF
}

const (
	stBlank  uint8 = iota // skipping blank lines before the request line
	stLine                // expecting the request line
	stFields              // expecting field lines or the empty line
)

// Reset prepares p for a new head.
func (p *Parser) Reset() { p.state, p.start, p.pos, p.scanned = stBlank, 0, 0, 0 }

// Parse parses the request head at the start of buf into req.
//
// It returns the head length once the empty line ending the head is in buf, or
// ErrNeedMore. After ErrNeedMore, call again with the same buffer extended with more
// bytes; bytes already passed must not change. If the caller moves them (to grow its
// buffer), it calls Reset and req.Reset and starts over. Any other error is an *Error;
// the connection must then be closed after answering its Status.
//
// Parse does not allocate, except to grow req.Fields beyond its capacity.
func (p *Parser) Parse(buf []byte, req *Request) (int, error) {
	if p.state == stBlank && p.pos == 0 {
		p.lim = p.Limits.WithDefaults()
		req.Reset()
	}
	lim := &p.lim
	if p.state == stBlank {
		// RFC 9112 §2.2: a server SHOULD ignore at least one empty line received
		// before the request-line.
		for p.pos+1 < len(buf) && buf[p.pos] == '\r' && buf[p.pos+1] == '\n' {
			p.pos += 2
			if p.pos > 2*maxLeadingBlank {
				return 0, ErrLeadingBlankLines
			}
		}
		if p.pos >= len(buf) || buf[p.pos] == '\r' && p.pos+1 == len(buf) {
			return 0, ErrNeedMore
		}
		p.start, p.scanned, p.state = p.pos, p.pos, stLine
	}
	for {
		i := bytes.IndexByte(buf[p.scanned:], '\n')
		if i < 0 {
			p.scanned = len(buf)
			if err := p.checkPartial(buf, len(buf)); err != nil {
				return 0, err
			}
			return 0, ErrNeedMore
		}
		lf := p.scanned + i
		// The limits come first, as if the LF had not arrived: an over-long line
		// gets the same status whether its end came in the same read or not.
		if err := p.checkPartial(buf, lf); err != nil {
			return 0, err
		}
		line := buf[p.pos:lf]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		next := lf + 1
		if next-p.start > lim.MaxHeaderBytes {
			return 0, p.headErr()
		}
		if len(line) > p.lineLimit() {
			return 0, p.lineErr()
		}
		if lf == p.pos || buf[lf-1] != '\r' {
			return 0, ErrBareLF
		}
		switch {
		case p.state == stLine:
			if err := parseRequestLine(line, req); err != nil {
				return 0, err
			}
			p.state = stFields
		case len(line) == 0:
			if err := req.finish(); err != nil {
				return 0, err
			}
			req.HeadLen = next
			p.Reset()
			return next, nil
		default:
			if len(req.Fields) >= lim.MaxFields {
				return 0, ErrTooManyFields
			}
			name, value, err := parseFieldLine(line, len(req.Fields) == 0)
			if err != nil {
				return 0, err
			}
			req.Fields = append(req.Fields, Field{Name: name, Value: value})
			if err := req.noteField(name, value); err != nil {
				return 0, err
			}
		}
		p.pos, p.scanned = next, next
	}
}

// checkPartial applies the limits to the bytes of the current line up to end, its
// LF excluded. Parse calls it on every unterminated line, and on every terminated
// one before looking at its content, so the answer never depends on where the
// reads cut the input. Of two limits exceeded, the one the bytes crossed first is
// reported: a shorter prefix would have reported it.
func (p *Parser) checkPartial(buf []byte, end int) error {
	lineAt := p.pos + p.lineLimit() + 2 // the first end past the limit (+1: a CR may end the line)
	headAt := p.start + p.lim.MaxHeaderBytes + 1
	methodAt := len(buf) + 1 // the first end with a method too long; none yet
	if p.state == stLine && end > p.pos+maxMethod && IsToken(buf[p.pos:p.pos+maxMethod+1]) {
		methodAt = p.pos + maxMethod + 1
	}
	switch first := min(lineAt, headAt, methodAt); {
	case end < first:
		return nil
	case methodAt == first:
		return ErrMethodTooLong
	case lineAt == first:
		return p.lineErr()
	default:
		return p.headErr()
	}
}

// lineLimit is the longest line the current state accepts, CRLF excluded.
func (p *Parser) lineLimit() int {
	if p.state == stLine {
		return p.lim.MaxRequestLine
	}
	return p.lim.MaxFieldBytes
}

// lineErr and headErr are the errors for a line over lineLimit and for a head
// over MaxHeaderBytes. A request line that alone overflows the head is still
// a request line too long (414), whichever limit it crossed.
func (p *Parser) lineErr() error {
	if p.state == stLine {
		return ErrRequestLineTooLong
	}
	return ErrFieldTooLong
}

func (p *Parser) headErr() error {
	if p.state == stLine {
		return ErrRequestLineTooLong
	}
	return ErrHeaderTooLarge
}

// parseRequestLine parses method SP request-target SP HTTP-version (RFC 9112 §3).
func parseRequestLine(line []byte, req *Request) error {
	i := 0
	for i < len(line) && class[line[i]]&cToken != 0 {
		i++
	}
	if i == len(line) {
		return ErrRequestLine
	}
	if line[i] != ' ' {
		return ErrMethod
	}
	if i == 0 {
		return ErrRequestLine
	}
	req.Method = line[:i]
	rest := line[i+1:]
	j := 0
	for j < len(rest) && class[rest[j]]&cTarget != 0 {
		j++
	}
	if j < len(rest) && rest[j] >= 0x80 {
		return ErrTargetNonASCII
	}
	if j == 0 || j == len(rest) || rest[j] != ' ' {
		if j < len(rest) && rest[j] != ' ' {
			return ErrTarget
		}
		return ErrRequestLine
	}
	req.Target = rest[:j]
	if err := parseVersion(rest[j+1:], req); err != nil {
		return err
	}
	return req.parseTarget()
}

// parseVersion parses HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 §2.3), case-sensitive.
func parseVersion(v []byte, req *Request) error {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return ErrVersion
	}
	major, minor := v[5]-'0', v[7]-'0'
	if major != 1 {
		return ErrVersionUnsupported
	}
	req.Major, req.Minor = major, minor
	return nil
}

func (req *Request) parseTarget() error {
	t := req.Target
	// RFC 9112 §3.2 has no fragment in a request-target, and clients strip it.
	// One that arrives is an attack on whoever reads it differently: in
	// "http://evil.example#@good.example/" a parser that ends the authority at
	// '#' routes to evil.example, one that reads userinfo to good.example.
	if bytes.IndexByte(t, '#') >= 0 {
		return ErrFragment
	}
	connect := string(req.Method) == "CONNECT"
	switch {
	case connect:
		// RFC 9112 §3.2.3: authority-form, CONNECT only, and CONNECT takes nothing else.
		if !validAuthority(t, true) {
			return ErrTargetForm
		}
		req.Form, req.Authority = FormAuthority, t
		return nil
	case len(t) == 1 && t[0] == '*':
		// RFC 9112 §3.2.4: asterisk-form, OPTIONS only.
		if string(req.Method) != "OPTIONS" {
			return ErrTargetForm
		}
		req.Form = FormAsterisk
		return nil
	case t[0] == '/':
		req.Form = FormOrigin
		return req.splitPath(t)
	}
	// absolute-form (RFC 9112 §3.2.2). Only http and https URIs name something this
	// server can answer for; anything else ("example.com:443", "foo/bar") is an error.
	var rest []byte
	switch {
	case len(t) > 7 && equalFoldBoth(t[:7], "http://"):
		rest = t[7:]
	case len(t) > 8 && equalFoldBoth(t[:8], "https://"):
		rest = t[8:]
	default:
		return ErrTarget
	}
	end := len(rest)
	for i, c := range rest {
		if c == '/' || c == '?' {
			end = i
			break
		}
	}
	auth := rest[:end]
	if bytes.IndexByte(auth, '@') >= 0 {
		return ErrUserinfo
	}
	if len(auth) == 0 || !validAuthority(auth, false) {
		return ErrTarget
	}
	req.Form, req.Authority = FormAbsolute, auth
	return req.splitPath(rest[end:])
}

// ParseTarget checks a request-target that did not arrive in a request line
// (HTTP/2's :path, RFC 9113 §8.3.1) by the rules a request line's target
// passes here, and splits it: origin-form, or asterisk-form for OPTIONS;
// visible ASCII only, no fragment, well-formed percent-encoding in the path.
// Every layer behind the server then sees targets of one shape, whichever
// protocol carried them. path and query are views into target; query is nil
// when there is no '?'.
func ParseTarget(method, target []byte) (path, query []byte, err error) {
	if len(target) == 0 {
		return nil, nil, ErrTarget
	}
	for _, c := range target {
		if class[c]&cTarget == 0 {
			if c >= 0x80 {
				return nil, nil, ErrTargetNonASCII
			}
			return nil, nil, ErrTarget
		}
	}
	req := Request{Method: method, Target: target}
	if err := req.parseTarget(); err != nil {
		return nil, nil, err
	}
	if req.Form != FormOrigin && req.Form != FormAsterisk {
		return nil, nil, ErrTargetForm
	}
	return req.Path, req.Query, nil
}

// splitPath sets Path and Query from an origin-form target (or the part of an
// absolute-form target after the authority), which holds no fragment.
//
// In the path, '%' must start two hex digits (RFC 3986 §2.1): a layer that
// decodes "%zz" one way and one that keeps it see two different paths, so the
// path is refused here, once, for all of them (net/http and nginx refuse it too).
// The query is left to the application, as they leave it: "?q=100%" is common.
func (req *Request) splitPath(t []byte) error {
	if q := bytes.IndexByte(t, '?'); q >= 0 {
		req.Path, req.Query = t[:q], t[q+1:]
	} else {
		req.Path = t
	}
	if len(req.Path) == 0 {
		req.Path = slash
	}
	for p := req.Path; ; {
		i := bytes.IndexByte(p, '%')
		if i < 0 {
			return nil
		}
		if i+2 >= len(p) || class[p[i+1]]&cHex == 0 || class[p[i+2]]&cHex == 0 {
			return ErrPathEscape
		}
		p = p[i+3:]
	}
}

var slash = []byte("/")

// validAuthority is httpspec.ValidAuthority: the grammar is shared with the
// configuration's checks.
func validAuthority(a []byte, needPort bool) bool { return httpspec.ValidAuthority(a, needPort) }

// ValidHost reports whether v is a valid Host field value (RFC 9110 §7.2):
// uri-host [ ":" port ], possibly empty (httpspec.ValidHost).
func ValidHost(v []byte) bool { return httpspec.ValidHost(v) }

// parseFieldLine splits "name: value" (RFC 9112 §5). first reports whether this is
// the first field line of the section, where leading whitespace means a whitespace
// line after the start line (R3) rather than obs-fold (R12); both are rejected.
func parseFieldLine(line []byte, first bool) (name, value []byte, err error) {
	if isOWS(line[0]) {
		if first {
			return nil, nil, ErrLeadingSpace
		}
		return nil, nil, ErrObsFold
	}
	i := 0
	for i < len(line) && class[line[i]]&cToken != 0 {
		i++
	}
	// RFC 9112 §5.1: no whitespace between field name and colon; the name is a token.
	if i == 0 || i == len(line) || line[i] != ':' {
		return nil, nil, ErrFieldName
	}
	name = line[:i]
	v := line[i+1:]
	for len(v) > 0 && isOWS(v[0]) {
		v = v[1:]
	}
	for _, c := range v {
		if class[c]&cValue == 0 {
			return nil, nil, ErrFieldValue
		}
	}
	for len(v) > 0 && isOWS(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	return name, v, nil
}

// noteField records the fields that framing and routing depend on.
func (req *Request) noteField(name, value []byte) error {
	switch len(name) {
	case 4:
		if EqualFold(name, "host") {
			if req.HasHost {
				return ErrDuplicateHost // RFC 9112 §3.2
			}
			if !ValidHost(value) {
				return ErrHost
			}
			req.Host, req.HasHost = value, true
		}
	case 6:
		if EqualFold(name, "expect") {
			for rest := value; ; {
				elem, r, ok := nextListElem(rest)
				if !ok {
					break
				}
				rest = r
				switch {
				case len(elem) == 0:
				case EqualFold(elem, "100-continue"):
					req.Expect100 = true
				default:
					req.ExpectOther = true
				}
			}
		}
	case 10:
		if EqualFold(name, "connection") {
			for rest := value; ; {
				elem, r, ok := nextListElem(rest)
				if !ok {
					break
				}
				rest = r
				switch {
				case EqualFold(elem, "close"):
					req.Close = true
				case EqualFold(elem, "keep-alive"):
					req.KeepAlive = true
				case EqualFold(elem, "upgrade"):
					req.Upgrade = true
				}
			}
		}
	case 12:
		// Two Content-Type fields make the representation ambiguous, and gateways
		// (CGI CONTENT_TYPE) can carry only one.
		if EqualFold(name, "content-type") {
			for _, f := range req.Fields[:len(req.Fields)-1] {
				if EqualFold(f.Name, "content-type") {
					return ErrDuplicateField
				}
			}
		}
	case 14:
		if EqualFold(name, "content-length") {
			// RFC 9110 §8.6, RFC 9112 §6.3: one field, 1*DIGIT. The list form
			// ("5, 5") and repeated fields are refused outright rather than
			// collapsed: a smuggling vector for the price of nothing legitimate.
			if req.ContentLength >= 0 {
				return ErrDupContentLength
			}
			n, ok := ParseContentLength(value)
			if !ok {
				return ErrContentLength
			}
			req.ContentLength = n
		}
	case 17:
		if EqualFold(name, "transfer-encoding") {
			return req.te.note(value)
		}
	}
	return nil
}

// ParseContentLength parses a Content-Length value, 1*DIGIT, as a decimal int64
// (leading zeros are decimal, never octal). At most 18 digits: no overflow.
func ParseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 { // 18 digits cannot overflow int64
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// note accumulates one Transfer-Encoding field value (RFC 9112 §6.1).
func (t *teState) note(value []byte) error {
	t.present = true
	for rest := value; ; {
		elem, r, ok := nextListElem(rest)
		if !ok {
			break
		}
		rest = r
		if len(elem) == 0 {
			continue
		}
		if !IsToken(elem) {
			// Transfer-coding parameters are not defined for any coding we know;
			// anything but a bare token is malformed.
			return ErrTransferEncoding
		}
		if EqualFold(elem, "chunked") {
			t.chunkedCount++
			t.chunkedLast = true
		} else {
			t.other = true
			t.chunkedLast = false
		}
	}
	return nil
}

// finish applies the rules that need the whole header section.
func (req *Request) finish() error {
	if req.te.present {
		switch {
		case req.Minor == 0:
			return ErrEncodingHTTP10 // RFC 9112 §6.1: framing is faulty
		case req.ContentLength >= 0:
			return ErrLengthAndEncoding // RFC 9112 §6.1, §6.3
		case !req.te.chunkedLast || req.te.chunkedCount != 1:
			return ErrTransferEncoding // RFC 9112 §6.3: 400 and close
		case req.te.other:
			return ErrTransferCoding // RFC 9112 §6.1: unknown coding, 501
		}
		req.Chunked = true
	}
	if req.HasHost && len(req.Host) == 0 && req.Minor >= 1 && (req.Form == FormOrigin || req.Form == FormAsterisk) {
		// RFC 9110 §4.2.1: an http URI with an empty host is invalid, and in
		// HTTP/1.1 the Host is that URI's authority (RFC 9112 §3.2); nginx
		// refuses it too. An absolute-form or CONNECT target carries its own
		// authority, and an HTTP/1.0 Host is optional: empty is absent there.
		return ErrEmptyHost
	}
	if req.Minor == 0 {
		req.Close = req.Close || !req.KeepAlive
	}
	return nil
}
