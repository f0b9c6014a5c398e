package cookie

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppend(t *testing.T) {
	long := func(n int) string { return strings.Repeat("v", n) }
	for _, c := range []struct {
		name string
		c    Cookie
		want string
		err  error
	}{
		{"defaults", New("__Host-gh_session", "abc"), "__Host-gh_session=abc; Path=/; Secure; HttpOnly; SameSite=Lax", nil},
		{"plain", Cookie{Name: "a", Value: "1"}, "a=1", nil},
		{"empty value", Cookie{Name: "a"}, "a=", nil},
		{"delete", Cookie{Name: "a", MaxAge: -1, Path: "/"}, "a=; Path=/; Max-Age=0", nil},
		{"max-age", Cookie{Name: "a", Value: "1", MaxAge: 90 * time.Minute}, "a=1; Max-Age=5400", nil},
		{"max-age at 400 days", Cookie{Name: "a", Value: "1", MaxAge: MaxAge}, "a=1; Max-Age=34560000", nil},
		{"max-age past 400 days is capped", Cookie{Name: "a", Value: "1", MaxAge: MaxAge + time.Hour}, "a=1; Max-Age=34560000", nil},
		{"strict, domain, partitioned", Cookie{Name: "a", Value: "1", Domain: "example.com", Secure: true, SameSite: SameSiteStrict, Partitioned: true},
			"a=1; Domain=example.com; Secure; SameSite=Strict; Partitioned", nil},
		{"none with secure", Cookie{Name: "a", Value: "1", Secure: true, SameSite: SameSiteNone}, "a=1; Secure; SameSite=None", nil},
		{"none without secure", Cookie{Name: "a", Value: "1", SameSite: SameSiteNone}, "", ErrSameSite},

		{"name with a space", Cookie{Name: "a b", Value: "1"}, "", ErrName},
		{"name with '='", Cookie{Name: "a=b", Value: "1"}, "", ErrName},
		{"empty name", Cookie{Value: "1"}, "", ErrName},
		{"value with ';'", Cookie{Name: "a", Value: "1; Domain=evil"}, "", ErrValue},
		{"value with a space", Cookie{Name: "a", Value: "1 2"}, "", ErrValue},
		{"value with a comma", Cookie{Name: "a", Value: "1,2"}, "", ErrValue},
		{"value with a quote", Cookie{Name: "a", Value: `"1"`}, "", ErrValue},
		{"value with a newline", Cookie{Name: "a", Value: "1\r\nSet-Cookie: x=1"}, "", ErrValue},
		{"value not ASCII", Cookie{Name: "a", Value: "caf\xc3\xa9"}, "", ErrValue},
		{"path with ';'", Cookie{Name: "a", Path: "/; Domain=evil"}, "", ErrAttribute},
		{"domain with a newline", Cookie{Name: "a", Domain: "a\nb"}, "", ErrAttribute},

		// The 4096-byte limit on name and value together, and one past.
		{"4096 bytes", Cookie{Name: "a", Value: long(MaxCookie - 1)}, "a=" + long(MaxCookie-1), nil},
		{"4097 bytes", Cookie{Name: "a", Value: long(MaxCookie)}, "", ErrTooLong},
		// An attribute of 1024 bytes, and one past.
		{"path of 1024", Cookie{Name: "a", Path: "/" + long(MaxAttribute-1)}, "a=; Path=/" + long(MaxAttribute-1), nil},
		{"path of 1025", Cookie{Name: "a", Path: "/" + long(MaxAttribute)}, "", ErrAttribute},

		// Prefixes, in any case (RFC 6265bis §4.1.3).
		{"__Host- without Secure", Cookie{Name: "__Host-a", Path: "/"}, "", ErrPrefix},
		{"__Host- with another path", Cookie{Name: "__Host-a", Path: "/x", Secure: true}, "", ErrPrefix},
		{"__Host- without a path", Cookie{Name: "__Host-a", Secure: true}, "", ErrPrefix},
		{"__Host- with a domain", Cookie{Name: "__Host-a", Path: "/", Domain: "example.com", Secure: true}, "", ErrPrefix},
		{"__HOST- without Secure", Cookie{Name: "__HOST-a", Path: "/"}, "", ErrPrefix},
		{"__host- without Secure", Cookie{Name: "__host-a", Path: "/"}, "", ErrPrefix},
		{"__Secure- without Secure", Cookie{Name: "__Secure-a"}, "", ErrPrefix},
		{"__sEcUrE- without Secure", Cookie{Name: "__sEcUrE-a"}, "", ErrPrefix},
		{"__Secure- with Secure", Cookie{Name: "__Secure-a", Secure: true, Domain: "example.com", Path: "/x"}, "__Secure-a=; Path=/x; Domain=example.com; Secure", nil},
		{"_Host- is no prefix", Cookie{Name: "_Host-a"}, "_Host-a=", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.c.Append([]byte("x"))
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if err != nil {
				if string(got) != "x" || c.c.String() != "" {
					t.Fatalf("a refused cookie appended %q", got)
				}
				return
			}
			if string(got[1:]) != c.want || c.c.String() != c.want {
				t.Fatalf("got %q\nwant %q", got[1:], c.want)
			}
		})
	}
}

