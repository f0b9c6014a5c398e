package httpspec

// tchar marks the bytes of RFC 9110 §5.6.2:
//
//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
var tchar = func() (t [256]bool) {
	for c := range 256 {
		b := byte(c)
		t[c] = b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
	}
	for _, b := range []byte("!#$%&'*+-.^_`|~") {
		t[b] = true
	}
	return t
}()

// IsTokenChar reports whether c is a tchar.
func IsTokenChar(c byte) bool { return tchar[c] }

// IsToken reports whether s is a token: one or more tchars. Field names and
// methods are tokens.
func IsToken[T string | []byte](s T) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}
