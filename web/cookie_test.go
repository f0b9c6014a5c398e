package web_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unsafe"

	"gatehouse/internal/testutil"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

// cookieRequest is a request with one Cookie field per value.
func cookieRequest(fields ...string) *web.Request {
	r := webtest.NewRequest("GET", "/", nil)
	for _, f := range fields {
		r.Header.Add("Cookie", f)
	}
	return r
}

// cookiePairs lists what Cookies yields, as "name=value".
func cookiePairs(r *web.Request) []string {
	var out []string
	for n, v := range r.Cookies() {
		out = append(out, string(n)+"="+string(v))
	}
	return out
}

func TestCookies(t *testing.T) {
	cases := []struct {
		name   string
		fields []string
		want   []string // what Cookies yields, "name=value"
	}{
		{"one", []string{"a=1"}, []string{"a=1"}},
		{"two", []string{"a=1; b=2"}, []string{"a=1", "b=2"}},
		{"no space after ';'", []string{"a=1;b=2"}, []string{"a=1", "b=2"}},
		{"whitespace trimmed", []string{"  a = 1  ;\tb=2\t; c =3"}, []string{"a=1", "b=2", "c=3"}},
		{"empty pairs skipped", []string{";; a=1 ; ;b=2;"}, []string{"a=1", "b=2"}},
		{"empty field", []string{""}, nil},
		{"only separators", []string{" ; ;\t;"}, nil},
		{"empty value", []string{"a=; b=2"}, []string{"a=", "b=2"}},
		{"value with '='", []string{"a=b=c; d=="}, []string{"a=b=c", "d=="}},
		{"space and comma inside a value", []string{"a=1 2; b=3,4"}, []string{"a=1 2", "b=3,4"}},
		{"base64 and a prefix", []string{"__Host-id=QUJD+/9=; __Secure-x=1"}, []string{"__Host-id=QUJD+/9=", "__Secure-x=1"}},

		// RFC 6265bis: a pair without '=' is a nameless cookie.
		{"nameless", []string{"a"}, nil},
		{"nameless among others", []string{"a; b=2; c"}, []string{"b=2"}},
		{"empty name", []string{"=1; b=2"}, []string{"b=2"}},
		{"blank name", []string{" =1; b=2"}, []string{"b=2"}},

		// Quoted values (RFC 6265 §4.1.1): one pair of quotes removed.
		{"quoted", []string{`a="1"`}, []string{"a=1"}},
		{"quoted empty", []string{`a=""`}, []string{"a="}},
		{"quoted, spaced", []string{`a= "1" ; b = "2"`}, []string{"a=1", "b=2"}},
		{"quoted with a space", []string{`a=" 1 "`}, []string{"a= 1 "}},
		{"lone quote", []string{`a="; b=2`}, []string{"b=2"}},
		{"open quote", []string{`a="1; b=2`}, []string{"b=2"}},
		{"close quote", []string{`a=1"; b=2`}, []string{"b=2"}},
		{"quote inside", []string{`a="1"2"; b=2`}, []string{"b=2"}},
		{"double quotes", []string{`a=""1""; b=2`}, []string{"b=2"}},

		// Bytes a value may not hold: the pair is skipped, the rest read.
		{"backslash", []string{`a=1\2; b=2`}, []string{"b=2"}},
		{"non-ASCII", []string{"a=caf\xc3\xa9; b=2"}, []string{"b=2"}},
		{"DEL", []string{"a=1\x7f; b=2"}, []string{"b=2"}},
		{"control", []string{"a=1\x01; b=2"}, []string{"b=2"}},
		{"tab inside", []string{"a=1\t2; b=2"}, []string{"b=2"}},

		// Names are tokens (RFC 9110 §5.6.2).
		{"space in name", []string{"a b=1; c=2"}, []string{"c=2"}},
		{"separator in name", []string{"a:b=1; a/b=2; a(b)=3; c=4"}, []string{"c=4"}},
		{"quote in name", []string{`"a"=1; c=2`}, []string{"c=2"}},
		{"non-ASCII name", []string{"caf\xc3\xa9=1; c=2"}, []string{"c=2"}},

		// Several fields read as one, joined with "; ".
		{"two fields", []string{"a=1", "b=2; c=3"}, []string{"a=1", "b=2", "c=3"}},
		{"pair never spans fields", []string{"a=1; b", "=2"}, []string{"a=1"}},
		{"duplicates kept in order", []string{"a=1; a=2", "a=3"}, []string{"a=1", "a=2", "a=3"}},
	}
	agreed := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cookiePairs(cookieRequest(c.fields...))
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Fatalf("%q: got %q, want %q", c.fields, got, c.want)
			}
			if !cookieRulesAgree(c.fields...) {
				return
			}
			agreed++
			var ref []string
			for _, ck := range (&http.Request{Header: http.Header{"Cookie": c.fields}}).Cookies() {
				ref = append(ref, ck.Name+"="+ck.Value)
			}
			if strings.Join(got, "|") != strings.Join(ref, "|") {
				t.Fatalf("%q: net/http reads %q", c.fields, ref)
			}
		})
	}
	if agreed < len(cases)/2 {
		t.Fatalf("only %d of %d cases compared with net/http", agreed, len(cases))
	}
}

