package httpspec

import (
	"bytes"
	"net/netip"
)

// hostChar marks reg-name and IP-literal characters (RFC 3986 §3.2.2), with
// '%', ':', '[' and ']'; hexChar marks HEXDIG.
var hostChar, hexChar = func() (h, x [256]bool) {
	for c := range 256 {
		b := byte(c)
		isDigit := b >= '0' && b <= '9'
		if isDigit || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' {
			h[c] = true
		}
		switch b {
		case '-', '.', '_', '~', // unreserved
			'!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', // sub-delims
			'%', ':', '[', ']': // pct-encoded, port and IP-literal delimiters
			h[c] = true
		}
		x[c] = isDigit || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
	}
	return h, x
}()

// ValidAuthority reports whether a is uri-host [ ":" port ] (RFC 3986
// §3.2, without userinfo): a reg-name (pct-encoded allowed) or an IPv6
// literal in brackets, and a port of digits. With needPort, the host and a
// non-empty port are required (CONNECT's authority-form, RFC 9112 §3.2.3).
func ValidAuthority[T string | []byte](a T, needPort bool) bool {
	return validAuthority([]byte(a), needPort)
}

func validAuthority(a []byte, needPort bool) bool {
	host, port := a, []byte(nil)
	hasPort := false
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 || !validIPLiteral(a[1:end]) {
			return false
		}
		host = a[:end+1]
		switch rest := a[end+1:]; {
		case len(rest) == 0:
		case rest[0] == ':':
			port, hasPort = rest[1:], true
		default:
			return false
		}
	} else {
		if c := bytes.LastIndexByte(a, ':'); c >= 0 {
			host, port, hasPort = a[:c], a[c+1:], true
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if !hostChar[c] || c == ':' || c == '[' || c == ']' {
				return false
			}
			if c == '%' && (i+2 >= len(host) || !hexChar[host[i+1]] || !hexChar[host[i+2]]) {
				return false
			}
		}
	}
	for _, c := range port {
		if c < '0' || c > '9' {
			return false
		}
	}
	if needPort && (!hasPort || len(port) == 0 || len(host) == 0) {
		return false
	}
	return true
}

// validIPLiteral checks the inside of "[...]": an IPv6 address (RFC 3986
// §3.2.2). IPvFuture and zone identifiers are refused; no HTTP client sends
// them.
func validIPLiteral(b []byte) bool {
	if len(b) < 2 || len(b) > 45 { // 45: the longest IPv6 text form (with an IPv4 tail)
		return false
	}
	for _, c := range b {
		if !hexChar[c] && c != ':' && c != '.' {
			return false
		}
	}
	ip, err := netip.ParseAddr(string(b))
	return err == nil && ip.Is6() && ip.Zone() == ""
}

// ValidHost reports whether v is a valid Host field value (RFC 9110 §7.2):
// uri-host [ ":" port ], possibly empty. A host to send (a proxy's or a
// health check's) is also checked with it, non-empty, so that what the
// configuration accepts is what the request parser would.
func ValidHost[T string | []byte](v T) bool {
	return len(v) == 0 || validAuthority([]byte(v), false)
}
