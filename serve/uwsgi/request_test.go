package uwsgi

import (
	"strings"
	"testing"

	"gatehouse/proto/http1"
)

// FuzzSplitTarget compares splitTarget with the HTTP request parser: a target
// the parser accepts in origin or absolute form splits the same way here, so
// a request routes alike over uwsgi and over HTTP.
func FuzzSplitTarget(f *testing.F) {
	for _, s := range []string{
		"/", "/a%20b/c?x=1&y=2", "/p?q#frag", "http://a.test:81/p?q", "https://h/", "http://u@h/",
		"*", "a", "/a b", "/\x7f", "http://evil.test#@good.test/", "/caf\xc3\xa9", "//double//slash", "/?", "http://[::1]:80/x", "http://h?q",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		path, query, authority, ok := splitTarget([]byte(target))
		var p http1.Parser
		var req http1.Request
		_, err := p.Parse([]byte("GET "+target+" HTTP/1.1\r\nHost: a\r\n\r\n"), &req)
		if err != nil || req.Form != http1.FormOrigin && req.Form != http1.FormAbsolute {
			if ok && strings.IndexByte(target, '#') >= 0 {
				t.Fatalf("%q accepted with a fragment", target)
			}
			if ok && len(target) > 0 && target[0] == '/' {
				// Only what the HTTP parser refuses for other reasons
				// (its line syntax) may pass here.
				for _, c := range []byte(target) {
					if c <= 0x20 || c == 0x7f {
						t.Fatalf("%q accepted with a control byte", target)
					}
				}
			}
			return
		}
		if !ok {
			t.Fatalf("%q: refused, the HTTP parser accepts it", target)
		}
		if string(path) != string(req.Path) || string(query) != string(req.Query) || (query == nil) != (req.Query == nil) ||
			string(authority) != string(req.Authority) {
			t.Fatalf("%q: path %q query %q authority %q; HTTP parser %q %q %q",
				target, path, query, authority, req.Path, req.Query, req.Authority)
		}
	})
}

func TestAppendEscapedPath(t *testing.T) {
	cases := []struct{ script, info, want string }{
		{"", "", "/"},
		{"/app", "/a b", "/app/a%20b"},
		{"", "/100%?#", "/100%25%3F%23"},
		{"", "x", "/x"},
		{"", "/é\n", "/%C3%A9%0A"},
	}
	for _, c := range cases {
		if got := string(appendEscapedPath(nil, []byte(c.script), []byte(c.info))); got != c.want {
			t.Errorf("%q %q: %q, want %q", c.script, c.info, got, c.want)
		}
	}
}
