package fcgi

import "gatehouse/internal/httpspec"

// The CGI response head (RFC 3875 §6): header fields, one per line, then an
// empty line, at the start of the FCGI_STDOUT stream (spec §6.2: a Responder
// sends "CGI/1.1 response" data on FCGI_STDOUT).

// DefaultMaxHead is a reasonable bound on a response head, in bytes, for
// callers without their own: large enough for many cookies, small enough
// that a runaway application cannot make the gateway buffer its output.
const DefaultMaxHead = 32 << 10

// Field is one header field of a response head. Name and Value are views into
// the bytes given to ParseHead; Value has no leading or trailing whitespace.
type Field struct {
	Name, Value []byte
}

// Head is a parsed response head.
type Head struct {
	// Status is the response status: the Status field's code (RFC 3875
	// §6.3.3); else 302 when there is a Location field (§6.2.3; a local
	// redirect, §6.2.2, is not followed but sent to the client as a redirect
	// too, as nginx does); else 200.
	Status int
	// Fields holds every field but Status, in order.
	Fields []Field
	// ContentLength is the Content-Length field's value, or -1 when there is
	// none.
	ContentLength int64
	// Location reports a Location field.
	Location bool
}

// Reset empties h, keeping the storage of Fields.
func (h *Head) Reset() {
	clear(h.Fields)
	*h = Head{Fields: h.Fields[:0], ContentLength: -1}
}

// ParseHead parses the head at the start of b into h and returns its length,
// up to and including the empty line; the body follows. It returns
// ErrNeedMore when b holds no complete head yet and ErrHeadTooLarge when the
// head is longer than max bytes.
//
// Lines may end in LF or CRLF (RFC 3875 §7.2). Refused, because the fields go
// on to an HTTP client: a CR not followed by LF, field lines starting with
// whitespace (obs-fold, RFC 9112 §5.2), names that are not tokens or are
// followed by whitespace before ':' (RFC 9112 §5.1), control bytes other than
// HTAB in values (RFC 9110 §5.5), a Status that is not a final 3-digit code,
// and Content-Length fields that are not 1*DIGIT or disagree (RFC 9110 §8.6).
func ParseHead(b []byte, max int, h *Head) (int, error) {
	h.Reset()
	limit := b
	if len(limit) > max {
		limit = limit[:max]
	}
	statusSeen := false
	for i := 0; ; {
		lf := -1
		for j := i; j < len(limit); j++ {
			if limit[j] == '\n' {
				lf = j
				break
			}
			if limit[j] == '\r' && j+1 < len(limit) && limit[j+1] != '\n' {
				return 0, ErrBareCR
			}
		}
		if lf < 0 {
			if len(b) >= max {
				return 0, ErrHeadTooLarge
			}
			return 0, ErrNeedMore
		}
		line := limit[i:lf]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		i = lf + 1
		if len(line) == 0 {
			if !statusSeen {
				h.Status = 200
				if h.Location {
					h.Status = 302
				}
			}
			return i, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return 0, ErrObsFold
		}
		colon := -1
		for j, c := range line {
			if c == ':' {
				colon = j
				break
			}
			if !httpspec.IsTokenChar(c) { // tchar, RFC 9110 §5.6.2
				return 0, ErrFieldName
			}
		}
		if colon <= 0 {
			return 0, ErrFieldName
		}
		name, value := line[:colon], httpspec.TrimOWS(line[colon+1:])
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return 0, ErrFieldValue
			}
		}
		switch {
		case equalFold(name, "status"):
			if statusSeen {
				return 0, ErrDuplicateStatus
			}
			code, ok := parseStatus(value)
			if !ok {
				return 0, ErrStatus
			}
			h.Status, statusSeen = code, true
			continue // Status is for the gateway (§6.3.3), not a field to send on
		case equalFold(name, "content-length"):
			n, ok := parseLength(value)
			if !ok || h.ContentLength >= 0 && h.ContentLength != n {
				return 0, ErrContentLength
			}
			h.ContentLength = n
		case equalFold(name, "location"):
			h.Location = true
		}
		h.Fields = append(h.Fields, Field{Name: name, Value: value})
	}
}

// parseStatus reads "3DIGIT [SP reason-phrase]" (RFC 3875 §6.3.3) and accepts
// final codes only: a CGI response has one status, and 1xx is interim.
func parseStatus(v []byte) (int, bool) {
	if len(v) < 3 || len(v) > 3 && v[3] != ' ' {
		return 0, false
	}
	code := 0
	for _, c := range v[:3] {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	return code, code >= 200 && code <= 599
}

// parseLength reads 1*DIGIT, refusing values past 18 digits (no overflow).
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
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

// equalFold compares b with the lowercase s ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
