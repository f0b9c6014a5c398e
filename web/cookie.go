package web

import (
	"iter"

	"gatehouse/internal/httpspec"
)

// Reading the cookies a request carries (RFC 6265 §4.2, §5.4; RFC 6265bis).
//
// A user agent sends its cookies in one Cookie field as "a=1; b=2"; HTTP/2
// splits that field in pieces (RFC 9113 §8.2.3) and some HTTP/1.1 clients send
// several, so every Cookie field is read, in order, as though they were joined
// with "; ". The rules, most of them shared with net/http's Request.Cookies:
//
//   - pairs are separated by ';'; each is trimmed of SP and HTAB, and an empty
//     one is skipped;
//   - the name is what precedes the first '=', trimmed, and must be an RFC 9110
//     token; it is matched exactly and case-sensitively, so "session" never
//     matches "Session", "xsession" or "session2";
//   - the value is what follows the first '=', trimmed; one pair of enclosing
//     double quotes is removed (RFC 6265's quoted cookie-value); what is left
//     must be bytes 0x20-0x7E other than '"', ';' and '\' (RFC 6265's
//     cookie-octet, plus the space and comma browsers send); a pair whose name
//     or value breaks these rules is skipped, not an error.
//
// Where net/http reads differently, on purpose:
//
//   - A pair without '=' ("a") is, for RFC 6265bis, a cookie with an empty
//     name and the value "a" (document.cookie = "a" sends it so): no name
//     matches it and it is skipped. net/http takes it as a cookie named "a"
//     with an empty value.
//   - Whitespace after '=' is trimmed, as RFC 6265bis trims name and value:
//     a= 1 and a= "1" both have the value 1. net/http keeps the space in the
//     value, and skips the second pair (a quote inside the value).
//   - Only SP and HTAB are trimmed (RFC 9110's OWS). net/http also trims CR
//     and LF, which never reach a handler: the servers refuse them in a field
//     value.
//   - There is no count limit: net/http returns no cookie at all from a
//     request with more than 3000 pairs (GODEBUG httpcookiemaxnum). Here the
//     server's header size limit bounds the work, and Cookie stops at the
//     first match.
//
// Names and values are views into the request's header: no allocation, valid
// until ServeHTTP returns.

// Cookie returns the value of the first cookie named name, and whether the
// request carries one. Of several with that name, the first is the one with
// the longest path (RFC 6265 §5.4 has the user agent send those first).
func (r *Request) Cookie(name string) ([]byte, bool) {
	for _, f := range r.Header.fields {
		if !equalFold(f.Name, "Cookie") {
			continue
		}
		for rest := f.Value; len(rest) > 0; {
			var n, v []byte
			var ok bool
			n, v, rest, ok = nextCookie(rest)
			if ok && string(n) == name {
				return v, true
			}
		}
	}
	return nil, false
}

// Cookies iterates over the cookies the request carries, name and value, in
// the order sent.
func (r *Request) Cookies() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for _, f := range r.Header.fields {
			if !equalFold(f.Name, "Cookie") {
				continue
			}
			for rest := f.Value; len(rest) > 0; {
				var n, v []byte
				var ok bool
				n, v, rest, ok = nextCookie(rest)
				if ok && !yield(n, v) {
					return
				}
			}
		}
	}
}

// nextCookie reads the pair at the start of s, up to the next ';'. ok is
// false for a pair to skip: empty, nameless, or breaking the rules above.
func nextCookie(s []byte) (name, value, rest []byte, ok bool) {
	pair := s
	for i, c := range s {
		if c == ';' {
			pair, rest = s[:i], s[i+1:]
			break
		}
	}
	eq := -1
	for i, c := range pair {
		if c == '=' {
			eq = i
			break
		}
	}
	if eq < 0 {
		return nil, nil, rest, false // empty, or a nameless cookie
	}
	name, value = httpspec.TrimOWS(pair[:eq]), httpspec.TrimOWS(pair[eq+1:])
	if len(name) == 0 {
		return nil, nil, rest, false
	}
	for _, c := range name {
		if cookieChars[c]&cookieToken == 0 {
			return nil, nil, rest, false
		}
	}
	if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
		value = value[1 : len(value)-1]
	}
	for _, c := range value {
		if cookieChars[c]&cookieOctet == 0 {
			return nil, nil, rest, false
		}
	}
	return name, value, rest, true
}

// Byte classes of cookie names and values.
const (
	cookieToken = 1 << iota // tchar, RFC 9110 §5.6.2
	cookieOctet             // a value byte: 0x20-0x7E but '"', ';' and '\'
)

var cookieChars = func() (t [256]uint8) {
	for c := 0x20; c < 0x7f; c++ {
		if c != '"' && c != ';' && c != '\\' {
			t[c] |= cookieOctet
		}
		b := byte(c)
		if b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' {
			t[c] |= cookieToken
		}
		switch b {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
			t[c] |= cookieToken
		}
	}
	return t
}()
