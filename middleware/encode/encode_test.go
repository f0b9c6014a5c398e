package encode

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

var page = []byte(strings.Repeat("<p>gatehouse compresses what it serves, </p>\n", 200))

func decode(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	if coding == "" {
		return b
	}
	r, done := decoder(t, coding, b)
	defer done()
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", coding, err)
	}
	return out
}

// decoder returns a reader of b decoded from coding, and what releases it.
func decoder(t *testing.T, coding string, b []byte) (io.Reader, func()) {
	t.Helper()
	switch coding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return zr, func() {}
	case "br":
		return brotli.NewReader(bytes.NewReader(b)), func() {}
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return zr, zr.Close
	}
	t.Fatalf("coding %q", coding)
	return nil, nil
}

func mustNew(t testing.TB, c Config) *Encoder {
	t.Helper()
	e, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// respond is a handler writing body (in two writes) with the fields given.
func respond(status int, body []byte, fields ...string) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		for i := 0; i+1 < len(fields); i += 2 {
			w.Header().Add(fields[i], fields[i+1])
		}
		w.WriteHeader(status)
		half := len(body) / 2
		if _, err := w.Write(body[:half]); err != nil {
			return err
		}
		_, err := w.Write(body[half:])
		return err
	})
}

func TestEncode(t *testing.T) {
	e := mustNew(t, Config{})
	html := []string{"Content-Type", "text/html; charset=utf-8"}
	cases := []struct {
		name     string
		method   string
		accept   string
		fields   []string // request fields besides Accept-Encoding
		h        web.Handler
		coding   string // expected Content-Encoding
		vary     bool
		status   int
		wantBody []byte
	}{
		{"gzip", "GET", "gzip", nil, respond(200, page, html...), "gzip", true, 200, page},
		{"br", "GET", "br", nil, respond(200, page, html...), "br", true, 200, page},
		{"zstd", "GET", "gzip, br, zstd", nil, respond(200, page, html...), "zstd", true, 200, page},
		{"not accepted", "GET", "", nil, respond(200, page, html...), "", true, 200, page},
		{"identity only", "GET", "identity", nil, respond(200, page, html...), "", true, 200, page},
		{"other type", "GET", "gzip", nil, respond(200, page, "Content-Type", "image/png"), "", false, 200, page},
		{"no type", "GET", "gzip", nil, respond(200, page), "", false, 200, page},
		{"type wildcard off by default", "GET", "gzip", nil, respond(200, page, "Content-Type", "text/event-stream"), "", false, 200, page},
		{"already encoded", "GET", "gzip", nil, respond(200, page, "Content-Type", "text/html", "Content-Encoding", "br"), "br", false, 200, page},
		{"no-transform", "GET", "gzip", nil, respond(200, page, "Content-Type", "text/html", "Cache-Control", "public, no-transform"), "", false, 200, page},
		{"partial content", "GET", "gzip", []string{"Range: bytes=0-9"}, respond(206, page[:10], "Content-Type", "text/html", "Content-Range", "bytes 0-9/9200"), "", false, 206, page[:10]},
		{"HEAD", "HEAD", "gzip", nil, respond(200, nil, html...), "", false, 200, nil},
		{"small, no length", "GET", "gzip", nil, respond(200, page[:511], html...), "", true, 200, page[:511]},
		{"at the minimum, no length", "GET", "gzip", nil, respond(200, page[:512], html...), "gzip", true, 200, page[:512]},
		{"small by its length", "GET", "gzip", nil, respond(200, page[:100], "Content-Type", "text/html", "Content-Length", "100"), "", true, 200, page[:100]},
		{"error status with a page", "GET", "gzip", nil, respond(404, page, html...), "gzip", true, 404, page},
		{"no content", "GET", "gzip", nil, respond(204, nil, html...), "", false, 204, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fields := append([]string(nil), c.fields...)
			if c.accept != "" {
				fields = append(fields, "Accept-Encoding: "+c.accept)
			}
			w := webtest.NewRecorder()
			if err := webtest.Serve(e.Wrap(c.h), w, webtest.NewRequest(c.method, "/", nil, fields...)); err != nil {
				t.Fatal(err)
			}
			ce := w.Head.Get("Content-Encoding")
			if w.Code != c.status || ce != c.coding {
				t.Fatalf("%d %q, want %d %q", w.Code, ce, c.status, c.coding)
			}
			if got := w.Head.Get("Vary") == "Accept-Encoding"; got != c.vary {
				t.Errorf("Vary: %q", w.Head.Get("Vary"))
			}
			body := w.Body.Bytes()
			if ce != "" && c.name != "already encoded" {
				body = decode(t, ce, body)
				if w.Head.Has("Content-Length") || w.Head.Has("Accept-Ranges") {
					t.Errorf("a compressed response keeps %v", w.Head)
				}
			}
			if !bytes.Equal(body, c.wantBody) {
				t.Errorf("body %d bytes, want %d", len(body), len(c.wantBody))
			}
		})
	}
}

