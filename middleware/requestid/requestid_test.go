package requestid

import (
	"net/netip"
	"strings"
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		v  string
		ok bool
	}{
		{"abc-123_x.y:z+/=", true},
		{strings.Repeat("a", MaxLen), true},
		{strings.Repeat("a", MaxLen+1), false},
		{"", false},
		{"a b", false}, {"a\nb", false}, {`a"b`, false}, {"a,b", false}, {"é", false},
	} {
		if Check([]byte(c.v)) != c.ok {
			t.Errorf("%q: %v", c.v, !c.ok)
		}
	}
}

// TestWrap: an ID from a trusted proxy is kept; from anyone else, or
// malformed, it is replaced; the handler, the response and an error page
// carry the one that counts.
func TestWrap(t *testing.T) {
	trusted := netip.MustParsePrefix("192.0.2.0/24")
	cfg := Config{Trusted: func(peer netip.AddrPort) bool { return peer.IsValid() && trusted.Contains(peer.Addr()) }}
	var seen, field string
	h := Wrap(cfg, web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		seen, field = Get(r), r.Header.Get(DefaultField)
		if r.Path() == "/fail" {
			return web.ErrNotFound
		}
		return nil
	}))
	for _, c := range []struct {
		name, remote, sent string
		kept               bool
	}{
		{"trusted", "192.0.2.9:1", "proxy-id-1", true},
		{"untrusted", "198.51.100.1:1", "client-chosen", false},
		{"trusted, malformed", "192.0.2.9:1", "bad id", false},
		{"trusted, too long", "192.0.2.9:1", strings.Repeat("a", MaxLen+1), false},
		{"none sent", "192.0.2.9:1", "", false},
	} {
		for _, path := range []string{"/", "/fail"} {
			t.Run(c.name+path, func(t *testing.T) {
				var fields []string
				if c.sent != "" {
					fields = append(fields, DefaultField+": "+c.sent)
				}
				r := webtest.NewRequest("GET", path, nil, fields...)
				r.Init(web.Head{Method: "GET", Target: r.Target(), Path: r.RawPath(), Host: r.Host(), Scheme: "http", ProtoMajor: 1, ProtoMinor: 1},
					web.Conn{Remote: netip.MustParseAddrPort(c.remote)}, web.NoBody)
				if c.sent != "" {
					r.Header.Add(DefaultField, c.sent)
				}
				w := webtest.NewRecorder()
				webtest.Serve(h, w, r)
				if c.kept != (seen == c.sent) || len(seen) == 0 || field != seen || w.Head.Get(DefaultField) != seen {
					t.Fatalf("sent %q: handler %q (field %q), response %q", c.sent, seen, field, w.Head.Get(DefaultField))
				}
				if !c.kept && len(seen) != 32 {
					t.Fatalf("generated %q", seen)
				}
			})
		}
	}
}

// FuzzCheck: an ID Check keeps is safe in a log line and a header field.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"abc", "a b", "a\r\nb", strings.Repeat("x", MaxLen+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Check([]byte(s)) && (strings.ContainsAny(s, " \t\r\n\"\\,;{}$") || len(s) > MaxLen || s == "") {
			t.Fatalf("kept %q", s)
		}
	})
}
