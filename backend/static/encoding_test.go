package static

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gatehouse/web/webtest"
)

// sidecarSite has style.css with all three sidecars (each with its own bytes and
// time), only.js with a gzip one, plain.txt with none, and a ready-made .gz.
var sidecarSite = map[string]string{
	"style.css":      "body{color:red}",
	"style.css.br":   "BROTLI",
	"style.css.zst":  "ZSTANDARD",
	"style.css.gz":   "GZIP-BYTES",
	"only.js":        "alert(1)",
	"only.js.gz":     "GZ",
	"plain.txt":      "plain",
	"archive.tar.gz": "TARGZ",
	"dir.css":        "x",
	"dir.css.br/":    "", // a directory, not a sidecar
}

// TestAcceptEncoding: which representation each Accept-Encoding selects
// (RFC 9110 §12.5.3).
func TestAcceptEncoding(t *testing.T) {
	h, root := fixture(t, Config{Precompressed: true}, sidecarSite)
	modBr := testMod.Add(time.Hour)
	touch(t, filepath.Join(root, "style.css.br"), modBr)

	cases := []struct {
		rule   string
		fields []string
		want   string // the Content-Encoding chosen; "" for the file itself
	}{
		{"no field: the file itself (deliberate, see chooseCoding)", nil, ""},
		{"empty field: no coding wanted", []string{"Accept-Encoding:"}, ""},
		{"gzip", []string{"Accept-Encoding: gzip"}, "gzip"},
		{"br", []string{"Accept-Encoding: br"}, "br"},
		{"zstd", []string{"Accept-Encoding: zstd"}, "zstd"},
		{"equal weights: br > zstd > gzip", []string{"Accept-Encoding: gzip, deflate, zstd, br"}, "br"},
		{"equal weights without br: zstd", []string{"Accept-Encoding: gzip, zstd"}, "zstd"},
		{"highest qvalue wins", []string{"Accept-Encoding: gzip;q=1, br;q=0.5"}, "gzip"},
		{"three weights", []string{"Accept-Encoding: br;q=0.5, zstd;q=0.8, gzip;q=0.1"}, "zstd"},
		{"* gives any coding not listed", []string{"Accept-Encoding: *"}, "br"},
		{"a listed coding beats a lower *", []string{"Accept-Encoding: *;q=0.5, gzip"}, "gzip"},
		{"q=0 refuses: br refused, * gives the others", []string{"Accept-Encoding: br;q=0, *"}, "zstd"},
		{"q=0 refuses the only coding listed", []string{"Accept-Encoding: gzip;q=0"}, ""},
		{"q=0.000 is zero", []string{"Accept-Encoding: br;q=0.000"}, ""},
		{"*;q=0 refuses all", []string{"Accept-Encoding: *;q=0"}, ""},
		{"identity refused, nothing else acceptable: the file anyway", []string{"Accept-Encoding: identity;q=0"}, ""},
		{"identity weighed higher than br", []string{"Accept-Encoding: br;q=0.5, identity"}, ""},
		{"identity weighed equal: the smaller file", []string{"Accept-Encoding: br, identity"}, "br"},
		{"implicit identity does not compete", []string{"Accept-Encoding: br;q=0.5"}, "br"},
		{"x-gzip is gzip (§8.4.1.3)", []string{"Accept-Encoding: x-gzip"}, "gzip"},
		{"codings are case-insensitive (§8.4.1)", []string{"Accept-Encoding: GZip"}, "gzip"},
		{"Q= and whitespace around ';'", []string{"Accept-Encoding: br ; Q=0.9 , gzip;q=1"}, "gzip"},
		{"q above 1 is invalid: element skipped", []string{"Accept-Encoding: br;q=2"}, ""},
		{"four decimals are invalid", []string{"Accept-Encoding: br;q=0.5555"}, ""},
		{"1.5 is invalid", []string{"Accept-Encoding: br;q=1.5"}, ""},
		{"a parameter other than q: element skipped", []string{"Accept-Encoding: br;level=5, gzip"}, "gzip"},
		{"a coding named twice gets its lower weight", []string{"Accept-Encoding: br, br;q=0"}, ""},
		{"field lines combine", []string{"Accept-Encoding: deflate", "Accept-Encoding: zstd"}, "zstd"},
		{"only unknown codings", []string{"Accept-Encoding: deflate, compress"}, ""},
	}
	for _, c := range cases {
		w := do(h, "GET", "/style.css", c.fields...)
		if w.Code != 200 {
			t.Fatalf("%s: %d", c.rule, w.Code)
		}
		if got := w.Head.Get("Content-Encoding"); got != c.want {
			t.Errorf("%s: %q: Content-Encoding %q, want %q", c.rule, c.fields, got, c.want)
			continue
		}
		wantBody, wantTag, wantLM := sidecarSite["style.css"], etagOf(15, ""), testLM
		switch c.want {
		case "br":
			// The sidecar's own time, in its ETag and Last-Modified.
			wantBody, wantLM = "BROTLI", modBr.UTC().Format(timeFormat)
			wantTag = fmt.Sprintf(`"%x-6-br"`, modBr.UnixNano())
		case "zstd":
			wantBody, wantTag = "ZSTANDARD", etagOf(9, "zst")
		case "gzip":
			wantBody, wantTag = "GZIP-BYTES", etagOf(10, "gz")
		}
		for name, want := range map[string]string{
			"Vary": "Accept-Encoding", "Content-Type": "text/css; charset=utf-8", "ETag": wantTag,
			"Last-Modified": wantLM,
		} {
			if got := w.Head.Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", c.rule, name, got, want)
			}
		}
		if w.Body.String() != wantBody {
			t.Errorf("%s: body %q, want %q", c.rule, w.Body.String(), wantBody)
		}
	}
}

