package static

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a movable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func cached(t *testing.T, cfg Config, files map[string]string) (*Handler, string, *clock) {
	h, root := fixture(t, cfg, files)
	c := &clock{t: testNow}
	h.now = c.now
	return h, root, c
}

func TestCacheServesWithinValidity(t *testing.T) {
	h, root, clk := cached(t, Config{CacheValid: time.Second}, map[string]string{"a.txt": "first", "big.bin": strings.Repeat("b", 20000)})
	if w := do(h, "GET", "/a.txt"); w.Body.String() != "first" {
		t.Fatalf("%q", w.Body.String())
	}
	if h.cache.m["/a.txt"] == nil || h.cache.m["/a.txt"].data == nil {
		t.Fatal("small file not cached with its contents")
	}
	do(h, "GET", "/big.bin")
	if e := h.cache.m["/big.bin"]; e == nil || e.data != nil {
		t.Fatal("large file: metadata cached, contents not")
	}

	// Removed from disk: served from the cache within the validity, then 404.
	os.Remove(filepath.Join(root, "a.txt"))
	if w := do(h, "GET", "/a.txt"); w.Code != 200 || w.Body.String() != "first" {
		t.Fatalf("within validity: %d %q", w.Code, w.Body.String())
	}
	clk.add(1500 * time.Millisecond)
	if w := do(h, "GET", "/a.txt"); w.Code != 404 {
		t.Fatalf("after validity: %d", w.Code)
	}
	if h.cache.m["/a.txt"] != nil {
		t.Fatal("stale entry kept")
	}
}

func TestCacheSeesChanges(t *testing.T) {
	h, root, clk := cached(t, Config{}, map[string]string{"a.txt": "aaaa", "out/secret.txt": "no"})
	first := do(h, "GET", "/a.txt")
	// Same size, new contents and time: revalidation notices the time.
	p := filepath.Join(root, "a.txt")
	os.WriteFile(p, []byte("bbbb"), 0o644)
	touch(t, p, testMod.Add(time.Hour))
	clk.add(2 * time.Second)
	second := do(h, "GET", "/a.txt")
	if second.Body.String() != "bbbb" || second.Head.Get("ETag") == first.Head.Get("ETag") {
		t.Fatalf("change not seen: %q %q", second.Body.String(), second.Head.Get("ETag"))
	}
	// Replaced by a symlink leading out of the root: refused once revalidated.
	secret := filepath.Join(filepath.Dir(root), "secret.txt")
	os.WriteFile(secret, []byte("SECRET"), 0o644)
	os.Remove(p)
	os.Symlink(secret, p)
	clk.add(2 * time.Second)
	if w := do(h, "GET", "/a.txt"); w.Code != 404 || strings.Contains(w.Body.String(), "SECRET") {
		t.Fatalf("escaping symlink served: %d %q", w.Code, w.Body.String())
	}
}

func TestCachePreconditionsAndHead(t *testing.T) {
	h, _, _ := cached(t, Config{CacheControl: "max-age=60"}, map[string]string{"a.txt": "hello"})
	do(h, "GET", "/a.txt") // fill
	etag := etagOf(5, "")
	cases := []struct {
		method string
		fields []string
		status int
		body   string
	}{
		{"GET", nil, 200, "hello"},
		{"HEAD", nil, 200, ""},
		{"GET", []string{"If-None-Match: " + etag}, 304, ""},
		{"GET", []string{"If-Match: \"other\""}, 412, ""},
		{"GET", []string{"If-Modified-Since: " + testLM}, 304, ""},
		{"GET", []string{"Range: bytes=1-2"}, 206, "el"}, // ranges take the full path
	}
	for _, c := range cases {
		w := do(h, c.method, "/a.txt", c.fields...)
		if w.Code != c.status || c.body != "" && w.Body.String() != c.body {
			t.Errorf("%s %v: %d %q", c.method, c.fields, w.Code, w.Body.String())
		}
		if c.status == 200 || c.status == 304 {
			if w.Head.Get("ETag") != etag || w.Head.Get("Last-Modified") != testLM || w.Head.Get("Cache-Control") != "max-age=60" {
				t.Errorf("%s %v: validators %v", c.method, c.fields, w.Head)
			}
		}
		if c.status == 200 && (w.Head.Get("Content-Length") != "5" || w.Head.Get("Content-Type") != "text/plain; charset=utf-8") {
			t.Errorf("head fields %v", w.Head)
		}
	}
}

