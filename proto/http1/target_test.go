package http1

import (
	"errors"
	"testing"
)

// ParseTarget takes what a request line's target takes, in origin and
// asterisk form, and refuses the rest with the same errors.
func TestParseTarget(t *testing.T) {
	cases := []struct {
		name, method, target string
		path, query          string
		hasQuery             bool
		err                  error
	}{
		{"origin", "GET", "/a/b", "/a/b", "", false, nil},
		{"query", "GET", "/a?x=1&y", "/a", "x=1&y", true, nil},
		{"empty query", "GET", "/a?", "/a", "", true, nil},
		{"escapes", "GET", "/a%20b?q=100%", "/a%20b", "q=100%", true, nil},
		{"asterisk", "OPTIONS", "*", "", "", false, nil},
		{"empty", "GET", "", "", "", false, ErrTarget},
		{"asterisk not OPTIONS", "GET", "*", "", "", false, ErrTargetForm},
		{"absolute form", "GET", "http://a.example/", "", "", false, ErrTargetForm},
		{"authority form", "CONNECT", "a.example:443", "", "", false, ErrTargetForm},
		{"relative", "GET", "a/b", "", "", false, ErrTarget},
		{"fragment", "GET", "/a#b", "", "", false, ErrFragment},
		{"bad escape", "GET", "/a%zz", "", "", false, ErrPathEscape},
		{"truncated escape", "GET", "/a%2", "", "", false, ErrPathEscape},
		{"space", "GET", "/a b", "", "", false, ErrTarget},
		{"control", "GET", "/a\x00", "", "", false, ErrTarget},
		{"DEL", "GET", "/a\x7f", "", "", false, ErrTarget},
		{"non-ASCII", "GET", "/caf\xc3\xa9", "", "", false, ErrTargetNonASCII},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, query, err := ParseTarget([]byte(c.method), []byte(c.target))
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if string(path) != c.path || string(query) != c.query || (query != nil) != c.hasQuery {
				t.Fatalf("path %q query %q (nil %v)", path, query, query == nil)
			}
		})
	}
}

// The same targets in a request line meet the same verdict.
func TestParseTargetAgreesWithParser(t *testing.T) {
	for _, target := range []string{"/", "/a?b", "/a%41", "/a%4", "/a#x", "*", "/\xff", "/a\"b", "/a{b}", "/~x!$&'()*+,;=:@"} {
		for _, method := range []string{"GET", "OPTIONS"} {
			_, _, err := ParseTarget([]byte(method), []byte(target))
			var p Parser
			var req Request
			_, perr := p.Parse([]byte(method+" "+target+" HTTP/1.1\r\nHost: a\r\n\r\n"), &req)
			if (err == nil) != (perr == nil) || err != nil && statusOf(err) != statusOf(perr) {
				t.Errorf("%s %q: ParseTarget %v, request line %v", method, target, err, perr)
			}
		}
	}
}