func TestPrecompressedRepresentation(t *testing.T) {
	h, root := fixture(t, Config{Precompressed: true, CacheControl: "max-age=60"}, sidecarSite)
	br := []string{"Accept-Encoding: br"}

	// Vary whenever a sidecar exists, even when the file itself is sent.
	if w := do(h, "GET", "/only.js", br...); w.Head.Get("Vary") != "Accept-Encoding" || w.Head.Get("Content-Encoding") != "" {
		t.Errorf("only.js for br: %v", w.Head)
	}
	if w := do(h, "GET", "/only.js", "Accept-Encoding: gzip"); w.Head.Get("Content-Encoding") != "gzip" ||
		w.Head.Get("Content-Type") != "text/javascript; charset=utf-8" || w.Body.String() != "GZ" {
		t.Errorf("only.js for gzip: %v %q", w.Head, w.Body.String())
	}
	// No sidecar: no Vary.
	if w := do(h, "GET", "/plain.txt", br...); w.Head.Has("Vary") || w.Head.Has("Content-Encoding") {
		t.Errorf("plain.txt: %v", w.Head)
	}
	// A sidecar that is a directory does not count.
	if w := do(h, "GET", "/dir.css", br...); w.Head.Has("Vary") || w.Body.String() != "x" {
		t.Errorf("dir.css: %v", w.Head)
	}
	// A sidecar asked for by name is an ordinary file.
	w := do(h, "GET", "/style.css.gz", "Accept-Encoding: gzip, br")
	if w.Head.Get("Content-Type") != "application/gzip" || w.Head.Has("Content-Encoding") ||
		w.Head.Has("Vary") || w.Body.String() != "GZIP-BYTES" || w.Head.Get("ETag") != etagOf(10, "") {
		t.Errorf("style.css.gz by name: %v %q", w.Head, w.Body.String())
	}
	if w := do(h, "GET", "/archive.tar.gz", br...); w.Head.Has("Content-Encoding") || w.Body.String() != "TARGZ" {
		t.Errorf("archive.tar.gz: %v", w.Head)
	}
	// HEAD: the head of the selected representation.
	if w := do(h, "HEAD", "/style.css", br...); w.Head.Get("Content-Length") != "6" || w.Head.Get("Content-Encoding") != "br" || w.Body.Len() != 0 {
		t.Errorf("HEAD: %v", w.Head)
	}
	// Conditionals are against the selected representation.
	if w := do(h, "GET", "/style.css", "Accept-Encoding: br", "If-None-Match: "+etagOf(6, "br")); w.Code != 304 ||
		w.Head.Get("Vary") != "Accept-Encoding" || w.Head.Get("Cache-Control") != "max-age=60" {
		t.Errorf("If-None-Match, br tag, br accepted: %d %v", w.Code, w.Head)
	}
	if w := do(h, "GET", "/style.css", "Accept-Encoding: br", "If-None-Match: "+etagOf(15, "")); w.Code != 200 {
		t.Errorf("If-None-Match of the identity, br accepted: %d", w.Code)
	}
	if w := do(h, "GET", "/style.css", "If-None-Match: "+etagOf(6, "br")); w.Code != 200 {
		t.Errorf("If-None-Match of br, nothing accepted: %d", w.Code)
	}
	if w := do(h, "GET", "/style.css", "Accept-Encoding: gzip", "If-Match: "+etagOf(15, "")); w.Code != 412 {
		t.Errorf("If-Match of the identity when gzip is selected: %d", w.Code)
	}
	// So are ranges: bytes of the encoded file, with Content-Encoding.
	w = do(h, "GET", "/style.css", "Accept-Encoding: zstd", "Range: bytes=1-3")
	if w.Code != 206 || w.Head.Get("Content-Range") != "bytes 1-3/9" || w.Body.String() != "STA" ||
		w.Head.Get("Content-Encoding") != "zstd" || w.Head.Get("Vary") != "Accept-Encoding" {
		t.Errorf("range of zstd: %d %v %q", w.Code, w.Head, w.Body.String())
	}
	if w := do(h, "GET", "/style.css", "Accept-Encoding: zstd", "Range: bytes=20-"); w.Code != 416 ||
		w.Head.Get("Content-Range") != "bytes */9" {
		t.Errorf("416 of zstd: %d %v", w.Code, w.Head)
	}
	// Several ranges of an encoded representation: the whole of it (file.go).
	if w := do(h, "GET", "/style.css", "Accept-Encoding: zstd", "Range: bytes=0-1,5-6"); w.Code != 200 ||
		w.Body.String() != "ZSTANDARD" || w.Head.Get("Content-Encoding") != "zstd" {
		t.Errorf("multipart of zstd: %d %v", w.Code, w.Head)
	}
	// The sidecar is not served when Precompressed is off.
	off, _ := New(Config{Root: root})
	defer off.Close()
	w = webtest.NewRecorder()
	webtest.Serve(off, w, webtest.NewRequest("GET", "/style.css", nil, br...))
	if w.Head.Has("Content-Encoding") || w.Head.Has("Vary") {
		t.Errorf("Precompressed off: %v", w.Head)
	}
}

