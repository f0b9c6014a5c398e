package fcgi

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"gatehouse/internal/testutil"
)

// captures returns the golden captures in testdata: byte streams recorded
// from php-fpm and net/http/fcgi (see testdata/README).
func captures(f *testing.F) [][]byte {
	names, _ := filepath.Glob(filepath.Join("testdata", "*.fcgi"))
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzParser(f *testing.F) {
	for _, c := range captures(f) {
		f.Add(c, 1)
		f.Add(c, 7)
	}
	var s []byte
	s = AppendBeginRequest(s, 1, RoleResponder, FlagKeepConn)
	s = AppendRecord(s, TypeStdout, 1, []byte("Status: 200\r\n\r\nok"))
	s = AppendRecord(s, TypeStdout, 1, nil)
	s = AppendEndRequest(s, 1, 0, 0)
	f.Add(s, 3)
	f.Add([]byte{1, 6, 0, 1, 0, 3, 5, 0, 'a', 'b', 'c'}, 2)
	f.Fuzz(func(t *testing.T, src []byte, step int) {
		if step <= 0 || step > len(src)+1 {
			step = 1
		}
		whole, errWhole := parseAll(src, 0)
		split, errSplit := parseAll(src, step)
		if errWhole != errSplit {
			t.Fatalf("error: whole %v, split by %d %v", errWhole, step, errSplit)
		}
		if len(whole) != len(split) {
			t.Fatalf("%d records whole, %d split", len(whole), len(split))
		}
		total := 0
		for i := range whole {
			if whole[i] != split[i] {
				t.Fatalf("record %d differs", i)
			}
			total += HeaderLen + len(whole[i].content)
		}
		if total > len(src) {
			t.Fatalf("records hold %d bytes of %d", total, len(src))
		}
		if errWhole != nil && errWhole != ErrNeedMore && errWhole != ErrVersion {
			t.Fatalf("unexpected error %v", errWhole)
		}
		// Re-encoding what was read and reading it again gives the same records.
		var re []byte
		for _, r := range whole {
			re = AppendRecord(re, r.t, r.id, []byte(r.content))
		}
		again, err := parseAll(re, 0)
		if err != nil || len(again) != len(whole) {
			t.Fatalf("re-encoded: %d records, %v", len(again), err)
		}
		for i := range again {
			if again[i] != whole[i] {
				t.Fatalf("re-encoded record %d differs", i)
			}
		}
	})
}

func FuzzPairs(f *testing.F) {
	var b []byte
	b, _ = AppendPair(b, "SCRIPT_FILENAME", "/srv/www/index.php")
	b, _ = AppendPair(b, string(bytes.Repeat([]byte("N"), 128)), "v")
	f.Add(b)
	f.Add([]byte{0x80, 0, 0, 1, 1, 'a', 'b'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0})
	for _, c := range captures(f) {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		var names, values [][]byte
		err := Pairs(src, func(n, v []byte) bool {
			names, values = append(names, n), append(values, v)
			return true
		})
		if err != nil && err != ErrPairs {
			t.Fatalf("error %v", err)
		}
		var re []byte
		for i := range names {
			var err error
			re, err = AppendPair(re, string(names[i]), string(values[i]))
			if err != nil {
				t.Fatal(err)
			}
		}
		if err == nil && len(re) > len(src) {
			t.Fatalf("re-encoded %d bytes from %d", len(re), len(src))
		}
		i := 0
		if err := Pairs(re, func(n, v []byte) bool {
			if !bytes.Equal(n, names[i]) || !bytes.Equal(v, values[i]) {
				t.Fatalf("pair %d differs", i)
			}
			i++
			return true
		}); err != nil || i != len(names) {
			t.Fatalf("re-read %d of %d pairs: %v", i, len(names), err)
		}
	})
}

func FuzzHead(f *testing.F) {
	f.Add([]byte("X-Powered-By: PHP/8.2.36\r\nContent-type: text/html; charset=UTF-8\r\n\r\nhello"))
	f.Add([]byte("Status: 404 Not Found\nLocation: /x\nContent-Length: 3\n\nabc"))
	f.Add([]byte("A: 1\r\rB\r\n\r\n"))
	for _, c := range testutil.GunicornCorpus(f) {
		// The field lines of a request are field lines of a head too.
		if i := bytes.IndexByte(c.Raw, '\n'); i >= 0 {
			f.Add(c.Raw[i+1:])
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		const max = 512
		var h Head
		n, err := ParseHead(src, max, &h)
		if err != nil {
			if _, ok := err.(*Error); !ok && err != ErrNeedMore {
				t.Fatalf("error of type %T", err)
			}
			if err == ErrNeedMore && len(src) >= max {
				t.Fatalf("need more with %d bytes", len(src))
			}
			// A prefix of a refused head is refused or incomplete, never accepted.
			return
		}
		if n > max || n > len(src) || h.Status < 200 || h.Status > 599 {
			t.Fatalf("n %d status %d", n, h.Status)
		}
		// Every field is safe to send on, and writing the head out again
		// (CRLF, one field per line) parses to the same head.
		var out []byte
		out = append(out, "Status: "...)
		out = append(out, byte('0'+h.Status/100), byte('0'+h.Status/10%10), byte('0'+h.Status%10))
		out = append(out, "\r\n"...)
		for _, fl := range h.Fields {
			if bytes.ContainsAny(fl.Value, "\r\n\x00") || len(fl.Name) == 0 || bytes.ContainsAny(fl.Name, " :\r\n") {
				t.Fatalf("unsafe field %q: %q", fl.Name, fl.Value)
			}
			out = append(append(append(append(out, fl.Name...), ": "...), fl.Value...), "\r\n"...)
		}
		out = append(out, "\r\n"...)
		var h2 Head
		n2, err := ParseHead(out, len(out)+1, &h2)
		if err != nil || n2 != len(out) || h2.Status != h.Status || fieldsOf(&h2) != fieldsOf(&h) || h2.ContentLength != h.ContentLength {
			t.Fatalf("re-parse: %v %d %q vs %d %q", err, h2.Status, fieldsOf(&h2), h.Status, fieldsOf(&h))
		}
		// Any cut before the end is incomplete, never a different head.
		for _, cut := range []int{n - 1, n / 2} {
			if cut < 0 {
				continue
			}
			if _, err := ParseHead(src[:cut], max, &h2); err != ErrNeedMore {
				t.Fatalf("cut %d: %v", cut, err)
			}
		}
	})
}
