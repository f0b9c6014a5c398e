package static

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var listingSite = map[string]string{
	"pub/b.txt":                "bb",
	"pub/a.txt":                "a",
	"pub/zdir/":                "",
	"pub/adir/x":               "x",
	"pub/.hidden":              "secret",
	"pub/<script>alert(1).txt": "xss",
	"pub/q\"uote&amp.txt":      "q",
	"pub/javascript:alert(1)":  "js",
	"pub/100%.txt":             "pct",
	"pub/sp ace#frag?.txt":     "sp",
	"pub/withindex/index.html": "index page",
	"pub/withindex/other.txt":  "o",
	"secret-dir/.keep":         "",
}

func TestListing(t *testing.T) {
	h, root := fixture(t, Config{Listing: true, CacheControl: "max-age=600"}, listingSite)
	outside := filepath.Join(filepath.Dir(root), "outside.txt")
	os.WriteFile(outside, []byte(secret), 0o644)
	os.Symlink(outside, filepath.Join(root, "pub", "link-out"))
	os.Symlink("b.txt", filepath.Join(root, "pub", "link-in"))
	os.Symlink("nowhere", filepath.Join(root, "pub", "dangling"))
	os.WriteFile(filepath.Join(root, "pub", "bad\x01name"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "pub", "bad\xffutf8"), nil, 0o644)

	w := do(h, "GET", "/pub/")
	page := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("%d %q", w.Code, page)
	}
	for name, want := range map[string]string{
		"Content-Type": "text/html; charset=utf-8", "X-Content-Type-Options": "nosniff",
		"Content-Security-Policy": listingCSP, "Cache-Control": "", "ETag": "",
	} {
		if got := w.Head.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if w.Head.Get("Content-Length") != strconv.Itoa(len(page)) {
		t.Errorf("Content-Length %q for %d bytes", w.Head.Get("Content-Length"), len(page))
	}
	// Directories first, then files, each sorted by name; links as served.
	order := []string{
		`<a href="../">../</a>`,
		`<a href="./adir/">adir/</a>`,
		`<a href="./withindex/">withindex/</a>`,
		`<a href="./zdir/">zdir/</a>`,
		`<a href="./100%25.txt">100%.txt</a>`,
		`<a href="./%3Cscript%3Ealert%281%29.txt">&lt;script&gt;alert(1).txt</a>`,
		`<a href="./a.txt">a.txt</a>`,
		`<a href="./b.txt">b.txt</a>`,
		`<a href="./javascript:alert%281%29">javascript:alert(1)</a>`,
		`<a href="./link-in">link-in</a>`,
		`<a href="./q%22uote&amp;amp.txt">q&#34;uote&amp;amp.txt</a>`,
		`<a href="./sp%20ace%23frag%3F.txt">sp ace#frag?.txt</a>`,
	}
	at := 0
	for _, s := range order {
		i := strings.Index(page[at:], s)
		if i < 0 {
			t.Fatalf("missing or out of order: %s\n%s", s, page)
		}
		at += i + len(s)
	}
	if !strings.Contains(page, "<td>2</td><td>2025-01-15 08:30:00</td>") {
		t.Errorf("b.txt's size and time missing:\n%s", page)
	}
	for _, absent := range []string{".hidden", "link-out", "dangling", "bad", "<script>", secret, "more entries"} {
		if strings.Contains(page, absent) {
			t.Errorf("page shows %q:\n%s", absent, page)
		}
	}
	// Every link on the page can be followed.
	for _, target := range []string{"/pub/adir/", "/pub/%3Cscript%3Ealert%281%29.txt", "/pub/100%25.txt",
		"/pub/javascript:alert%281%29", "/pub/link-in", "/pub/q%22uote&amp.txt", "/pub/sp%20ace%23frag%3F.txt"} {
		if w := do(h, "GET", target); w.Code != 200 {
			t.Errorf("%s: %d", target, w.Code)
		}
	}

	// The mount point has no parent link; a directory with an index serves it.
	if page := do(h, "GET", "/").Body.String(); strings.Contains(page, `href="../"`) || !strings.Contains(page, "Index of /</title>") {
		t.Errorf("root listing:\n%s", page)
	}
	if w := do(h, "GET", "/pub/withindex/"); w.Body.String() != "index page" {
		t.Errorf("index file: %q", w.Body.String())
	}
	// HEAD: the same head, no body.
	if w := do(h, "HEAD", "/pub/"); w.Code != 200 || w.Body.Len() != 0 || w.Head.Get("Content-Length") != strconv.Itoa(len(page)) {
		t.Errorf("HEAD: %d %v", w.Code, w.Head)
	}
	// No validators: tags never match, "*" does (§13.1.1, §13.1.2).
	if w := do(h, "GET", "/pub/", `If-None-Match: "x"`); w.Code != 200 {
		t.Errorf("If-None-Match tag: %d", w.Code)
	}
	if w := do(h, "GET", "/pub/", "If-None-Match: *"); w.Code != 304 {
		t.Errorf("If-None-Match *: %d", w.Code)
	}
	if w := do(h, "GET", "/pub/", `If-Match: "x"`); w.Code != 412 {
		t.Errorf("If-Match tag: %d", w.Code)
	}
	// Still redirected without the slash; still no way out of the root.
	if w := do(h, "GET", "/pub"); w.Code != 301 {
		t.Errorf("/pub: %d", w.Code)
	}
	if w := do(h, "GET", "/pub/../../"); w.Code != 400 {
		t.Errorf("/pub/../../: %d", w.Code)
	}
}

func TestListingDotfilesAndOff(t *testing.T) {
	h, _ := fixture(t, Config{Listing: true, AllowDotfiles: true}, listingSite)
	if page := do(h, "GET", "/pub/").Body.String(); !strings.Contains(page, `<a href="./.hidden">.hidden</a>`) {
		t.Errorf("AllowDotfiles: .hidden not listed:\n%s", page)
	}
	h.cfg.Listing = false
	if w := do(h, "GET", "/pub/"); w.Code != 404 {
		t.Errorf("Listing off: %d", w.Code)
	}
}

// TestListingLimit: a listing at the limit is whole; one entry more and the page
// says it is cut short. The limit is lowered: creating 10,001 files would make
// the test slow, not better.
func TestListingLimit(t *testing.T) {
	files := map[string]string{}
	for i := range 5 {
		files["big/f"+strconv.Itoa(i)] = ""
	}
	h, root := fixture(t, Config{Listing: true}, files)
	if h.maxListing != maxListing {
		t.Fatalf("New set the limit to %d", h.maxListing)
	}
	h.maxListing = 5
	for _, extra := range []bool{false, true} {
		if extra {
			os.WriteFile(filepath.Join(root, "big", "one-more"), nil, 0o644)
		}
		page := do(h, "GET", "/big/").Body.String()
		rows := strings.Count(page, "<tr><td><a href=\"./")
		notice := strings.Contains(page, "more entries than are listed")
		if rows != 5 || notice != extra {
			t.Errorf("%d files: %d rows, notice %v\n%s", 5+btoi(extra), rows, notice, page)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