// TestSidecarConfinement: a sidecar is reached as the file is; a symlink that
// leads out of the root does not exist, unless FollowSymlinks.
func TestSidecarConfinement(t *testing.T) {
	h, root := fixture(t, Config{Precompressed: true}, map[string]string{"app.js": "app", "in.js": "in", "in.js.gz.real": "GZ"})
	outside := filepath.Join(filepath.Dir(root), "stolen.br")
	if err := os.WriteFile(outside, []byte(secret), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "app.js.br")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("in.js.gz.real", filepath.Join(root, "in.js.gz")); err != nil {
		t.Fatal(err)
	}
	w := do(h, "GET", "/app.js", "Accept-Encoding: br")
	if w.Body.String() != "app" || w.Head.Has("Content-Encoding") || w.Head.Has("Vary") {
		t.Fatalf("sidecar outside the root: %v %q", w.Head, w.Body.String())
	}
	if w := do(h, "GET", "/in.js", "Accept-Encoding: gzip"); w.Body.String() != "GZ" || w.Head.Get("Content-Encoding") != "gzip" {
		t.Fatalf("symlinked sidecar inside the root: %v %q", w.Head, w.Body.String())
	}

	follow, err := New(Config{Root: root, Precompressed: true, FollowSymlinks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer follow.Close()
	w = webtest.NewRecorder()
	webtest.Serve(follow, w, webtest.NewRequest("GET", "/app.js", nil, "Accept-Encoding: br"))
	if w.Body.String() != secret || w.Head.Get("Content-Encoding") != "br" {
		t.Fatalf("FollowSymlinks: %v %q", w.Head, w.Body.String())
	}
}

func FuzzAcceptEncoding(f *testing.F) {
	for _, s := range []string{
		"gzip", "br;q=0.5, gzip;q=0.8", "*", "*;q=0", "identity;q=0", "x-gzip", "br ; Q=1.000", "", ",,",
		"gzip;q=0.", "br;q=1.0001", "zstd;q=0.001, *;q=0.002",
	} {
		f.Add(s)
	}
	for _, s := range corpusValues(f, "Accept-Encoding") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := webtest.NewRequest("GET", "/", nil)
		r.Header.Add("Accept-Encoding", s)
		w := parseAcceptEncoding(&r.Header)
		if !w.Present {
			t.Fatal("field not seen")
		}
		for _, q := range append(w.Coding[:], w.Identity, w.Star) {
			if q < -1 || q > 1000 {
				t.Fatalf("%q: weight %d", s, q)
			}
		}
		for mask := range 1 << len(codings) {
			var avail [len(codings)]bool
			for i := range avail {
				avail[i] = mask&(1<<i) != 0
			}
			i := chooseCoding(&w, avail)
			if i == -1 {
				continue
			}
			q := w.Coding[i]
			if q < 0 {
				q = w.Star
			}
			if !avail[i] || q <= 0 {
				t.Fatalf("%q %v: chose %s at q=%d", s, avail, codings[i].name, q)
			}
		}
	})
}
