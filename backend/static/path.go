package static

import (
	"strings"
	"unicode/utf8"
)

// SplitPath decodes a URL path (percent-encoded, starting with '/') into checked
// segments. dirForm reports a trailing slash. It fails on anything that could
// name a file other than the one the segments spell: dot segments, encoded '/'
// (which would hide a separator), '\' (a separator elsewhere), NUL and other
// control bytes, and bytes that are not valid UTF-8 (overlong encodings such as
// %c0%ae are how "." was smuggled past decoders).
func SplitPath(p string) (segs []string, dirForm bool, err error) {
	if p == "" {
		p = "/"
	}
	if p[0] != '/' {
		return nil, false, errBadPath
	}
	dirForm = strings.HasSuffix(p, "/")
	for _, rawSeg := range strings.Split(p[1:], "/") {
		if rawSeg == "" {
			continue // "//" merges, as nginx's merge_slashes does
		}
		seg, err := decodeSegment(rawSeg)
		if err != nil {
			return nil, false, err
		}
		if seg == "." || seg == ".." {
			return nil, false, errBadPath
		}
		segs = append(segs, seg)
	}
	return segs, dirForm, nil
}

func decodeSegment(s string) (string, error) {
	if !strings.ContainsAny(s, "%\\") {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] == 0x7f {
				return "", errBadPath
			}
		}
		if !utf8.ValidString(s) {
			return "", errBadPath
		}
		return s, nil
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return "", errBadPath
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
			return "", errBadPath
		}
		b = append(b, c)
	}
	if !utf8.Valid(b) {
		return "", errBadPath
	}
	return string(b), nil
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