// TestETag: a compressed response's strong tag becomes weak; a weak one
// stays; a 304 for the weak tag the client holds carries it weak too.
func TestETag(t *testing.T) {
	e := mustNew(t, Config{})
	for _, c := range []struct {
		name, accept, inm string
		status            int
		etag, want        string
	}{
		{"strong weakened", "gzip", "", 200, `"abc"`, `W/"abc"`},
		{"weak kept", "gzip", "", 200, `W/"abc"`, `W/"abc"`},
		{"unencoded kept", "", "", 200, `"abc"`, `"abc"`},
		{"304 for the weak tag", "gzip", `W/"abc"`, 304, `"abc"`, `W/"abc"`},
		{"304 for the strong tag", "gzip", `"abc"`, 304, `"abc"`, `"abc"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var fields []string
			if c.accept != "" {
				fields = append(fields, "Accept-Encoding: "+c.accept)
			}
			if c.inm != "" {
				fields = append(fields, "If-None-Match: "+c.inm)
			}
			body := page
			if c.status == 304 {
				body = nil
			}
			w := webtest.NewRecorder()
			webtest.Serve(e.Wrap(respond(c.status, body, "Content-Type", "text/css", "ETag", c.etag)), w,
				webtest.NewRequest("GET", "/", nil, fields...))
			if got := w.Head.Get("ETag"); got != c.want {
				t.Errorf("ETag %s, want %s", got, c.want)
			}
		})
	}
}

// TestFlushStreams: each flush reaches the client decodable, whatever the
// length so far: a stream is compressed and still a stream.
func TestFlushStreams(t *testing.T) {
	e := mustNew(t, Config{})
	for _, coding := range []string{"gzip", "br", "zstd"} {
		t.Run(coding, func(t *testing.T) {
			w := webtest.NewRecorder()
			var seen [][]byte
			h := web.HandlerFunc(func(rw web.ResponseWriter, r *web.Request) error {
				rw.Header().Set("Content-Type", "text/plain")
				for _, part := range []string{"first event\n", "second event\n"} {
					rw.WriteString(part)
					if err := rw.Flush(); err != nil {
						return err
					}
					seen = append(seen, append([]byte(nil), w.Body.Bytes()...))
				}
				return nil
			})
			webtest.Serve(e.Wrap(h), w, webtest.NewRequest("GET", "/", nil, "Accept-Encoding: "+coding))
			if w.Head.Get("Content-Encoding") != coding || !w.Flushed {
				t.Fatalf("%v flushed=%v", w.Head, w.Flushed)
			}
			// What the first flush sent decodes, as a prefix, to the first part.
			if got := decodePrefix(t, coding, seen[0]); got != "first event\n" {
				t.Errorf("after the first flush the client can read %q", got)
			}
			if got := string(decode(t, coding, w.Body.Bytes())); got != "first event\nsecond event\n" {
				t.Errorf("whole: %q", got)
			}
		})
	}
}

// decodePrefix decodes what a stream has so far (it has no end yet).
func decodePrefix(t *testing.T, coding string, b []byte) string {
	r, done := decoder(t, coding, b)
	defer done()
	var out []byte
	buf := make([]byte, 64)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil || n == 0 {
			return string(out)
		}
	}
}

// TestSendFile: a file is compressed when its response is (read, not
// sendfile), and passes through untouched when it is not.
func TestSendFile(t *testing.T) {
	e := mustNew(t, Config{})
	path := filepath.Join(t.TempDir(), "page.html")
	if err := os.WriteFile(path, page, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Content-Length", "1000")
		return w.SendFile(f, 100, 1000)
	})
	for _, accept := range []string{"gzip", ""} {
		w := webtest.NewRecorder()
		webtest.Serve(e.Wrap(h), w, webtest.NewRequest("GET", "/", nil, "Accept-Encoding: "+accept))
		ce := w.Head.Get("Content-Encoding")
		if ce != accept || !bytes.Equal(decode(t, ce, w.Body.Bytes()), page[100:1100]) {
			t.Errorf("accept %q: %q, %d bytes", accept, ce, w.Body.Len())
		}
	}
}

// TestFailedMidway: a handler that fails after it started a compressed
// response leaves it cut short, without the coding's end, so the client
// cannot take it for whole; one that fails before anything was decided
// has its error rendered.
func TestFailedMidway(t *testing.T) {
	e := mustNew(t, Config{})
	boom := errors.New("boom")
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("Content-Type", "text/html")
		w.Write(page)
		w.Flush()
		return boom
	})
	w := webtest.NewRecorder()
	if err := webtest.Serve(e.Wrap(h), w, webtest.NewRequest("GET", "/", nil, "Accept-Encoding: gzip")); err != boom {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(w.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(zr); err == nil {
		t.Error("a cut response decodes as whole")
	}

	early := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("Content-Type", "text/html")
		w.Write(page[:10]) // held: below the minimum
		return web.ErrNotFound
	})
	w = webtest.NewRecorder()
	webtest.Serve(e.Wrap(early), w, webtest.NewRequest("GET", "/", nil, "Accept-Encoding: gzip"))
	if w.Code != 404 || w.Head.Has("Content-Encoding") || strings.Contains(w.Body.String(), "<p>") {
		t.Errorf("%d %v %q", w.Code, w.Head, w.Body.String())
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{GzipLevel: 9, BrotliLevel: 11, ZstdLevel: 22}, true},
		{Config{GzipLevel: 10}, false},
		{Config{BrotliLevel: 12}, false},
		{Config{ZstdLevel: 23}, false},
		{Config{Codings: []Coding{Gzip, Gzip}}, false},
		{Config{Types: []string{"text/*"}}, true},
		{Config{Types: []string{"text"}}, false},
		{Config{Types: []string{"Text/HTML"}}, false},
		{Config{Types: []string{"*/*"}}, false},
	} {
		if _, err := New(c.cfg); (err == nil) != c.ok {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
}

// TestTypes: parameters and case do not matter; a wildcard takes a whole
// top-level type.
func TestTypes(t *testing.T) {
	e := mustNew(t, Config{Types: []string{"text/*", "application/json"}})
	x := &writer{e: e}
	for ct, want := range map[string]bool{
		"text/html": true, "TEXT/CSV; charset=utf-8": true, "application/json;x=y": true,
		"application/jsonx": false, "image/png": false, "": false, "text": false, "/html": false,
	} {
		if got := x.typeMatches([]byte(ct)); got != want {
			t.Errorf("%q: %v", ct, got)
		}
	}
}

// TestPassAllocs: a response that is not compressed costs no allocation
// (the writer is pooled).
func TestPassAllocs(t *testing.T) {
	e := mustNew(t, Config{})
	h := e.Wrap(respond(200, page, "Content-Type", "image/png"))
	r := webtest.NewRequest("GET", "/", nil, "Accept-Encoding: gzip")
	w := webtest.NewRecorder()
	h.ServeHTTP(w, r)
	n := testing.AllocsPerRun(100, func() {
		w.Body.Reset()
		w.Head.Reset()
		h.ServeHTTP(w, r)
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}
