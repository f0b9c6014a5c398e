package route

import "bytes"

// Clean returns the path routing matches on: percent-escapes of unreserved
// characters (RFC 3986 §2.3: letters, digits, "-._~") decoded, other escapes kept
// with upper-case hex, and repeated slashes merged. It refuses (ok false) a path
// that does not start with "/", a malformed escape, and dot segments ("." and
// "..", also when escaped): resolving them would let "/public/../admin" be routed
// one way and served another. Browsers never send them.
//
// A path that needs none of this is returned as it is, without copying.
func Clean(raw []byte) (clean []byte, ok bool) {
	if len(raw) == 0 || raw[0] != '/' {
		return nil, false
	}
	if bytes.IndexByte(raw, '%') < 0 && !bytes.Contains(raw, []byte("//")) && !hasDotSegment(raw) {
		return raw, true
	}
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) || !ishex(raw[i+1]) || !ishex(raw[i+2]) {
				return nil, false
			}
			d := unhex(raw[i+1])<<4 | unhex(raw[i+2])
			if unreserved(d) {
				out = append(out, d)
			} else {
				out = append(out, '%', upper(raw[i+1]), upper(raw[i+2]))
			}
			i += 2
			continue
		}
		if c == '/' && len(out) > 0 && out[len(out)-1] == '/' {
			continue
		}
		out = append(out, c)
	}
	if hasDotSegment(out) {
		return nil, false
	}
	return out, true
}

func hasDotSegment(p []byte) bool {
	for len(p) > 0 {
		p = p[1:] // the slash
		end := bytes.IndexByte(p, '/')
		if end < 0 {
			end = len(p)
		}
		if seg := p[:end]; len(seg) == 1 && seg[0] == '.' || len(seg) == 2 && seg[0] == '.' && seg[1] == '.' {
			return true
		}
		p = p[end:]
	}
	return false
}

func unreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func ishex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