func TestPrefixOf(t *testing.T) {
	for name, want := range map[string]Prefix{
		"__Host-a": PrefixHost, "__host-": PrefixHost, "__HOST-x": PrefixHost, "__Host": PrefixNone, "__Host_a": PrefixNone,
		"__Secure-a": PrefixSecure, "__SECURE-": PrefixSecure, "__Secure": PrefixNone, "a": PrefixNone, "": PrefixNone,
		" __Host-a": PrefixNone,
	} {
		if got := PrefixOf(name); got != want {
			t.Errorf("PrefixOf(%q) = %d, want %d", name, got, want)
		}
	}
}

func TestParseSameSite(t *testing.T) {
	for in, want := range map[string]SameSite{"lax": SameSiteLax, "Strict": SameSiteStrict, "NONE": SameSiteNone} {
		if got, ok := ParseSameSite(in); !ok || got != want {
			t.Errorf("ParseSameSite(%q) = %d %v", in, got, ok)
		}
	}
	if _, ok := ParseSameSite("loose"); ok {
		t.Error("loose accepted")
	}
}

// FuzzAppend: whatever the cookie, Append either refuses it or writes one
// field value that a parser reads back as the same name and value with
// nothing injected: no control byte, and no attribute it was not given.
func FuzzAppend(f *testing.F) {
	f.Add("__Host-gh_session", "abc", "/", "", int64(0), true, true, uint8(1))
	f.Add("a", "1; Domain=evil", "/", "", int64(-1), false, false, uint8(0))
	f.Add("__secure-x", "v", "/p", "example.com", int64(1<<40), true, false, uint8(3))
	f.Add("a", "b", "/;x", "\n", int64(5), false, true, uint8(2))
	f.Fuzz(func(t *testing.T, name, value, path, domain string, maxAge int64, secure, httpOnly bool, sameSite uint8) {
		c := Cookie{Name: name, Value: value, Path: path, Domain: domain, MaxAge: time.Duration(maxAge),
			Secure: secure, HttpOnly: httpOnly, SameSite: SameSite(sameSite % 4)}
		b, err := c.Append(nil)
		if err != nil {
			return
		}
		s := string(b)
		for _, ch := range []byte(s) {
			if ch < 0x20 || ch == 0x7f {
				t.Fatalf("%q holds a control byte", s)
			}
		}
		parts := strings.Split(s, "; ")
		n, v, ok := strings.Cut(parts[0], "=")
		if !ok || n != name || v != value {
			t.Fatalf("%q reads back as %q=%q", s, n, v)
		}
		want := 0
		for _, set := range []bool{path != "", domain != "", maxAge != 0, secure, httpOnly, c.SameSite != SameSiteDefault} {
			if set {
				want++
			}
		}
		if len(parts)-1 != want {
			t.Fatalf("%q has %d attributes, want %d", s, len(parts)-1, want)
		}
		if len(name)+len(value) > MaxCookie {
			t.Fatalf("%d bytes sent", len(name)+len(value))
		}
		if PrefixOf(name) == PrefixHost && (!secure || path != "/" || domain != "") {
			t.Fatalf("%q breaks the __Host- rules", s)
		}
	})
}
