package http1

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// parseAll parses raw in one call and, as a cross-check, fed one byte at a time; both
// must agree. It returns the parsed request and the error of the one-call parse.
func parseAll(t testing.TB, raw string, lim Limits) (*Request, int, error) {
	t.Helper()
	var p Parser
	p.Limits = lim
	req := &Request{}
	n, err := p.Parse([]byte(raw), req)

	var q Parser
	q.Limits = lim
	inc := &Request{}
	buf := make([]byte, 0, len(raw))
	var n2 int
	var err2 error = ErrNeedMore
	for i := 0; i < len(raw) && err2 == ErrNeedMore; i++ {
		buf = append(buf, raw[i])
		n2, err2 = q.Parse(buf, inc)
	}
	if err2 != err && !(err == ErrNeedMore && err2 == ErrNeedMore) {
		t.Fatalf("incremental parse disagrees: one call %v, byte by byte %v", err, err2)
	}
	if err == nil && (n2 != n || string(inc.Target) != string(req.Target) || len(inc.Fields) != len(req.Fields)) {
		t.Fatalf("incremental parse disagrees: n %d/%d target %q/%q", n, n2, req.Target, inc.Target)
	}
	return req, n, err
}

func statusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	if err == nil {
		return 200
	}
	return 0
}

// TestRequestRules runs one case per rule of testdata/rfc9112-rules.md (R-numbers),
// plus the parser's own decisions. want is the status the parser's error carries, 200
// for a head that parses, 0 for ErrNeedMore.
func TestRequestRules(t *testing.T) {
	cases := []struct {
		rule, name, raw string
		want            int
	}{
		{"R1", "bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
		{"R1", "bare CR between fields", "GET / HTTP/1.1\r\nHost: a\r\nFoo: 1\rBar: 2\r\n\r\n", 400},
		{"R1", "bare CR in request line", "GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n", 400},
		{"R2", "bare LF request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
		{"R2", "bare LF field", "GET / HTTP/1.1\r\nHost: a\n\r\n", 400},
		{"R2", "bare LF end of head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
		{"R3", "whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
		{"R4", "leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"R4", "leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R4", "too many empty lines", strings.Repeat("\r\n", 17) + "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R5", "missing target", "GET HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R5", "missing version", "GET /\r\nHost: a\r\n\r\n", 400},
		{"R5", "extra token", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400},
		{"R5", "space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R5", "tab separators", "GET\t/\tHTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R5", "double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R5", "trailing space", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
		{"R5", "leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R5", "NUL in target", "GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R5", "DEL in target", "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R6", "HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400},
		{"R6", "HTTP/01.1", "GET / HTTP/01.1\r\nHost: a\r\n\r\n", 400},
		{"R6", "lowercase", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
		{"R6", "HTTP/1", "GET / HTTP/1\r\nHost: a\r\n\r\n", 400},
		{"R6", "HTTP/5.6", "GET / HTTP/5.6\r\nHost: a\r\n\r\n", 505},
		{"R6", "HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
		{"R6", "HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
		{"R6", "HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
		{"R6", "HTTP/1.2 served as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 200},
		{"R7", "paren in method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R7", "specials in method", "G=\":<>(e),[T];? / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R7", "NUL method", "\x00 / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R7", "unknown token method parses", "BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		// RFC 9112 §3: a method longer than any implemented SHOULD get 501, not 414.
		{"R7", "method at the length limit", strings.Repeat("M", maxMethod) + " / HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"R7", "method one past the length limit", strings.Repeat("M", maxMethod+1) + " / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
		{"R7", "method one past, unterminated", strings.Repeat("M", maxMethod+1), 501},
		{"R7", "method at the limit, unterminated", strings.Repeat("M", maxMethod), 0},
		{"R7", "method longer than the request line", strings.Repeat("M", 9000) + " / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
		{"R7", "long method with a bad byte past the limit", strings.Repeat("M", maxMethod+1) + "( / HTTP/1.1\r\nHost: a\r\n\r\n", 501},
		{"R7", "bad byte in a short method", "MM( / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R9", "invalid host space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"R9", "invalid host userinfo", "GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", 400},
		{"R9", "invalid host slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"R9", "invalid host ctl", "GET / HTTP/1.1\r\nHost: \x06\r\n\r\n", 400},
		{"R9", "two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
		{"R9", "host with port", "GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", 200},
		{"R9", "host ipv6", "GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", 200},
		{"R9", "host bad ipv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},
		{"R9", "host bad port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400},
		// RFC 9110 §4.2.1: an http URI with an empty host is invalid; RFC 9112 §3.2:
		// an invalid Host gets 400 (nginx: "client sent invalid host header").
		{"R9", "empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400},
		{"R9", "blank host", "GET / HTTP/1.1\r\nHost: \t \r\n\r\n", 400},
		{"R9", "empty host, OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n", 400},
		{"R9", "empty host, HTTP/1.0", "GET / HTTP/1.0\r\nHost:\r\n\r\n", 200},
		{"R9", "empty host, absolute form", "GET http://x/ HTTP/1.1\r\nHost:\r\n\r\n", 200},
		{"R9", "empty host, CONNECT", "CONNECT x:443 HTTP/1.1\r\nHost:\r\n\r\n", 200},
		{"R9", "one-byte host", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"R10", "absolute form", "GET http://x/ HTTP/1.1\r\nHost: y\r\n\r\n", 200},
		{"R10", "absolute form userinfo", "GET http://u@x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"R10", "absolute form other scheme", "GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"R10", "absolute form no authority", "GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		// RFC 9112 §3.2: a request-target has no fragment. Where one ends is where
		// two parsers disagree on the authority: found by fuzzing, this one was
		// routed to evil.example while a URL parser reads userinfo and good.example.
		{"R10", "fragment hides the authority", "GET http://evil.example#@good.example/echo HTTP/1.1\r\nHost: good.example\r\n\r\n", 400},
		{"R10", "fragment after the authority", "GET http://x.example#y HTTP/1.1\r\nHost: x.example\r\n\r\n", 400},
		{"R10", "fragment in absolute-form path", "GET http://x.example/a#b HTTP/1.1\r\nHost: x.example\r\n\r\n", 400},
		{"target", "fragment in origin form", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "fragment after the query", "GET /a?b#c HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "empty fragment", "GET /# HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		// RFC 9112 §3.2, RFC 3986 §2: the request-target is ASCII; anything else
		// is decoded differently by each layer (overlong UTF-8 "/" is a classic
		// path traversal).
		{"target", "UTF-8 in path", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "overlong UTF-8 slash", "GET /a\xc0\xaf..\xc0\xafetc HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "byte 0x80", "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "byte 0xff in query", "GET /?q=\xff HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "UTF-8 in absolute-form host", "GET http://\xc3\xa9.example/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "percent-encoded UTF-8", "GET /caf%C3%A9?q=%FF HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"target", "last ASCII byte", "GET /~ HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		// RFC 3986 §2.1: '%' in a path starts two hex digits. Found by FuzzNetHTTP
		// (net/http refuses, as nginx does): a layer that decodes "%zz" and one
		// that keeps it see two paths.
		{"target", "malformed escape in path", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "truncated escape ending the path", "GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "lone percent before the query", "GET /%?q HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "malformed escape in absolute-form path", "GET http://a.example/%g0 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"target", "escapes in path", "GET /a%2fb%C3%A9 HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"target", "stray percent in query kept", "GET /?q=100%&r=%zz HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"R11", "space before colon", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", 400},
		{"R11", "tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400},
		{"R12", "obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400},
		{"R12", "obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400},
		{"R13", "space in name", "GET / HTTP/1.1\r\nA space: x\r\n\r\n", 400},
		{"R13", "NUL in name", "GET / HTTP/1.1\r\nfoo\x00bar: x\r\n\r\n", 400},
		{"R13", "non-ASCII name", "GET / HTTP/1.1\r\n\xefoo: x\r\n\r\n", 400},
		{"R13", "empty name", "GET / HTTP/1.1\r\n: empty\r\n\r\n", 400},
		{"R13", "no colon", "GET / HTTP/1.1\r\nContent-Length 10\r\n\r\n", 400},
		{"R14", "NUL in value", "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400},
		{"R14", "SOH in value", "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400},
		{"R14", "DEL in value", "GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", 400},
		{"R14", "obs-text in value", "GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", 200},
		{"R15", "CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"R15", "TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
		{"R16", "chunked, gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"R16", "gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"R16", "identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400},
		{"R16", "chunked, identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
		{"R16", "gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"R16", "chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"R16", "chunked in two fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"R16", "empty TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400},
		{"R16", "TE parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400},
		{"R16", "chunked mixed case", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", 200},
		{"R17", "TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"R17", "TE and CL in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
		{"R18", "CL +1", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n", 400},
		{"R18", "CL -1", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
		{"R18", "CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400},
		{"R18", "CL underscore", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1_0\r\n\r\n", 400},
		{"R18", "CL space inside", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", 400},
		{"R18", "CL two numbers", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4 2\r\n\r\n", 400},
		{"R18", "CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
		{"R18", "CL exponent", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1e3\r\n\r\n", 400},
		{"R18", "CL 20 digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"R18", "CL 19 digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", 400},
		{"R18", "CL 18 digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\n", 200},
		{"R18", "CL leading zero is decimal", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 010\r\n\r\n", 200},
		{"R19", "CL differ", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
		{"R19", "CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400},
		{"R19", "CL identical list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", 400},
		{"R19", "CL identical fields", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
		{"R24", "no CL no TE", "POST / HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"R25", "expect other", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 200},
		{"R26", "asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R26", "asterisk with OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"R26", "authority with GET", "GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R26", "CONNECT with origin form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"R26", "CONNECT authority", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 200},
		{"R26", "CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 400},
		{"R26", "relative target", "GET foo/bar HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		// Found by FuzzNetHTTP (testdata/fuzz/FuzzNetHTTP/68b33999aa767fd2): an IP
		// literal that is no IPv6 address, which net/http takes as a host.
		{"R26", "CONNECT to an IP literal that is no address", "CONNECT [00]:00 HTTP/1.0\r\n\r\n", 400},
		{"policy", "duplicate content-type", "GET / HTTP/1.1\r\nHost: a\r\nContent-Type: a/b\r\ncontent-type: c/d\r\n\r\n", 400},
		{"partial", "incomplete head", "GET / HTTP/1.1\r\nHost: a\r\n", 0},
		{"partial", "incomplete request line", "GET / HTT", 0},
		{"partial", "only CR", "\r", 0},
	}
	for _, tc := range cases {
		t.Run(tc.rule+"/"+tc.name, func(t *testing.T) {
			_, _, err := parseAll(t, tc.raw, Limits{})
			got := statusOf(err)
			if got != tc.want {
				t.Fatalf("%q: got status %d (%v), want %d", tc.raw, got, err, tc.want)
			}
		})
	}
}

func TestRequestValues(t *testing.T) {
	raw := "\r\nPOST http://Example.com:8080/a/b?x=1&y=2 HTTP/1.1\r\n" +
		"Host: other.example\r\n" +
		"Content-Length: 010\r\n" +
		"Connection: keep-alive, Upgrade\r\n" +
		"Expect: 100-continue\r\n" +
		"X-Pad: \t value with  spaces \t\r\n" +
		"\r\nbody"
	req, n, err := parseAll(t, raw, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(raw)-4 {
		t.Errorf("head length %d, want %d", n, len(raw)-4)
	}
	checks := []struct{ name, got, want string }{
		{"method", string(req.Method), "POST"},
		{"target", string(req.Target), "http://Example.com:8080/a/b?x=1&y=2"},
		{"authority", string(req.Authority), "Example.com:8080"},
		{"path", string(req.Path), "/a/b"},
		{"query", string(req.Query), "x=1&y=2"},
		{"host", string(req.Host), "other.example"},
		{"pad", string(req.Fields[4].Value), "value with  spaces"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if req.Form != FormAbsolute || req.ContentLength != 10 || req.Chunked || req.Close ||
		!req.KeepAlive || !req.Upgrade || !req.Expect100 || req.ExpectOther || !req.HTTP11() {
		t.Errorf("derived values wrong: %+v", req)
	}
}

func TestRequestConnectionSemantics(t *testing.T) {
	cases := []struct {
		raw   string
		close bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", true},
		{"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n", true},
		{"GET / HTTP/1.0\r\n\r\n", true},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", true},
	}
	for _, c := range cases {
		req, _, err := parseAll(t, c.raw, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if req.Close != c.close {
			t.Errorf("%q: Close = %v, want %v", c.raw, req.Close, c.close)
		}
	}
}

// TestRequestLimits checks every limit at the limit and one past it.
func TestRequestLimits(t *testing.T) {
	line := func(n int) string { // a request line of exactly n bytes
		return "GET /" + strings.Repeat("a", n-14) + " HTTP/1.1"
	}
	field := func(n int) string { // a field line of exactly n bytes
		return "X: " + strings.Repeat("v", n-3)
	}
	// head builds a head of exactly n bytes from field lines of at most 60 bytes.
	head := func(n int) string {
		s := "GET / HTTP/1.1\r\n"
		for rest := n - len(s) - 2; rest > 0; {
			k := min(rest, 62)
			if rest-k > 0 && rest-k < 5 {
				k -= 5
			}
			s += field(k-2) + "\r\n"
			rest -= k
		}
		return s + "\r\n"
	}
	lim := Limits{MaxRequestLine: 100, MaxHeaderBytes: 400, MaxFieldBytes: 60, MaxFields: 5}
	cases := []struct {
		name string
		raw  string
		want int
	}{
		{"request line at limit", line(100) + "\r\nHost: a\r\n\r\n", 200},
		{"request line one past", line(101) + "\r\nHost: a\r\n\r\n", 414},
		{"request line one past, unterminated", line(101) + "\r", 414},
		{"request line at limit, unterminated", line(100) + "\r", 0},
		// A limit applies before the line end is looked at, so the status does not
		// depend on whether the end arrived in the same read (cut checks every prefix).
		{"request line one past, bare LF", line(101) + "\nHost: a\r\n\r\n", 414},
		{"request line at limit, bare LF", line(100) + "\nHost: a\r\n\r\n", 400},
		{"request line at limit plus CR, bare LF", line(100) + "\r\r\nHost: a\r\n\r\n", 414},
		{"field at limit", "GET / HTTP/1.1\r\n" + field(60) + "\r\n\r\n", 200},
		{"field one past", "GET / HTTP/1.1\r\n" + field(61) + "\r\n\r\n", 431},
		{"field one past, unterminated", "GET / HTTP/1.1\r\n" + field(61) + "\r", 431},
		{"field one past, bare LF", "GET / HTTP/1.1\r\n" + field(61) + "\n\r\n", 431},
		{"field at limit, bare LF", "GET / HTTP/1.1\r\n" + field(60) + "\n\r\n", 400},
		{"fields at limit", "GET / HTTP/1.1\r\n" + strings.Repeat("A: b\r\n", 5) + "\r\n", 200},
		{"fields one past", "GET / HTTP/1.1\r\n" + strings.Repeat("A: b\r\n", 6) + "\r\n", 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseAll(t, tc.raw, lim)
			if got := statusOf(err); got != tc.want {
				t.Fatalf("got %d (%v), want %d; len %d", got, err, tc.want, len(tc.raw))
			}
		})
	}
	// Found by FuzzParse under small limits: when a line crosses two limits, the
	// one its bytes cross first is the answer, in one read or byte by byte
	// (parseAll compares the errors, not only their statuses).
	small := Limits{MaxRequestLine: 24, MaxHeaderBytes: 64, MaxFieldBytes: 16, MaxFields: 3}
	for _, c := range []struct {
		name string
		lim  Limits
		raw  string
		want error
	}{
		{"field line crossing the head limit first", small,
			"GET / HTTP/1.1\r\nA: 0123456789ab\r\nB: 0123456789ab\r\nX: " + strings.Repeat("v", 30) + "\r\n\r\n", ErrHeaderTooLarge},
		{"field line crossing its own limit first", small,
			"GET / HTTP/1.1\r\nA: 0123456789ab\r\nX: " + strings.Repeat("v", 30) + "\r\n\r\n", ErrFieldTooLong},
		{"request line crossing the head limit first", Limits{MaxRequestLine: 100, MaxHeaderBytes: 30},
			"GET /" + strings.Repeat("a", 40) + " HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLineTooLong},
	} {
		if _, _, err := parseAll(t, c.raw, c.lim); err != c.want {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	headLim := Limits{MaxHeaderBytes: 400, MaxFieldBytes: 60}
	if h := head(400); len(h) != 400 {
		t.Fatalf("head helper made %d bytes", len(h))
	} else if _, _, err := parseAll(t, h, headLim); err != nil {
		t.Errorf("head at limit: %v", err)
	}
	if _, _, err := parseAll(t, head(401), headLim); statusOf(err) != 431 {
		t.Errorf("head one past: %v, want 431", err)
	}
	if _, _, err := parseAll(t, head(402)[:401], headLim); statusOf(err) != 431 {
		t.Errorf("head one past, unterminated: %v, want 431", err)
	}
	// The default request-line limit is 8 KiB (RFC 9112 §3 asks for at least 8000).
	ok := line(DefaultMaxRequestLine) + "\r\nHost: a\r\n\r\n"
	if _, _, err := parseAll(t, ok, Limits{}); err != nil {
		t.Errorf("8 KiB request line refused: %v", err)
	}
	long := line(DefaultMaxRequestLine+1) + "\r\nHost: a\r\n\r\n"
	if _, _, err := parseAll(t, long, Limits{}); statusOf(err) != 414 {
		t.Errorf("8 KiB + 1 request line: %v, want 414", err)
	}
}

func TestParserReuse(t *testing.T) {
	var p Parser
	req := &Request{}
	two := "GET /a HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\n"
	n, err := p.Parse([]byte(two), req)
	if err != nil || string(req.Path) != "/a" || len(req.Fields) != 2 {
		t.Fatalf("first: %v %q", err, req.Path)
	}
	m, err := p.Parse([]byte(two[n:]), req)
	if err != nil || string(req.Path) != "/b" || len(req.Fields) != 1 || m != len(two)-n {
		t.Fatalf("second: %v %q %d fields", err, req.Path, len(req.Fields))
	}
}

func TestParseAllocs(t *testing.T) {
	raw := []byte("GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n" +
		"Accept: */*\r\nConnection: keep-alive\r\n\r\n")
	var p Parser
	req := &Request{Fields: make([]Field, 0, 16)}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := p.Parse(raw, req); err != nil {
			panic(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Parse allocates %v times per request", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	raw := []byte("GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
		"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\nConnection: keep-alive\r\n\r\n")
	var p Parser
	req := &Request{}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Parse(raw, req); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleParser() {
	var p Parser
	var req Request
	buf := []byte("GET /hello?name=gatehouse HTTP/1.1\r\nHost: example.com\r\n\r\n")
	n, err := p.Parse(buf, &req)
	fmt.Println(n, err, string(req.Method), string(req.Path), string(req.Query), string(req.Host))
	// Output: 57 <nil> GET /hello name=gatehouse example.com
}
