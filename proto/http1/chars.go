package http1

import "gatehouse/internal/httpspec"

// Byte classes, one table lookup per byte on the hot path.
const (
	cToken  = 1 << iota // tchar, RFC 9110 §5.6.2 (httpspec.IsTokenChar)
	cValue              // field-vchar / SP / HTAB / obs-text, RFC 9110 §5.5
	cTarget             // request-target octet: visible ASCII (RFC 9112 §3.2, RFC 3986 §2)
	cHex                // HEXDIG
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		isDigit := b >= '0' && b <= '9'
		if httpspec.IsTokenChar(b) {
			t[c] |= cToken
		}
		if b == '\t' || b == ' ' || b >= 0x21 && b != 0x7f {
			t[c] |= cValue
		}
		if b >= 0x21 && b < 0x7f {
			t[c] |= cTarget
		}
		if isDigit || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' {
			t[c] |= cHex
		}
	}
	return t
}()

// IsToken reports whether b is a non-empty RFC 9110 token (§5.6.2).
func IsToken(b []byte) bool { return httpspec.IsToken(b) }

// IsFieldValue reports whether s may be sent as a field value: no CTL but HTAB,
// no CR, LF or NUL (response splitting).
func IsFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if class[s[i]]&cValue == 0 {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// EqualFold reports whether b equals the lowercase ASCII string s, ignoring ASCII case in b.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// EqualFoldBytes compares two byte strings ignoring ASCII case.
func EqualFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// equalFoldBoth compares two byte strings ignoring ASCII case.
func equalFoldBoth(a []byte, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS removes optional whitespace (SP, HTAB) at both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && isOWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isOWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// nextListElem splits a comma-separated list (RFC 9110 §5.6.1): it returns the first
// element with OWS trimmed and the rest after the comma. Empty elements are returned
// as empty slices; callers skip them as the list rule requires.
func nextListElem(b []byte) (elem, rest []byte, ok bool) {
	if len(b) == 0 {
		return nil, nil, false
	}
	for i, c := range b {
		if c == ',' {
			return trimOWS(b[:i]), b[i+1:], true
		}
	}
	return trimOWS(b), nil, true
}

// HopByHop reports a field that describes one connection, not the message
// (RFC 9110 §7.6.1: Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
// Transfer-Encoding, Upgrade). A gateway drops these from an application's
// response: the server frames the response to its client itself.
// Content-Length is not one: it is the length the client gets, and the
// server checks the body against it.
func HopByHop(name []byte) bool {
	switch len(name) {
	case 2:
		return EqualFold(name, "te")
	case 7:
		return EqualFold(name, "trailer") || EqualFold(name, "upgrade")
	case 10:
		return EqualFold(name, "connection") || EqualFold(name, "keep-alive")
	case 16:
		return EqualFold(name, "proxy-connection")
	case 17:
		return EqualFold(name, "transfer-encoding")
	}
	return false
}

// NextElement splits the first element off a comma-separated field value
// (Connection, Vary, Transfer-Encoding, ...), trimmed of spaces and tabs;
// rest is what follows its comma.
func NextElement(v []byte) (elem, rest []byte) {
	i := 0
	for i < len(v) && v[i] != ',' {
		i++
	}
	elem, rest = v[:i], v[min(i+1, len(v)):]
	for len(elem) > 0 && (elem[0] == ' ' || elem[0] == '\t') {
		elem = elem[1:]
	}
	for len(elem) > 0 && (elem[len(elem)-1] == ' ' || elem[len(elem)-1] == '\t') {
		elem = elem[:len(elem)-1]
	}
	return elem, rest
}

// HasElement reports whether the comma-separated value v lists token (lower
// case), ignoring case.
func HasElement(v []byte, token string) bool {
	for len(v) > 0 {
		var elem []byte
		elem, v = NextElement(v)
		if EqualFold(elem, token) {
			return true
		}
	}
	return false
}
