package cgi

import (
	"bytes"
	"errors"

	"gatehouse/internal/bytesconv"
	"gatehouse/proto/http1"
)

// errNeedMore reports that the output so far ends inside the response head.
var errNeedMore = errors.New("cgi: need more output")

// headError is a malformed CGI response head. The script is at fault, so the
// client gets 502 Bad Gateway.
type headError struct{ reason string }

func (e *headError) Error() string   { return "cgi: bad response head: " + e.reason }
func (e *headError) HTTPStatus() int { return 502 }

var (
	errHeadTooLarge = &headError{"response head over the limit"}
	errHeadLine     = &headError{"line with a bare CR"}
	errHeadFold     = &headError{"continuation line (obs-fold)"}
	errHeadName     = &headError{"field name is not a token"}
	errHeadValue    = &headError{"control character in a field value"}
	errHeadDup      = &headError{"Status, Content-Type or Location given twice"}
	errHeadStatus   = &headError{"invalid Status"}
	errHeadNoCGI    = &headError{"no Status, Content-Type or Location"}
	errHeadFields   = &headError{"too many fields"}
)

// maxHeadFields bounds the fields of a response head.
const maxHeadFields = 100

// field is one response field; name and value are views into the output.
type field struct{ name, value []byte }

// head is a parsed CGI response head (RFC 3875 §6.3).
type head struct {
	status      int // 0: the script sent no Status
	reason      []byte
	contentType []byte
	location    []byte
	hasType     bool
	hasLocation bool
	fields      []field // the other fields, in order
}

// parseHead parses the CGI response head at the start of out. It returns the
// length of the head, blank line included, once the blank line is in out, or
// errNeedMore; a head that has not ended within max bytes is errHeadTooLarge.
// Any other error is a *headError.
//
// The rules, from RFC 3875 §6.3 with HTTP's field syntax (RFC 9110 §5):
//   - Lines end in LF or CR LF: scripts print either, and §6.3 ends lines in
//     NL, the system's newline. A CR anywhere else is refused: it would end a
//     field early on the way to the client (response splitting).
//   - Field names are tokens directly followed by ':'; values hold no control
//     characters but HTAB; continuation lines are refused.
//   - Status, Content-Type and Location are the CGI fields; each may appear
//     once, and at least one must (§6.3). Status is "NNN reason", 200 to 599:
//     an interim response is not the script's to send.
func parseHead(out []byte, max int, h *head) (int, error) {
	*h = head{fields: h.fields[:0]}
	pos := 0
	for {
		i := bytes.IndexByte(out[pos:], '\n')
		if i < 0 {
			if len(out) > max {
				return 0, errHeadTooLarge
			}
			return 0, errNeedMore
		}
		next := pos + i + 1
		if next > max {
			return 0, errHeadTooLarge
		}
		line := out[pos : pos+i]
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			if !h.hasType && !h.hasLocation && h.status == 0 {
				return 0, errHeadNoCGI
			}
			return next, nil
		}
		if err := h.addLine(line); err != nil {
			return 0, err
		}
		pos = next
	}
}

func (h *head) addLine(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return errHeadFold
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		return errHeadLine
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !http1.IsToken(line[:colon]) {
		return errHeadName // includes whitespace before the colon
	}
	name, value := line[:colon], line[colon+1:]
	for len(value) > 0 && (value[0] == ' ' || value[0] == '\t') {
		value = value[1:]
	}
	if !http1.IsFieldValue(bytesconv.String(value)) {
		return errHeadValue
	}
	for len(value) > 0 && (value[len(value)-1] == ' ' || value[len(value)-1] == '\t') {
		value = value[:len(value)-1]
	}
	switch {
	case http1.EqualFold(name, "status"):
		if h.status != 0 {
			return errHeadDup
		}
		return h.parseStatus(value)
	case http1.EqualFold(name, "content-type"):
		if h.hasType {
			return errHeadDup
		}
		h.contentType, h.hasType = value, true
	case http1.EqualFold(name, "location"):
		if h.hasLocation {
			return errHeadDup
		}
		h.location, h.hasLocation = value, true
	default:
		if len(h.fields) >= maxHeadFields {
			return errHeadFields
		}
		h.fields = append(h.fields, field{name: name, value: value})
	}
	return nil
}

// parseStatus parses status-code [ SP reason-phrase ] (RFC 3875 §6.3.3; the
// reason is optional in practice, as in HTTP).
func (h *head) parseStatus(v []byte) error {
	if len(v) < 3 || len(v) > 3 && v[3] != ' ' {
		return errHeadStatus
	}
	code := 0
	for _, c := range v[:3] {
		if c < '0' || c > '9' {
			return errHeadStatus
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code > 599 {
		return errHeadStatus
	}
	h.status = code
	if len(v) > 4 {
		h.reason = v[4:]
	}
	return nil
}