func TestCacheBounded(t *testing.T) {
	files := map[string]string{}
	for i := range 20 {
		files[strings.Repeat("x", i+1)+".txt"] = strings.Repeat("d", 1000)
	}
	h, _, _ := cached(t, Config{CacheMaxBytes: 5000}, files)
	for name := range files {
		do(h, "GET", "/"+name)
	}
	if h.cache.bytes > 5000 || len(h.cache.m) > 5 {
		t.Fatalf("cache holds %d bytes in %d entries", h.cache.bytes, len(h.cache.m))
	}
	total := int64(0)
	for _, e := range h.cache.m {
		total += int64(len(e.data))
	}
	if total != h.cache.bytes {
		t.Fatalf("accounting: %d vs %d", total, h.cache.bytes)
	}
}

func TestCacheOff(t *testing.T) {
	h, root, _ := cached(t, Config{CacheValid: -1}, map[string]string{"a.txt": "one"})
	do(h, "GET", "/a.txt")
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("two"), 0o644)
	if w := do(h, "GET", "/a.txt"); w.Body.String() != "two" || h.cache != nil {
		t.Fatalf("%q", w.Body.String())
	}
}

func TestCacheConcurrent(t *testing.T) {
	files := map[string]string{}
	for i := range 8 {
		files[string(rune('a'+i))+".txt"] = strings.Repeat(string(rune('a'+i)), 100)
	}
	h, _, clk := cached(t, Config{CacheValid: time.Millisecond}, files)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				name := string(rune('a'+(g+i)%8)) + ".txt"
				w := do(h, "GET", "/"+name)
				if w.Body.String() != files[name] {
					t.Errorf("%s: %q", name, w.Body.String())
					return
				}
				if i%50 == 0 {
					clk.add(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// Large files keep a descriptor in the cache: served after deletion within the
// validity (as nginx's open_file_cache does), closed after their last user, and
// all of them closed by Close.
func TestCacheDescriptors(t *testing.T) {
	before := openFDs(t)
	big := strings.Repeat("0123456789", 5000)
	h, root, clk := cached(t, Config{}, map[string]string{"a.bin": big, "b.bin": big, "c.bin": big})
	for _, n := range []string{"a", "b", "c"} {
		if w := do(h, "GET", "/"+n+".bin"); w.Body.String() != big {
			t.Fatalf("%s: %d bytes", n, w.Body.Len())
		}
	}
	if h.cache.files != 3 || openFDs(t) != before+4 { // three files and the root
		t.Fatalf("files %d, descriptors %d (before %d)", h.cache.files, openFDs(t), before)
	}
	os.Remove(filepath.Join(root, "a.bin"))
	if w := do(h, "GET", "/a.bin"); w.Body.String() != big {
		t.Fatal("cached descriptor not used")
	}

	// A user holding the entry keeps its descriptor through removal.
	e := h.cache.get(h, []byte("/b.bin"), clk.now())
	if e == nil || e.refs.Load() != 2 {
		t.Fatalf("get did not acquire: %+v", e)
	}
	h.cache.remove("/b.bin", e)
	buf := make([]byte, 10)
	if _, err := e.f.ReadAt(buf, 0); err != nil {
		t.Fatalf("descriptor closed under its user: %v", err)
	}
	e.release()
	if _, err := e.f.ReadAt(buf, 0); err == nil {
		t.Fatal("descriptor still open after its last user")
	}
	if e2 := h.cache.get(h, []byte("/b.bin"), clk.now()); e2 != nil {
		t.Fatal("removed entry served")
	}

	// Revalidation drops the deleted file's entry and closes its descriptor.
	clk.add(2 * time.Second)
	if w := do(h, "GET", "/a.bin"); w.Code != 404 {
		t.Fatalf("deleted file after validity: %d", w.Code)
	}
	h.Close()
	if n := openFDs(t); n != before {
		t.Fatalf("%d descriptors left open by Close", n-before)
	}
}

func TestCacheDescriptorBound(t *testing.T) {
	files := map[string]string{}
	for i := range 10 {
		files[strings.Repeat("f", i+1)] = strings.Repeat("x", 20000)
	}
	h, _, _ := cached(t, Config{}, files)
	h.cache.maxFiles = 3
	for name := range files {
		do(h, "GET", "/"+name)
	}
	if h.cache.files > 3 {
		t.Fatalf("%d descriptors held", h.cache.files)
	}
	open := 0
	for _, e := range h.cache.m {
		if e.f != nil {
			open++
		}
	}
	if open != h.cache.files {
		t.Fatalf("accounting: %d vs %d", open, h.cache.files)
	}
}

func TestCacheConcurrentLarge(t *testing.T) {
	big := strings.Repeat("abcdefgh", 4000)
	h, _, clk := cached(t, Config{CacheValid: time.Millisecond}, map[string]string{"a.bin": big, "b.bin": big})
	h.cache.maxFiles = 1 // every other request evicts the other file
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				name := []string{"/a.bin", "/b.bin"}[(g+i)%2]
				if w := do(h, "GET", name); w.Body.String() != big {
					t.Errorf("%s: %d bytes", name, w.Body.Len())
					return
				}
				if i%20 == 0 {
					clk.add(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
}