func TestCookie(t *testing.T) {
	r := cookieRequest("xsession=1; session2=2; Session=3; sess=4", "session=5; session=6")
	r.Header.Add("Set-Cookie", "session=7")
	r.Header.Add("Cookie2", "session=8")
	cases := []struct {
		name, want string
		ok         bool
	}{
		{"session", "5", true}, // exact, case-sensitive, the first one, across fields
		{"Session", "3", true},
		{"xsession", "1", true},
		{"session2", "2", true},
		{"sess", "4", true},
		{"SESSION", "", false},
		{"ession", "", false},
		{"session ", "", false},
		{"", "", false},
		{"xsession=1", "", false},
	}
	for _, c := range cases {
		v, ok := r.Cookie(c.name)
		if ok != c.ok || string(v) != c.want {
			t.Errorf("Cookie(%q) = %q, %v; want %q, %v", c.name, v, ok, c.want, c.ok)
		}
	}
	// A field named in another case is a Cookie field all the same.
	r = webtest.NewRequest("GET", "/", nil, "cookie: a=1")
	if v, ok := r.Cookie("a"); !ok || string(v) != "1" {
		t.Fatalf("lower-case field: %q %v", v, ok)
	}
	if v, ok := webtest.NewRequest("GET", "/", nil).Cookie("a"); ok || v != nil {
		t.Fatalf("no Cookie field: %q %v", v, ok)
	}
	// An empty value is there, and empty.
	if v, ok := cookieRequest("a=").Cookie("a"); !ok || len(v) != 0 {
		t.Fatalf("empty value: %q %v", v, ok)
	}
}

// Names and values are views into the header, and reading them allocates
// nothing.
func TestCookieViews(t *testing.T) {
	r := cookieRequest("theme=dark; session=abc; csrf=\"tok\"")
	v, _ := r.Cookie("session")
	field := r.Header.Peek("Cookie")
	field[bytes.Index(field, []byte("abc"))] = 'X'
	if string(v) != "Xbc" {
		t.Fatalf("value %q is not a view into the field", v)
	}
	if a := testing.AllocsPerRun(100, func() {
		if v, ok := r.Cookie("csrf"); !ok || string(v) != "tok" {
			t.Fatal("csrf")
		}
		if _, ok := r.Cookie("missing"); ok {
			t.Fatal("missing")
		}
		n := 0
		for range r.Cookies() {
			n++
		}
		if n != 3 {
			t.Fatal(n)
		}
	}); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

// within reports whether part lies inside one of fields.
func within(part []byte, fields [][]byte) bool {
	if len(part) == 0 {
		return true
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(part)))
	for _, f := range fields {
		o := uintptr(unsafe.Pointer(unsafe.SliceData(f)))
		if p >= o && p+uintptr(len(part)) <= o+uintptr(len(f)) {
			return true
		}
	}
	return false
}

