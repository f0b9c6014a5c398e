package http1

import "bytes"

// Response-head errors (RFC 9112 §4). They are returned wrapped in a
// *ResponseError, as every error of the response parser is.
var (
	ErrStatusLine        = newError(502, "malformed status line")
	ErrStatusCode        = newError(502, "invalid status code")
	ErrStatusLineTooLong = newError(502, "status line too long")
)

// ResponseError is a malformed response head received from an upstream. Err is
// the rule it broke, one of this package's errors; whatever Err's own status,
// a gateway answers a bad upstream response with 502 Bad Gateway (RFC 9110
// §15.6.3), which HTTPStatus reports. errors.Is(err, ErrFieldName) and the like
// see through it.
type ResponseError struct {
	Err *Error
}

func (e *ResponseError) Error() string { return "http1: bad response: " + e.Err.Reason }

// HTTPStatus reports 502; web.StatusOf reads it.
func (e *ResponseError) HTTPStatus() int { return 502 }

func (e *ResponseError) Unwrap() error { return e.Err }

// Response is a parsed response head. Every []byte is a view into the buffer
// given to ResponseParser.Parse and is valid while that buffer is.
type Response struct {
	Major, Minor uint8 // Major is always 1 for a head that parsed
	Status       int   // 100-599
	Reason       []byte

	Fields []Field

	// Values derived from the fields.
	ContentLength int64 // -1 when absent
	Chunked       bool  // Transfer-Encoding: chunked
	Close         bool  // Connection: close, or HTTP/1.0 without keep-alive
	KeepAlive     bool  // Connection: keep-alive was sent

	// HeadLen is the length of the head in bytes, the empty line included.
	HeadLen int

	te teState
}

// Reset clears r for reuse, keeping the capacity of Fields.
func (r *Response) Reset() {
	fields := r.Fields[:0]
	*r = Response{Fields: fields, ContentLength: -1}
}

// Framing says how a response body is delimited.
type Framing uint8

// The framings of RFC 9112 §6.3.
const (
	FramingNone    Framing = iota // no body: HEAD, 1xx, 204, 304
	FramingLength                 // Content-Length bytes
	FramingChunked                // the chunked transfer coding (ChunkedDecoder)
	FramingClose                  // until the connection closes
)

// Framing returns how r's body is delimited (RFC 9112 §6.3): requestHead
// reports whether the request was HEAD, whose response has no body whatever
// its fields say.
func (r *Response) Framing(requestHead bool) Framing {
	switch {
	case requestHead || r.Status < 200 || r.Status == 204 || r.Status == 304:
		return FramingNone
	case r.Chunked:
		return FramingChunked
	case r.ContentLength >= 0:
		return FramingLength
	}
	return FramingClose
}

// ResponseParser parses response heads incrementally. The zero value is ready
// with default limits; set Limits before the first call to change them. The
// status line is bounded by Limits.MaxRequestLine, fields as in requests.
type ResponseParser struct {
	Limits Limits

	lim     Limits
	started bool
	line    bool // the status line has been parsed
	pos     int  // offset of the next line to parse
	scanned int  // offset up to which the current line has been searched for LF
}

// Reset prepares p for a new head.
func (p *ResponseParser) Reset() { p.started, p.line, p.pos, p.scanned = false, false, 0, 0 }

// ParseResponseHead parses the response head at the start of buf into resp in
// one call: it returns the head length, ErrNeedMore, or a *ResponseError. For
// input that arrives in pieces, a ResponseParser avoids rescanning.
func ParseResponseHead(buf []byte, lim Limits, resp *Response) (int, error) {
	p := ResponseParser{Limits: lim}
	return p.Parse(buf, resp)
}

// Parse parses the response head at the start of buf into resp (RFC 9112 §4,
// §5). It applies the request parser's rules to the fields: CRLF line ends
// only, no obs-fold, token names directly followed by ':', field values
// without control characters; one Content-Length of 1*DIGIT; Transfer-Encoding
// only as exactly "chunked", never with Content-Length nor in HTTP/1.0.
// Framing that a gateway cannot re-frame safely is refused rather than guessed
// at: it is how a response smuggles a second one.
//
// It returns the head length once the empty line ending the head is in buf, or
// ErrNeedMore: call again with the same buffer extended (bytes already passed
// must not change; after moving them, call Reset and start over). Any other
// error is a *ResponseError; the connection must then be closed.
//
// An interim (1xx) head parses like any other: the caller skips it and parses
// the next one.
func (p *ResponseParser) Parse(buf []byte, resp *Response) (int, error) {
	n, err := p.parse(buf, resp)
	if err != nil && err != ErrNeedMore {
		if e, ok := err.(*Error); ok {
			return 0, &ResponseError{Err: e}
		}
	}
	return n, err
}

