package headers

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"gatehouse/internal/httpspec"
	"gatehouse/middleware/requestid"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

func request() *web.Request {
	r := webtest.NewRequest("GET", "/a%20b?x=1", nil)
	r.Init(web.Head{Method: "GET", Target: []byte("/a%20b?x=1"), Path: []byte("/a%20b"), Query: []byte("x=1"),
		Host: []byte("example.test"), Scheme: "https", ProtoMajor: 1, ProtoMinor: 1},
		web.Conn{Remote: netip.MustParseAddrPort("[::ffff:192.0.2.7]:4321")}, web.NoBody)
	requestid.Key.Set(r, &requestid.ID{Value: "abc123"})
	return r
}

func TestParseTemplate(t *testing.T) {
	r := request()
	cases := []struct {
		in, want string
		err      error
	}{
		{"", "", nil},
		{"plain", "plain", nil},
		{"{host}", "example.test", nil},
		{"for={remote_ip}:{remote_port}", "for=192.0.2.7:4321", nil},
		{"{scheme}://{host}{uri}", "https://example.test/a%20b?x=1", nil},
		{"{method} {path} {query}", "GET /a%20b x=1", nil},
		{"id={request_id}", "id=abc123", nil},
		{"{{literal}}", "{literal}", nil},
		{"a}}b{{", "a}b{", nil},
		{"tab\there", "tab\there", nil},
		{"{nope}", "", &UnknownVarError{}},
		{"{host", "", ErrUnclosed},
		{"a}", "", ErrStray},
		{"line\nbreak", "", ErrControl},
		{"del\x7f", "", ErrControl},
		{strings.Repeat("a", MaxTemplate), strings.Repeat("a", MaxTemplate), nil},
		{strings.Repeat("a", MaxTemplate+1), "", ErrTooLong},
		{strings.Repeat("{host}", MaxVars), strings.Repeat("example.test", MaxVars), nil},
		{strings.Repeat("{host}", MaxVars+1), "", ErrTooMany},
	}
	for _, c := range cases {
		name := c.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			tpl, err := ParseTemplate(c.in)
			var uv *UnknownVarError
			switch {
			case c.err == nil && err != nil:
				t.Fatal(err)
			case c.err != nil && !errors.Is(err, c.err) && !(errors.As(c.err, &uv) && errors.As(err, &uv)):
				t.Fatalf("err %v, want %v", err, c.err)
			case c.err == nil:
				if got := string(tpl.Append(nil, r)); got != c.want {
					t.Fatalf("%q, want %q", got, c.want)
				}
			}
		})
	}
}

// FuzzParseTemplate: whatever the template, parsing does not panic, and a
// template that parses expands to a valid field value.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"{host}", "{{x}}", "{remote_ip}:{remote_port}", "{", "}", "{request_id}{uri}", "a\tb", "{{{host}}}"} {
		f.Add(s)
	}
	r := request()
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := ParseTemplate(s)
		if err != nil {
			return
		}
		v := tpl.Append(nil, r)
		for _, c := range v {
			if c < ' ' && c != '\t' || c == 0x7f {
				t.Fatalf("%q expands to %q", s, v)
			}
		}
		if len(s) > MaxTemplate {
			t.Fatalf("%d bytes parsed", len(s))
		}
		_ = httpspec.IsToken("x")
	})
}