// cookieRulesAgree reports whether net/http reads fields by the same rules
// as web (see cookie.go for where they part): no CR or LF, every pair with
// '=', no whitespace just after it, and within net/http's count limit.
func cookieRulesAgree(fields ...string) bool {
	pairs := 0
	for _, f := range fields {
		if strings.ContainsAny(f, "\r\n") {
			return false
		}
		for _, part := range strings.Split(f, ";") {
			pairs++
			part = strings.Trim(part, " \t")
			if part == "" {
				continue
			}
			_, v, ok := strings.Cut(part, "=")
			if !ok || strings.HasPrefix(v, " ") || strings.HasPrefix(v, "\t") {
				return false
			}
		}
	}
	return pairs <= 3000
}

// FuzzCookie: whatever the fields, every cookie read has a token name and a
// valid value inside the fields, Cookie finds the first of each name, and
// where their rules agree net/http's Request.Cookies reads the same pairs.
func FuzzCookie(f *testing.F) {
	for _, c := range testutil.GunicornCorpus(f) {
		for _, line := range strings.Split(string(c.Raw), "\r\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "Cookie") {
				f.Add(strings.TrimSpace(value), "", "sessionid")
			}
		}
	}
	for _, s := range [][3]string{
		{"a=1; b=2", "", "a"},
		{"a=1;b=2", "c=3", "c"},
		{"  a = 1  ;\tb=2\t", "", "b"},
		{"a", "b=2", "a"},
		{"a=\"1\"", "a=\"\"", "a"},
		{"a= \"1\"", "", "a"},
		{"a=\"", "a=1\"", "a"},
		{"a=1\\2; a=caf\xc3\xa9", "a=\x7f", "a"},
		{"a b=1; a:b=2", "=3", ""},
		{"xsession=1; Session=2", "session=3", "session"},
		{"a=1\r; b=2\n", "", "b"},
		{"__Host-id=QUJD+/9=", "", "__Host-id"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, f1, f2, name string) {
		r := cookieRequest(f1, f2)
		var fields [][]byte
		for v := range r.Header.Values("Cookie") {
			fields = append(fields, v)
		}
		first := map[string]string{}
		var got []string
		for n, v := range r.Cookies() {
			if !within(n, fields) || !within(v, fields) {
				t.Fatalf("%q=%q is not a view into the fields", n, v)
			}
			if len(n) == 0 || bytes.ContainsFunc(n, func(c rune) bool { return c <= ' ' || c >= 0x7f || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c) }) {
				t.Fatalf("name %q is not a token", n)
			}
			if bytes.ContainsFunc(v, func(c rune) bool { return c < ' ' || c >= 0x7f || c == '"' || c == ';' || c == '\\' }) {
				t.Fatalf("value %q of %q has a byte no cookie value holds", v, n)
			}
			if _, seen := first[string(n)]; !seen {
				first[string(n)] = string(v)
			}
			got = append(got, fmt.Sprintf("%q=%q", n, v))
		}
		for n, want := range first {
			if v, ok := r.Cookie(n); !ok || string(v) != want {
				t.Fatalf("Cookie(%q) = %q, %v; the first read was %q", n, v, ok, want)
			}
		}
		want, present := first[name]
		if v, ok := r.Cookie(name); ok != present || string(v) != want {
			t.Fatalf("Cookie(%q) = %q, %v; want %q, %v", name, v, ok, want, present)
		}

		if !cookieRulesAgree(f1, f2) {
			return
		}
		var ref []string
		for _, c := range (&http.Request{Header: http.Header{"Cookie": {f1, f2}}}).Cookies() {
			ref = append(ref, fmt.Sprintf("%q=%q", c.Name, c.Value))
		}
		if strings.Join(got, " ") != strings.Join(ref, " ") {
			t.Fatalf("fields %q %q:\nweb      %s\nnet/http %s", f1, f2, got, ref)
		}
	})
}