func (p *ResponseParser) parse(buf []byte, resp *Response) (int, error) {
	if !p.started {
		p.lim = p.Limits.WithDefaults()
		p.started = true
		resp.Reset()
	}
	lim := &p.lim
	for {
		// A field line that starts with whitespace is refused as soon as its
		// first byte is here: nothing after it can make it valid (obs-fold,
		// RFC 9112 §5.2; whitespace before the first field, §2.2). This comes
		// before the limits, so the answer does not depend on the reads.
		if p.line && p.pos < len(buf) && isOWS(buf[p.pos]) {
			if len(resp.Fields) == 0 {
				return 0, ErrLeadingSpace
			}
			return 0, ErrObsFold
		}
		i := bytes.IndexByte(buf[p.scanned:], '\n')
		if i < 0 {
			p.scanned = len(buf)
			lineLen := len(buf) - p.pos
			switch {
			case !p.line && lineLen > lim.MaxRequestLine+1: // +1: the CR may be here already
				return 0, ErrStatusLineTooLong
			case p.line && lineLen > lim.MaxFieldBytes+1:
				return 0, ErrFieldTooLong
			case len(buf) > lim.MaxHeaderBytes:
				return 0, ErrHeaderTooLarge
			}
			return 0, ErrNeedMore
		}
		lf := p.scanned + i
		if lf == p.pos || buf[lf-1] != '\r' {
			return 0, ErrBareLF
		}
		line := buf[p.pos : lf-1]
		next := lf + 1
		if next > lim.MaxHeaderBytes {
			if !p.line {
				return 0, ErrStatusLineTooLong
			}
			return 0, ErrHeaderTooLarge
		}
		switch {
		case !p.line:
			if len(line) > lim.MaxRequestLine {
				return 0, ErrStatusLineTooLong
			}
			if err := parseStatusLine(line, resp); err != nil {
				return 0, err
			}
			p.line = true
		case len(line) == 0:
			if err := resp.finish(); err != nil {
				return 0, err
			}
			resp.HeadLen = next
			p.Reset()
			return next, nil
		default:
			if len(line) > lim.MaxFieldBytes {
				return 0, ErrFieldTooLong
			}
			if len(resp.Fields) >= lim.MaxFields {
				return 0, ErrTooManyFields
			}
			name, value, err := parseFieldLine(line, len(resp.Fields) == 0)
			if err != nil {
				return 0, err
			}
			resp.Fields = append(resp.Fields, Field{Name: name, Value: value})
			if err := resp.noteField(name, value); err != nil {
				return 0, err
			}
		}
		p.pos, p.scanned = next, next
	}
}

// parseStatusLine parses HTTP-version SP status-code SP [ reason-phrase ]
// (RFC 9112 §4). A missing SP after the code, when no reason follows, is
// accepted: servers send "HTTP/1.1 200" and the reason carries nothing (§4:
// a client SHOULD ignore it).
func parseStatusLine(line []byte, resp *Response) error {
	if len(line) < 12 || line[8] != ' ' {
		return ErrStatusLine
	}
	v, code := line[:8], line[9:12]
	if string(v[:5]) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return ErrStatusLine
	}
	if v[5] != '1' {
		return ErrVersionUnsupported
	}
	resp.Major, resp.Minor = 1, v[7]-'0'
	status := 0
	for _, c := range code {
		if c < '0' || c > '9' {
			return ErrStatusCode
		}
		status = status*10 + int(c-'0')
	}
	// RFC 9110 §15: the first digit is the class, 1 to 5; nothing else can be
	// relayed with a meaning.
	if status < 100 || status > 599 {
		return ErrStatusCode
	}
	resp.Status = status
	rest := line[12:]
	if len(rest) == 0 {
		return nil
	}
	if rest[0] != ' ' {
		return ErrStatusCode // "HTTP/1.1 2000"
	}
	for _, c := range rest[1:] {
		if class[c]&cValue == 0 {
			return ErrStatusLine
		}
	}
	resp.Reason = rest[1:]
	return nil
}

// noteField records the fields that framing depends on.
func (resp *Response) noteField(name, value []byte) error {
	switch len(name) {
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
					resp.Close = true
				case EqualFold(elem, "keep-alive"):
					resp.KeepAlive = true
				}
			}
		}
	case 14:
		if EqualFold(name, "content-length") {
			// As for requests: one field, 1*DIGIT. RFC 9110 §8.6 lets a
			// recipient collapse "5, 5"; refusing costs nothing legitimate.
			if resp.ContentLength >= 0 {
				return ErrDupContentLength
			}
			n, ok := ParseContentLength(value)
			if !ok {
				return ErrContentLength
			}
			resp.ContentLength = n
		}
	case 17:
		if EqualFold(name, "transfer-encoding") {
			return resp.te.note(value)
		}
	}
	return nil
}

// finish applies the rules that need the whole header section.
func (resp *Response) finish() error {
	if resp.te.present {
		switch {
		case resp.Minor == 0:
			return ErrEncodingHTTP10 // RFC 9112 §6.1: faulty framing
		case resp.ContentLength >= 0:
			// RFC 9112 §6.3 lets Transfer-Encoding win, but a sender of both
			// is either broken or smuggling; relaying either reading is a guess.
			return ErrLengthAndEncoding
		case !resp.te.chunkedLast || resp.te.chunkedCount != 1:
			// §6.3 would read such a body until close, with a coding still
			// applied that the client never asked to decode.
			return ErrTransferEncoding
		case resp.te.other:
			return ErrTransferCoding
		}
		resp.Chunked = true
	}
	if resp.Minor == 0 {
		resp.Close = resp.Close || !resp.KeepAlive
	}
	return nil
}
