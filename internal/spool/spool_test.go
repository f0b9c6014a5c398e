package spool

import (
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
