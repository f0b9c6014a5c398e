package fcgi

import (
	"fmt"
	"strings"
	"testing"
)

func fieldsOf(h *Head) string {
	var b strings.Builder
	for _, f := range h.Fields {
		fmt.Fprintf(&b, "%s=%s;", f.Name, f.Value)
	}
	return b.String()
}

func TestParseHead(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		status int
		fields string
		clen   int64
		err    error
	}{
		{"php", "X-Powered-By: PHP/8.2\r\nContent-type: text/html; charset=UTF-8\r\n\r\nbody", 200,
			"X-Powered-By=PHP/8.2;Content-type=text/html; charset=UTF-8;", -1, nil},
		{"bare LF (RFC 3875 §7.2)", "Content-Type: text/plain\nX-A: 1\n\nbody", 200, "Content-Type=text/plain;X-A=1;", -1, nil},
		{"mixed line ends", "A: 1\r\nB: 2\n\r\n", 200, "A=1;B=2;", -1, nil},
		{"status with reason", "Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n", 404, "Content-Type=text/html;", -1, nil},
		{"status code only", "Status: 201\r\n\r\n", 201, "", -1, nil},
		{"status 599", "Status: 599 x\r\n\r\n", 599, "", -1, nil},
		{"location is 302 (§6.2.3)", "Location: https://example.com/\r\n\r\n", 302, "Location=https://example.com/;", -1, nil},
		{"local location is 302 too", "Location: /elsewhere\r\n\r\n", 302, "Location=/elsewhere;", -1, nil},
		{"location with status", "Status: 301\r\nLocation: /x\r\n\r\n", 301, "Location=/x;", -1, nil},
		{"status after location", "Location: /x\r\nStatus: 307 Temporary Redirect\r\n\r\n", 307, "Location=/x;", -1, nil},
		{"whitespace trimmed, tab kept inside", "X:  \ta\tb \t\r\n\r\n", 200, "X=a\tb;", -1, nil},
		{"empty value", "X-Empty:\r\n\r\n", 200, "X-Empty=;", -1, nil},
		{"obs-text value", "X: caf\xe9\r\n\r\n", 200, "X=caf\xe9;", -1, nil},
		{"no fields", "\r\nbody", 200, "", -1, nil},
		{"content-length", "Content-Length: 42\r\n\r\n", 200, "Content-Length=42;", 42, nil},
		{"identical content-lengths", "Content-Length: 5\r\ncontent-length: 5\r\n\r\n", 200, "Content-Length=5;content-length=5;", 5, nil},
		{"content-length 18 digits", "Content-Length: 999999999999999999\r\n\r\n", 200, "Content-Length=999999999999999999;", 999999999999999999, nil},

		{"need more", "Content-Type: text/html\r\n", 0, "", 0, ErrNeedMore},
		{"need more after CR", "A: 1\r", 0, "", 0, ErrNeedMore},
		{"empty input", "", 0, "", 0, ErrNeedMore},
		{"bare CR", "A: 1\rB: 2\r\n\r\n", 0, "", 0, ErrBareCR},
		{"CR CR LF", "A: 1\r\r\n\r\n", 0, "", 0, ErrBareCR},
		{"obs-fold", "A: 1\r\n  continued\r\n\r\n", 0, "", 0, ErrObsFold},
		{"leading space", " A: 1\r\n\r\n", 0, "", 0, ErrObsFold},
		{"space before colon", "A : 1\r\n\r\n", 0, "", 0, ErrFieldName},
		{"no colon", "HTTP/1.1 200 OK\r\n\r\n", 0, "", 0, ErrFieldName},
		{"empty name", ": x\r\n\r\n", 0, "", 0, ErrFieldName},
		{"NUL in value", "A: x\x00y\r\n\r\n", 0, "", 0, ErrFieldValue},
		{"DEL in value", "A: x\x7f\r\n\r\n", 0, "", 0, ErrFieldValue},
		{"status 199", "Status: 199\r\n\r\n", 0, "", 0, ErrStatus},
		{"status 100", "Status: 100 Continue\r\n\r\n", 0, "", 0, ErrStatus},
		{"status 600", "Status: 600\r\n\r\n", 0, "", 0, ErrStatus},
		{"status two digits", "Status: 20\r\n\r\n", 0, "", 0, ErrStatus},
		{"status four digits", "Status: 2000\r\n\r\n", 0, "", 0, ErrStatus},
		{"status word", "Status: OK\r\n\r\n", 0, "", 0, ErrStatus},
		{"duplicate status", "Status: 200\r\nStatus: 500\r\n\r\n", 0, "", 0, ErrDuplicateStatus},
		{"conflicting content-length", "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, "", 0, ErrContentLength},
		{"content-length list", "Content-Length: 5, 5\r\n\r\n", 0, "", 0, ErrContentLength},
		{"negative content-length", "Content-Length: -1\r\n\r\n", 0, "", 0, ErrContentLength},
		{"content-length 19 digits", "Content-Length: 1000000000000000000\r\n\r\n", 0, "", 0, ErrContentLength},
		{"empty content-length", "Content-Length:\r\n\r\n", 0, "", 0, ErrContentLength},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Head
			n, err := ParseHead([]byte(c.in), DefaultMaxHead, &h)
			if err != c.err {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if h.Status != c.status || fieldsOf(&h) != c.fields || h.ContentLength != c.clen {
				t.Fatalf("status %d fields %q length %d", h.Status, fieldsOf(&h), h.ContentLength)
			}
			if !strings.HasSuffix(c.in[:n], "\n") || strings.Contains(c.in[n:], "\n") && c.in[n:] != "" && !strings.HasPrefix(c.in[n:], "body") {
				t.Fatalf("consumed %d of %q", n, c.in)
			}
		})
	}
}

// The head bound, at the limit and one past it.
func TestParseHeadLimit(t *testing.T) {
	const max = 64
	line := "X: " + strings.Repeat("a", max-3-4) + "\r\n\r\n" // exactly max bytes
	if len(line) != max {
		t.Fatal(len(line))
	}
	var h Head
	if n, err := ParseHead([]byte(line+"body"), max, &h); err != nil || n != max {
		t.Fatalf("at the limit: %d %v", n, err)
	}
	over := "X: " + strings.Repeat("a", max-3-4+1) + "\r\n\r\n"
	if _, err := ParseHead([]byte(over), max, &h); err != ErrHeadTooLarge {
		t.Fatalf("one past: %v", err)
	}
	// Bare LF: one byte shorter at the same limit.
	if _, err := ParseHead([]byte(over[:len(over)-4]+"\n\n"), max, &h); err != nil {
		t.Fatalf("LF at the limit: %v", err)
	}
	// Incomplete, below the limit: more may come.
	if _, err := ParseHead([]byte(over[:max-1]), max, &h); err != ErrNeedMore {
		t.Fatalf("below the limit: %v", err)
	}
	// Incomplete at the limit: no more can help.
	if _, err := ParseHead([]byte(over[:max]), max, &h); err != ErrHeadTooLarge {
		t.Fatalf("incomplete at the limit: %v", err)
	}
}

func TestParseHeadReusesFields(t *testing.T) {
	var h Head
	in := []byte("A: 1\r\nB: 2\r\n\r\n")
	ParseHead(in, DefaultMaxHead, &h)
	if a := testing.AllocsPerRun(100, func() { ParseHead(in, DefaultMaxHead, &h) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}
