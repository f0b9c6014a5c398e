package static

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
	"gatehouse/web/webtest"
)

// The fixed clock of the unit tests, and the modification time every fixture
// file gets (with nanoseconds, which the ETag keeps and Last-Modified drops).
var (
	testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	testMod = time.Date(2025, 1, 15, 8, 30, 0, 123456789, time.UTC)
	testLM  = "Wed, 15 Jan 2025 08:30:00 GMT" // testMod as Last-Modified
)

// fixture writes files (name → content; a name ending in "/" is a directory)
// under a fresh root, gives them all testMod, and returns a handler for cfg with
// that root and the test clock.
func fixture(t *testing.T, cfg Config, files map[string]string) (*Handler, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		touch(t, p, testMod)
	}
	cfg.Root = root
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	h.now = func() time.Time { return testNow }
	return h, root
}

func touch(t *testing.T, path string, mod time.Time) {
	t.Helper()
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

// do serves one request to h without a server; fields are "Name: value".
func do(h *Handler, method, target string, fields ...string) *webtest.Recorder {
	w := webtest.NewRecorder()
	webtest.Serve(h, w, webtest.NewRequest(method, target, nil, fields...))
	return w
}

// etagOf is the ETag the handler gives a fixture file of n bytes.
func etagOf(n int, suffix string) string {
	if suffix != "" {
		suffix = "-" + suffix
	}
	return fmt.Sprintf(`"%x-%x%s"`, testMod.UnixNano(), n, suffix)
}

// pseudoRandom returns n bytes that do not repeat with any short period, so
// that a range sent from a wrong offset cannot match by accident.
func pseudoRandom(n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{1, 2, 3})
	r.Read(b)
	return b
}

// corpusValues returns the values of the named fields in the gunicorn request
// corpus, as fuzz seeds.
func corpusValues(f *testing.F, names ...string) []string {
	var out []string
	for _, c := range testutil.GunicornCorpus(f) {
		for _, r := range c.Requests {
			for _, h := range r.Headers {
				for _, n := range names {
					if len(h) == 2 && strings.EqualFold(h[0], n) {
						out = append(out, string(testutil.Latin1(h[1])))
					}
				}
			}
		}
	}
	return out
}
