package httpspec

import (
	"strings"
	"testing"
)

var testCodings = []string{"zstd", "br", "gzip"}

func parse(lines ...string) AcceptEncoding {
	a := NewAcceptEncoding()
	for _, l := range lines {
		a.Parse([]byte(l), testCodings)
	}
	return a
}

func TestAcceptEncodingWeights(t *testing.T) {
	for _, c := range []struct {
		lines          []string
		zstd, br, gzip int
		identity, star int
		present        bool
	}{
		{nil, -1, -1, -1, -1, -1, false},
		{[]string{""}, -1, -1, -1, -1, -1, true},
		{[]string{"gzip, br;q=0.5"}, -1, 500, 1000, -1, -1, true},
		{[]string{"X-GZIP;Q=0.25", "ZStd"}, 1000, -1, 250, -1, -1, true},
		{[]string{"*;q=0.1, identity;q=0"}, -1, -1, -1, 0, 100, true},
		{[]string{"gzip, gzip;q=0"}, -1, -1, 0, -1, -1, true},                       // named twice: the lower
		{[]string{"br;q=1.5, br;level=1, zstd;q=0.0001"}, -1, -1, -1, -1, -1, true}, // elements that do not parse
		{[]string{" br ;\tq=0.9 ,"}, -1, 900, -1, -1, -1, true},
		{[]string{"deflate, x-zstd"}, -1, -1, -1, -1, -1, true},
	} {
		a := parse(c.lines...)
		if a.Coding[0] != c.zstd || a.Coding[1] != c.br || a.Coding[2] != c.gzip || a.Identity != c.identity || a.Star != c.star || a.Present != c.present {
			t.Errorf("%q: %+v", c.lines, a)
		}
	}
}

// MaxAcceptElements elements are read, the one past is ignored, over lines.
func TestAcceptEncodingElementLimit(t *testing.T) {
	filler := strings.Repeat("a, ", MaxAcceptElements-2)
	if a := parse(filler, "b, gzip"); a.Coding[2] != 1000 {
		t.Error("the element at the limit was ignored")
	}
	if a := parse(filler, "b, c, gzip"); a.Coding[2] != -1 {
		t.Error("the element past the limit was read")
	}
}

func TestChooseCoding(t *testing.T) {
	all := []int{0, 1, 2}
	for _, c := range []struct {
		lines []string
		order []int
		want  int // -1: unencoded
	}{
		{nil, all, -1},
		{[]string{"gzip, br, zstd"}, all, 0},
		{[]string{"gzip, br, zstd"}, []int{2, 1}, 2},
		{[]string{"*, zstd;q=0"}, all, 1},
		{[]string{"gzip;q=0.5, identity"}, all, -1},
		{[]string{"gzip, identity"}, all, 2},
		{[]string{"*;q=0"}, all, -1},
		{[]string{"br"}, []int{2}, -1},
	} {
		a := parse(c.lines...)
		got, ok := ChooseCoding(&a, c.order)
		if !ok {
			got = -1
		}
		if got != c.want {
			t.Errorf("%q %v: %d, want %d", c.lines, c.order, got, c.want)
		}
	}
}

func TestAcceptEncodingAllocs(t *testing.T) {
	line := []byte("gzip, deflate, br, zstd;q=0.9, *;q=0.1")
	if n := testing.AllocsPerRun(100, func() {
		a := NewAcceptEncoding()
		a.Parse(line, testCodings)
		ChooseCoding(&a, []int{0, 1, 2})
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{"gzip, deflate, br, zstd", "*;q=0.1, identity;q=0", "x-gzip;q=1.000", "br;q=0.", ",;,;q=", "gzip;q=0.1250"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := parse(s)
		for _, q := range append(a.Coding[:], a.Identity, a.Star) {
			if q < -1 || q > 1000 {
				t.Fatalf("weight %d", q)
			}
		}
		if c, ok := ChooseCoding(&a, []int{2, 1}); ok && c != 2 && c != 1 {
			t.Fatalf("chose %d", c)
		}
	})
}
