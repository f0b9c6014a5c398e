package static

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// part is one range a response must carry: Content-Range and the bytes.
type part struct{ first, last int64 }

// TestRange runs Range requests through the handler against a 1000-byte file of
// bytes without a short period. want: the status; parts: the ranges of a 206,
// one for a single-part body, several for multipart/byteranges, in order.
func TestRange(t *testing.T) {
	const size = 1000
	data := pseudoRandom(size)
	E := etagOf(size, "")
	many := func(n int) string { // n disjoint one-byte ranges: 0-0, 2-2, 4-4, ...
		s := make([]string, n)
		for i := range s {
			s[i] = fmt.Sprintf("%d-%d", 2*i, 2*i)
		}
		return "bytes=" + strings.Join(s, ",")
	}
	cases := []struct {
		rule   string
		method string
		fields []string
		want   int
		parts  []part
	}{
		{"§14.1.2 int-range", "GET", []string{"Range: bytes=0-99"}, 206, []part{{0, 99}}},
		{"§14.1.2 int-range in the middle", "GET", []string{"Range: bytes=100-199"}, 206, []part{{100, 199}}},
		{"§14.1.2 one byte", "GET", []string{"Range: bytes=0-0"}, 206, []part{{0, 0}}},
		{"§14.1.2 the last byte", "GET", []string{"Range: bytes=999-999"}, 206, []part{{999, 999}}},
		{"§14.1.2 suffix-range", "GET", []string{"Range: bytes=-100"}, 206, []part{{900, 999}}},
		{"§14.1.2 suffix longer than the file: all of it", "GET", []string{"Range: bytes=-5000"}, 206, []part{{0, 999}}},
		{"§14.1.2 open int-range: the remainder", "GET", []string{"Range: bytes=900-"}, 206, []part{{900, 999}}},
		{"§14.1.2 last-pos past the end is clamped", "GET", []string{"Range: bytes=990-5000"}, 206, []part{{990, 999}}},
		{"§14.1 range units are case-insensitive", "GET", []string{"Range: Bytes=0-9"}, 206, []part{{0, 9}}},
		{"§14.6 two ranges: multipart", "GET", []string{"Range: bytes=0-9,20-29"}, 206, []part{{0, 9}, {20, 29}}},
		{"§15.3.7.2 parts in the order asked", "GET", []string{"Range: bytes=500-509, 20-29, -5"}, 206, []part{{500, 509}, {20, 29}, {995, 999}}},
		{"§5.6.1.2 empty list elements", "GET", []string{"Range: bytes=,0-9,, 20-29 ,"}, 206, []part{{0, 9}, {20, 29}}},
		{"§15.3.7.2 overlapping ranges coalesce: not multipart", "GET", []string{"Range: bytes=0-9,5-19"}, 206, []part{{0, 19}}},
		{"§15.3.7.2 adjacent ranges coalesce", "GET", []string{"Range: bytes=10-19,0-9"}, 206, []part{{0, 19}}},
		{"§15.3.7.2 a coalesced range keeps its first place", "GET", []string{"Range: bytes=500-509,0-9,5-14"}, 206, []part{{500, 509}, {0, 14}}},
		{"§14.1.1 unsatisfiable specs dropped, the rest served", "GET", []string{"Range: bytes=0-9,1000-2000"}, 206, []part{{0, 9}}},
		{"§17.15 16 ranges: at the limit", "GET", []string{"Range: " + many(16)}, 206, nil},
		{"§17.15 17 ranges: ignored", "GET", []string{"Range: " + many(17)}, 200, nil},
		{"§17.15 256 range-specs (the limit) coalescing into one", "GET", []string{"Range: bytes=" + strings.Repeat("0-0,", 255) + "0-0"}, 206, []part{{0, 0}}},
		{"§17.15 257 range-specs: ignored", "GET", []string{"Range: bytes=" + strings.Repeat("0-0,", 256) + "0-0"}, 200, nil},
		{"§17.15 ranges adding up to the file", "GET", []string{"Range: bytes=0-499,0-499"}, 206, []part{{0, 499}}},
		{"§17.15 ranges adding up to more than the file: ignored", "GET", []string{"Range: bytes=0-,0-"}, 200, nil},
		{"§15.5.17 first-pos past the end → 416", "GET", []string{"Range: bytes=1000-"}, 416, nil},
		{"§14.1.2 suffix-length 0 is unsatisfiable → 416", "GET", []string{"Range: bytes=-0"}, 416, nil},
		{"§15.5.17 no spec satisfiable → 416", "GET", []string{"Range: bytes=1000-1001, 5000-"}, 416, nil},
		{"§14.1.1 last-pos < first-pos is invalid: ignored", "GET", []string{"Range: bytes=5-1"}, 200, nil},
		{"§14.2 not a number: ignored", "GET", []string{"Range: bytes=a-b"}, 200, nil},
		{"§14.2 a sign is not a digit: ignored", "GET", []string{"Range: bytes=+1-2"}, 200, nil},
		{"§14.2 an unknown unit MUST be ignored", "GET", []string{"Range: items=0-9"}, 200, nil},
		{"§14.1.1 no '=': ignored", "GET", []string{"Range: bytes 0-9"}, 200, nil},
		{"§14.1.1 an empty range-set: ignored", "GET", []string{"Range: bytes="}, 200, nil},
		{"§14.1.1 other-range is undefined for bytes: ignored", "GET", []string{"Range: bytes=0-9,x"}, 200, nil},
		{"§14.1.1 whitespace inside a spec: ignored", "GET", []string{"Range: bytes=0 - 9"}, 200, nil},
		{"§14.2 Range is not a list: two lines ignored", "GET", []string{"Range: bytes=0-9", "Range: bytes=20-29"}, 200, nil},
		{"§14.2 HEAD: Range ignored", "HEAD", []string{"Range: bytes=0-9"}, 200, nil},
		{"§14.2 POST: 405 before any Range", "POST", []string{"Range: bytes=0-9"}, 405, nil},
		{"§13.1.5 If-Range with the current ETag", "GET", []string{"Range: bytes=0-9", "If-Range: " + E}, 206, []part{{0, 9}}},
		{"§13.1.5 If-Range with another ETag: whole file", "GET", []string{"Range: bytes=0-9", `If-Range: "old"`}, 200, nil},
		{"§13.1.5 If-Range with a weak ETag never matches", "GET", []string{"Range: bytes=0-9", "If-Range: W/" + E}, 200, nil},
		{"§13.1.5 If-Range with Last-Modified exactly", "GET", []string{"Range: bytes=0-9", "If-Range: " + testLM}, 206, []part{{0, 9}}},
		{"§13.1.5 If-Range with another date", "GET", []string{"Range: bytes=0-9", "If-Range: Wed, 15 Jan 2025 08:30:01 GMT"}, 200, nil},
		{"§13.1.5 If-Range with an rfc850 date equal to Last-Modified", "GET", []string{"Range: bytes=0-9", "If-Range: Wednesday, 15-Jan-25 08:30:00 GMT"}, 206, []part{{0, 9}}},
		{"§13.1.5 If-Range malformed: whole file", "GET", []string{"Range: bytes=0-9", "If-Range: yesterday"}, 200, nil},
		{"§13.1.5 If-Range with trailing junk", "GET", []string{"Range: bytes=0-9", "If-Range: " + E + "x"}, 200, nil},
		{"§13.1.5 If-Range failing keeps 416 away", "GET", []string{"Range: bytes=5000-", `If-Range: "old"`}, 200, nil},
		{"§13.2.2 If-None-Match before Range", "GET", []string{"Range: bytes=0-9", "If-None-Match: " + E}, 304, nil},
	}
	if len(cases) < 20 {
		t.Fatal("the range table needs at least 20 rows")
	}
	h, _ := fixture(t, Config{}, map[string]string{"data.bin": string(data)})
	for _, c := range cases {
		w := do(h, c.method, "/data.bin", c.fields...)
		if w.Code != c.want {
			t.Errorf("%s: %q: status %d, want %d", c.rule, c.fields, w.Code, c.want)
			continue
		}
		switch c.want {
		case 200:
			if w.Head.Get("Accept-Ranges") != "bytes" || w.Head.Get("Content-Length") != "1000" {
				t.Errorf("%s: 200 head %v", c.rule, w.Head)
			}
			if c.method == "GET" && !bytes.Equal(w.Body.Bytes(), data) {
				t.Errorf("%s: 200 body of %d bytes", c.rule, w.Body.Len())
			}
			if c.method == "HEAD" && w.Body.Len() != 0 {
				t.Errorf("%s: HEAD body", c.rule)
			}
		case 416:
			if got := w.Head.Get("Content-Range"); got != "bytes */1000" {
				t.Errorf("%s: 416 Content-Range %q", c.rule, got)
			}
		case 206:
			if c.parts == nil { // many(16): 16 parts 0-0, 2-2, ...
				for i := range 16 {
					c.parts = append(c.parts, part{int64(2 * i), int64(2 * i)})
				}
			}
			if err := checkPartial(w.Head.Get, w.Body.Bytes(), data, "application/octet-stream", c.parts); err != nil {
				t.Errorf("%s: %q: %v", c.rule, c.fields, err)
			}
			if w.Head.Get("ETag") != E || w.Head.Get("Last-Modified") != testLM {
				t.Errorf("%s: 206 validators %v", c.rule, w.Head)
			}
		}
	}
}

