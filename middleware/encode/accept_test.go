package encode

import (
	"strings"
	"testing"

	"gatehouse/internal/httpspec"
	"gatehouse/web"
)

func header(lines ...string) *web.Header {
	var h web.Header
	for _, l := range lines {
		h.Add("Accept-Encoding", l)
	}
	return &h
}

func TestChoose(t *testing.T) {
	all := []Coding{Zstd, Brotli, Gzip}
	cases := []struct {
		name  string
		lines []string
		order []Coding
		want  string // "" for unencoded
	}{
		{"no field", nil, all, ""},
		{"empty field", []string{""}, all, ""},
		{"browser", []string{"gzip, deflate, br, zstd"}, all, "zstd"},
		{"browser, gzip preferred by the server", []string{"gzip, deflate, br, zstd"}, []Coding{Gzip, Brotli}, "gzip"},
		{"q decides", []string{"zstd;q=0.5, gzip;q=0.8"}, all, "gzip"},
		{"q=0 refuses", []string{"zstd;q=0, br;q=0, gzip"}, all, "gzip"},
		{"all refused", []string{"zstd;q=0, br;q=0, gzip;q=0"}, all, ""},
		{"star", []string{"*"}, all, "zstd"},
		{"star with a refusal", []string{"*, zstd;q=0"}, all, "br"},
		{"x-gzip", []string{"x-gzip"}, all, "gzip"},
		{"case", []string{"GZip;Q=1"}, all, "gzip"},
		{"identity preferred", []string{"gzip;q=0.5, identity"}, all, ""},
		{"identity ties: encoded", []string{"gzip, identity"}, all, "gzip"},
		{"identity refused", []string{"gzip, identity;q=0"}, all, "gzip"},
		{"two lines", []string{"br;q=0.1", "gzip"}, all, "gzip"},
		{"named twice: the lower", []string{"gzip, gzip;q=0"}, all, ""},
		{"bad qvalue skipped", []string{"zstd;q=2, gzip"}, all, "gzip"},
		{"other parameter skipped", []string{"zstd;level=1, gzip"}, all, "gzip"},
		{"OWS", []string{" zstd ; q=0.9 ,\tgzip ;q=1 "}, all, "gzip"},
		{"unknown codings only", []string{"compress, deflate"}, all, ""},
		{"not enabled", []string{"br"}, []Coding{Gzip}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := parseAccept(header(c.lines...))
			got, ok := choose(&a, c.order)
			s := ""
			if ok {
				s = got.String()
			}
			if s != c.want {
				t.Fatalf("%q", s)
			}
		})
	}
}

// TestAcceptElementLimit: maxElems elements are read, the one past is
// ignored.
func TestAcceptElementLimit(t *testing.T) {
	filler := strings.Repeat("a, ", httpspec.MaxAcceptElements-1)
	a := parseAccept(header(filler + "gzip"))
	if _, ok := choose(&a, []Coding{Gzip}); !ok {
		t.Error("the element at the limit was ignored")
	}
	a = parseAccept(header(filler + "a, gzip"))
	if _, ok := choose(&a, []Coding{Gzip}); ok {
		t.Error("the element past the limit was read")
	}
}

func TestParseAcceptAllocs(t *testing.T) {
	h := header("gzip, deflate, br, zstd;q=0.9")
	if n := testing.AllocsPerRun(100, func() { parseAccept(h) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// FuzzParseAccept: any field parses without a panic, every weight is -1 or
// a qvalue, and a chosen coding is one offered.
func FuzzParseAccept(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "*;q=0.1, identity;q=0", "x-gzip;q=1.000", "br;q=0.", ",;,;q=", "gzip;q=0.1250"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := parseAccept(header(s))
		for _, q := range append(a.Coding[:], a.Identity, a.Star) {
			if q < -1 || q > 1000 {
				t.Fatalf("weight %d", q)
			}
		}
		if c, ok := choose(&a, []Coding{Gzip, Brotli}); ok && c != Gzip && c != Brotli {
			t.Fatalf("chose %v", c)
		}
	})
}
