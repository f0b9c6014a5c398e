package spool

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// ToFile keeps bodies up to the limit, rewound, and refuses one byte more;
// the file has no name left in the directory.
func TestToFile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		body string
		max  int64
		err  error
	}{
		{"", 0, nil},
		{"hello", 5, nil},
		{"hello!", 5, ErrTooLarge},
	} {
		f, n, err := ToFile(strings.NewReader(c.body), dir, "body-*", c.max)
		if !errors.Is(err, c.err) {
			t.Fatalf("%q max %d: %v, want %v", c.body, c.max, err, c.err)
		}
		if err != nil {
			continue
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if n != int64(len(c.body)) || string(got) != c.body {
			t.Errorf("%q: %d bytes, read back %q", c.body, n, got)
		}
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("files left in the spool directory: %v", names)
	}
}

// Spooler keeps bodies up to Memory in memory and the rest in a file with no
// name; it refuses one byte past max, wherever that byte falls, and passes
// the reader's own errors on.
func TestSpooler(t *testing.T) {
	const mem = 1024
	for _, c := range []struct {
		name    string
		size    int
		max     int64
		err     error
		inMem   bool
		readErr error
	}{
		{"empty", 0, 100, nil, true, nil},
		{"below memory", mem - 1, -1, nil, true, nil},
		{"exactly memory", mem, -1, nil, true, nil},
		{"one past memory", mem + 1, -1, nil, false, nil},
		{"large", 300 << 10, -1, nil, false, nil},
		{"at the limit, in memory", 500, 500, nil, true, nil},
		{"one past the limit, in memory", 501, 500, ErrTooLarge, false, nil},
		{"at the limit, in the file", 5000, 5000, nil, false, nil},
		{"one past the limit, in the file", 5001, 5000, ErrTooLarge, false, nil},
		{"the reader fails", 3000, -1, errBoom, false, errBoom},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := &Spooler{Memory: mem, Dir: dir}
			body := make([]byte, c.size)
			for i := range body {
				body[i] = byte(i * 7)
			}
			var r io.Reader = bytes.NewReader(body)
			if c.readErr != nil {
				r = io.MultiReader(r, errReader{c.readErr})
			}
			b, err := s.Read(r, c.max)
			if !errors.Is(err, c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if names, _ := os.ReadDir(dir); len(names) != 0 {
				t.Errorf("named files: %v", names)
			}
			if err != nil {
				return
			}
			defer b.Close()
			if b.InMemory() != c.inMem || b.Len() != int64(c.size) {
				t.Errorf("in memory %v, length %d; want %v, %d", b.InMemory(), b.Len(), c.inMem, c.size)
			}
			var got bytes.Buffer
			if _, err := io.Copy(&got, b); err != nil || !bytes.Equal(got.Bytes(), body) {
				t.Errorf("read back %d bytes (%v), want %d", got.Len(), err, len(body))
			}
			// Rewound, it reads the same bytes again, by Read and by WriteTo.
			if err := b.Rewind(); err != nil {
				t.Fatal(err)
			}
			half := make([]byte, c.size/2)
			io.ReadFull(b, half)
			if err := b.Rewind(); err != nil {
				t.Fatal(err)
			}
			got.Reset()
			if _, err := b.WriteTo(&got); err != nil || !bytes.Equal(got.Bytes(), body) {
				t.Errorf("read back after Rewind %d bytes (%v), want %d", got.Len(), err, len(body))
			}
		})
	}
}

var errBoom = errors.New("boom")

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