// checkPartial checks a 206: a single part with Content-Range, or a
// multipart/byteranges body read back by mime/multipart, every part's
// Content-Type, Content-Range and bytes, and Content-Length exact.
func checkPartial(get func(string) string, body, data []byte, ctype string, parts []part) error {
	size := len(data)
	if cl := get("Content-Length"); cl != strconv.Itoa(len(body)) {
		return fmt.Errorf("Content-Length %q for %d bytes", cl, len(body))
	}
	if len(parts) == 1 {
		p := parts[0]
		if cr := get("Content-Range"); cr != fmt.Sprintf("bytes %d-%d/%d", p.first, p.last, size) {
			return fmt.Errorf("Content-Range %q", cr)
		}
		if get("Content-Type") != ctype {
			return fmt.Errorf("Content-Type %q", get("Content-Type"))
		}
		if !bytes.Equal(body, data[p.first:p.last+1]) {
			return fmt.Errorf("body is not bytes %d-%d", p.first, p.last)
		}
		return nil
	}
	if get("Content-Range") != "" {
		return fmt.Errorf("multipart with a Content-Range in the head (§15.3.7.2 MUST NOT)")
	}
	mt, params, err := mime.ParseMediaType(get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" || params["boundary"] == "" {
		return fmt.Errorf("Content-Type %q: %v", get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for i, want := range parts {
		p, err := mr.NextPart()
		if err != nil {
			return fmt.Errorf("part %d: %v", i, err)
		}
		if got := p.Header.Get("Content-Type"); got != ctype {
			return fmt.Errorf("part %d Content-Type %q", i, got)
		}
		if got := p.Header.Get("Content-Range"); got != fmt.Sprintf("bytes %d-%d/%d", want.first, want.last, size) {
			return fmt.Errorf("part %d Content-Range %q", i, got)
		}
		b, err := io.ReadAll(p)
		if err != nil || !bytes.Equal(b, data[want.first:want.last+1]) {
			return fmt.Errorf("part %d: %d bytes, not %d-%d (%v)", i, len(b), want.first, want.last, err)
		}
	}
	if p, err := mr.NextPart(); err != io.EOF {
		return fmt.Errorf("more parts than %d: %v %v", len(parts), p, err)
	}
	return nil
}

func TestMultipartBoundaryIsFresh(t *testing.T) {
	h, _ := fixture(t, Config{}, map[string]string{"d": string(pseudoRandom(100))})
	a := do(h, "GET", "/d", "Range: bytes=0-1,5-6").Head.Get("Content-Type")
	b := do(h, "GET", "/d", "Range: bytes=0-1,5-6").Head.Get("Content-Type")
	if a == b || !strings.HasPrefix(a, "multipart/byteranges; boundary=") {
		t.Fatalf("%q and %q", a, b)
	}
}

func TestRangeEmptyFile(t *testing.T) {
	// §14.2: a server MAY ignore Range for a representation of zero length.
	h, _ := fixture(t, Config{}, map[string]string{"empty": ""})
	for _, rg := range []string{"bytes=0-0", "bytes=-1", "bytes=5-"} {
		w := do(h, "GET", "/empty", "Range: "+rg)
		if w.Code != 200 || w.Body.Len() != 0 || w.Head.Get("Content-Length") != "0" {
			t.Errorf("%s: %d %v", rg, w.Code, w.Head)
		}
	}
}

// TestRangeAfterSeek: each range is sent from its own offset, whatever the
// file's offset was left at by an earlier read.
func TestRangeAfterSeek(t *testing.T) {
	data := pseudoRandom(40 << 10) // above smallFile
	h, _ := fixture(t, Config{}, map[string]string{"big": string(data)})
	w := do(h, "GET", "/big", "Range: bytes=30000-30009,-10,100-109")
	if err := checkPartial(w.Head.Get, w.Body.Bytes(), data, "application/octet-stream",
		[]part{{30000, 30009}, {40950, 40959}, {100, 109}}); err != nil {
		t.Fatal(err)
	}
}

func TestSelectRanges(t *testing.T) {
	cases := []struct {
		in   string
		size int64
		res  rangeResult
		want []byteRange
	}{
		{"bytes=0-0", 1, rangeSatisfiable, []byteRange{{0, 1}}},
		{"bytes=0-", 1, rangeSatisfiable, []byteRange{{0, 1}}},
		{"bytes=-1", 1, rangeSatisfiable, []byteRange{{0, 1}}},
		{"bytes=1-", 1, rangeUnsatisfiable, nil},
		{"bytes=0-99999999999999999999", 10, rangeSatisfiable, []byteRange{{0, 10}}}, // saturates, clamps
		{"bytes=99999999999999999999-", 10, rangeUnsatisfiable, nil},
		{"bytes=-99999999999999999999", 10, rangeSatisfiable, []byteRange{{0, 10}}},
		{"bytes=0-0", 0, rangeIgnored, nil},
		{"bytes=0-1,3-4,2-2", 10, rangeSatisfiable, []byteRange{{0, 5}}},
		{"bytes=4-5,0-1", 10, rangeSatisfiable, []byteRange{{4, 2}, {0, 2}}},
		{"bytes=0-4,5-9", 10, rangeSatisfiable, []byteRange{{0, 10}}},
		{"bytes=0-9,0-0", 10, rangeIgnored, nil}, // 11 bytes of a 10-byte file
		{"bytes=0-0", math.MaxInt64, rangeSatisfiable, []byteRange{{0, 1}}},
		{"bytes=0-,0-", math.MaxInt64, rangeIgnored, nil}, // no overflow in the total
	}
	for _, c := range cases {
		got, res := selectRanges(c.in, c.size)
		if res != c.res || !slices.Equal(got, c.want) {
			t.Errorf("selectRanges(%q, %d) = %v, %d; want %v, %d", c.in, c.size, got, res, c.want, c.res)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{
		"bytes=0-99", "bytes=-100", "bytes=900-", "bytes=0-9,20-29", "bytes=5-1", "Bytes=0-0", "items=1-2",
		"bytes=", "bytes=,", "bytes=0-9,,20-29", "bytes=-0", "bytes=99999999999999999999-", "bytes=0-0,0-0,0-0",
		"bytes=" + strings.Repeat("0-0,", 300),
	} {
		f.Add(s, int64(1000))
	}
	for _, s := range corpusValues(f, "Range") {
		f.Add(s, int64(1000))
	}
	f.Fuzz(func(t *testing.T, s string, size int64) {
		specs, ok := parseRange(s)
		if ok {
			if len(specs) == 0 || len(specs) > maxRangeSpecs {
				t.Fatalf("%q: %d specs", s, len(specs))
			}
			for _, sp := range specs {
				if sp.first < -1 || sp.last < -1 || sp.first == -1 && sp.last < 0 ||
					sp.first >= 0 && sp.last >= 0 && sp.last < sp.first {
					t.Fatalf("%q: spec %+v", s, sp)
				}
			}
		}
		if size < 0 {
			size = -(size + 1)
		}
		ranges, res := selectRanges(s, size)
		switch res {
		case rangeIgnored:
			if ranges != nil {
				t.Fatalf("%q: ignored with ranges", s)
			}
		case rangeUnsatisfiable:
			if !ok || size == 0 || ranges != nil {
				t.Fatalf("%q/%d: unsatisfiable %v", s, size, ranges)
			}
		case rangeSatisfiable:
			if !ok || len(ranges) == 0 || len(ranges) > maxRanges {
				t.Fatalf("%q/%d: %d ranges", s, size, len(ranges))
			}
			sorted := slices.Clone(ranges)
			slices.SortFunc(sorted, func(a, b byteRange) int { return int(min(max(a.start-b.start, -1), 1)) })
			var total int64
			for i, r := range sorted {
				if r.start < 0 || r.length <= 0 || r.end() > size {
					t.Fatalf("%q/%d: range %+v outside the file", s, size, r)
				}
				if i > 0 && r.start <= sorted[i-1].end() {
					t.Fatalf("%q/%d: %+v and %+v overlap or touch", s, size, sorted[i-1], r)
				}
				total += r.length
			}
			if total > size {
				t.Fatalf("%q/%d: %d bytes in ranges", s, size, total)
			}
		}
	})
}
