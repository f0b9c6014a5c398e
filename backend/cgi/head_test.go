package cgi

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseHead(t *testing.T) {
	type want struct {
		status             int
		ctype, loc, reason string
		fields             string
	}
	cases := []struct {
		name string
		out  string
		err  error
		want want
	}{
		{"document", "Content-Type: text/html\n\n<p>", nil, want{0, "text/html", "", "", ""}},
		{"CRLF", "Content-Type: text/html\r\nX-A: 1\r\n\r\nbody", nil, want{0, "text/html", "", "", "X-A=1"}},
		{"mixed line ends", "Content-Type: a\r\nX-A: 1\n\r\n", nil, want{0, "a", "", "", "X-A=1"}},
		{"status", "Status: 404 Not Found\nContent-Type: text/plain\n\n", nil, want{404, "text/plain", "", "Not Found", ""}},
		{"status without reason", "Status: 201\n\n", nil, want{201, "", "", "", ""}},
		{"case-insensitive CGI fields", "STATUS: 500 x\ncontent-type: a\nLOCATION: /x\n\n", nil, want{500, "a", "/x", "x", ""}},
		{"local redirect", "Location: /other?x=1\n\n", nil, want{0, "", "/other?x=1", "", ""}},
		{"client redirect", "Location: https://example.test/\nSet-Cookie: a=b\n\n", nil, want{0, "", "https://example.test/", "", "Set-Cookie=a=b"}},
		{"value OWS trimmed", "Content-Type:  a \t\nX-Empty:\n\n", nil, want{0, "a", "", "", "X-Empty="}},
		{"repeated other fields", "Content-Type: a\nSet-Cookie: 1\nSet-Cookie: 2\n\n", nil, want{0, "a", "", "", "Set-Cookie=1,Set-Cookie=2"}},

		{"no CGI field", "X-A: 1\n\n", errHeadNoCGI, want{}},
		{"empty head", "\n", errHeadNoCGI, want{}},
		{"no head at all", "hello world\n\n", errHeadName, want{}},
		{"space before colon", "Content-Type : a\n\n", errHeadName, want{}},
		{"empty name", ": a\n\n", errHeadName, want{}},
		{"fold", "Content-Type: a\n b\n\n", errHeadFold, want{}},
		{"bare CR in value", "Content-Type: a\rX-Injected: 1\n\n", errHeadLine, want{}},
		{"bare CR in name", "Content\r-Type: a\n\n", errHeadLine, want{}},
		{"NUL", "Content-Type: a\x00\n\n", errHeadValue, want{}},
		{"two Status", "Status: 200\nStatus: 404\n\n", errHeadDup, want{}},
		{"two Content-Type", "Content-Type: a\nContent-Type: b\n\n", errHeadDup, want{}},
		{"two Location", "Location: /a\nLocation: /b\n\n", errHeadDup, want{}},
		{"status 100", "Status: 100 Continue\n\n", errHeadStatus, want{}},
		{"status 600", "Status: 600\n\n", errHeadStatus, want{}},
		{"status word", "Status: OK\n\n", errHeadStatus, want{}},
		{"status 4 digits", "Status: 2000\n\n", errHeadStatus, want{}},
		{"status no space", "Status: 200OK\n\n", errHeadStatus, want{}},

		{"unfinished", "Content-Type: text/html\n", errNeedMore, want{}},
		{"nothing", "", errNeedMore, want{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h head
			n, err := parseHead([]byte(c.out), 1000, &h)
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if err != nil {
				if err != errNeedMore && err.(*headError).HTTPStatus() != 502 {
					t.Fatal("not 502")
				}
				return
			}
			var fields []string
			for _, f := range h.fields {
				fields = append(fields, string(f.name)+"="+string(f.value))
			}
			got := want{h.status, string(h.contentType), string(h.location), string(h.reason), strings.Join(fields, ",")}
			if got != c.want {
				t.Fatalf("got %+v\nwant %+v", got, c.want)
			}
			if !strings.HasSuffix(c.out[:n], "\n\n") && !strings.HasSuffix(c.out[:n], "\n\r\n") && c.out[:n] != "\n" {
				t.Fatalf("head length %d", n)
			}
		})
	}
}

// TestParseHeadLimit: a head of exactly the limit parses, one byte more does
// not, and an unfinished head over the limit fails without waiting for more.
func TestParseHeadLimit(t *testing.T) {
	head100 := "Content-Type: text/plain\nX-Fill: " + strings.Repeat("f", 100-25-9-1) + "\n\n"
	if len(head100) != 100 {
		t.Fatalf("fixture: %d", len(head100))
	}
	var h head
	if n, err := parseHead([]byte(head100+"body"), 100, &h); err != nil || n != 100 {
		t.Fatalf("at the limit: %d %v", n, err)
	}
	if _, err := parseHead([]byte(head100), 99, &h); err != errHeadTooLarge {
		t.Fatalf("one past: %v", err)
	}
	if _, err := parseHead([]byte(strings.Repeat("X-A: 1\n", 20)), 100, &h); err != errHeadTooLarge {
		t.Fatalf("unfinished past the limit: %v", err)
	}
	if _, err := parseHead([]byte(strings.Repeat("X-A: 1\n", 14)), 100, &h); err != errNeedMore {
		t.Fatalf("unfinished within the limit: %v", err)
	}
	many := "Content-Type: a\n" + strings.Repeat("X: 1\n", maxHeadFields)
	if _, err := parseHead([]byte(many+"\n"), 1<<20, &h); err != nil {
		t.Fatalf("fields at the limit: %v", err)
	}
	if _, err := parseHead([]byte(many+"X: 1\n\n"), 1<<20, &h); err != errHeadFields {
		t.Fatalf("fields past the limit: %v", err)
	}
}

// FuzzParseHead: no panic; the result agrees with a parse of any longer
// prefix; accepted heads carry nothing that could split a response.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/html\n\n<p>hi</p>",
		"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope",
		"Location: /local?x=1\n\n",
		"Location: http://example.test/\nStatus: 301 Moved\nContent-Type: text/html\n\nmoved",
		"Content-Type: a\n b\n\n",
		"Content-Type: a\rX: b\n\n",
		"HTTP/1.1 200 OK\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		var h head
		n, err := parseHead(out, 512, &h)
		if err != nil {
			var he *headError
			if err != errNeedMore && !errors.As(err, &he) {
				t.Fatalf("error of type %T", err)
			}
			if err == errNeedMore && len(out) > 512 {
				t.Fatal("need more past the limit")
			}
			return
		}
		if n > len(out) || n > 512 || out[n-1] != '\n' {
			t.Fatalf("head length %d of %d", n, len(out))
		}
		if h.status != 0 && (h.status < 200 || h.status > 599) {
			t.Fatalf("status %d", h.status)
		}
		for _, v := range [][]byte{h.contentType, h.location, h.reason} {
			if bytes.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("value %q", v)
			}
		}
		for _, fl := range h.fields {
			if len(fl.name) == 0 || bytes.ContainsAny(fl.name, " :\r\n") || bytes.ContainsAny(fl.value, "\r\n\x00") {
				t.Fatalf("field %q: %q", fl.name, fl.value)
			}
		}
		// The same head followed by anything parses the same.
		var h2 head
		n2, err2 := parseHead(append(out[:n:n], "tail\n\n"...), 512, &h2)
		if err2 != nil || n2 != n || h2.status != h.status || len(h2.fields) != len(h.fields) {
			t.Fatalf("with a tail: %d %v", n2, err2)
		}
	})
}
