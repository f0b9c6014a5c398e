package static

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd runs validators, conditionals, ranges, sidecars and listings
// through the real server and reads the answers with net/http's parser.
func TestEndToEnd(t *testing.T) {
	root, big := site(t)
	os.WriteFile(filepath.Join(root, "style.css.br"), []byte("BROTLI"), 0o644)
	h, err := New(Config{Root: root, Precompressed: true, CacheControl: "public, max-age=300", Listing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	addr := serve(t, h)

	r, body := get(t, addr, "GET", "/data.bin")
	etag, lm := r.Header.Get("ETag"), r.Header.Get("Last-Modified")
	if r.StatusCode != 200 || body != string(big) || !strings.HasPrefix(etag, `"`) || lm == "" ||
		r.Header.Get("Accept-Ranges") != "bytes" || r.Header.Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("GET: %d %v", r.StatusCode, r.Header)
	}

	t.Run("304", func(t *testing.T) {
		for _, c := range []struct{ method, field string }{
			{"GET", "If-None-Match: " + etag},
			{"GET", "If-None-Match: W/" + etag},
			{"HEAD", "If-Modified-Since: " + lm},
		} {
			r, body := get(t, addr, c.method, "/data.bin", c.field)
			if r.StatusCode != 304 || body != "" {
				t.Fatalf("%s %s: %d, %d bytes", c.method, c.field, r.StatusCode, len(body))
			}
			for name, want := range map[string]string{
				"ETag": etag, "Last-Modified": lm, "Cache-Control": "public, max-age=300",
				"Content-Length": "", "Content-Type": "",
			} {
				if got := r.Header.Get(name); got != want {
					t.Errorf("%s: 304 %s %q, want %q", c.field, name, got, want)
				}
			}
			if _, err := http.ParseTime(r.Header.Get("Date")); err != nil {
				t.Errorf("304 without Date: %v", r.Header)
			}
		}
	})

	t.Run("412", func(t *testing.T) {
		for _, f := range []string{`If-Match: "stale"`, "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT"} {
			if r, _ := get(t, addr, "GET", "/data.bin", f); r.StatusCode != 412 {
				t.Errorf("%s: %d", f, r.StatusCode)
			}
		}
	})

	t.Run("206 by sendfile at an offset", func(t *testing.T) {
		r, body := get(t, addr, "GET", "/data.bin", "Range: bytes=100000-600000")
		if r.StatusCode != 206 || r.Header.Get("Content-Range") != "bytes 100000-600000/1048576" ||
			body != string(big[100000:600001]) || r.ContentLength != 500001 {
			t.Fatalf("%d %v, %d bytes", r.StatusCode, r.Header, len(body))
		}
	})

	t.Run("multipart", func(t *testing.T) {
		r, body := get(t, addr, "GET", "/data.bin", "Range: bytes=500000-500099, 0-9, -10", "If-Range: "+etag)
		if r.StatusCode != 206 {
			t.Fatalf("%d", r.StatusCode)
		}
		if err := checkPartial(r.Header.Get, []byte(body), big, "application/octet-stream",
			[]part{{500000, 500099}, {0, 9}, {1048566, 1048575}}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("416 and ignored ranges", func(t *testing.T) {
		r, _ := get(t, addr, "GET", "/data.bin", "Range: bytes=2000000-")
		if r.StatusCode != 416 || r.Header.Get("Content-Range") != "bytes */1048576" {
			t.Fatalf("416: %d %v", r.StatusCode, r.Header)
		}
		for _, fields := range [][]string{
			{"Range: bytes=0-9", `If-Range: "stale"`},
			{"Range: bytes=9-0"},
			{"Range: lines=1-2"},
		} {
			r, body := get(t, addr, "GET", "/data.bin", fields...)
			if r.StatusCode != 200 || body != string(big) {
				t.Errorf("%q: %d, %d bytes", fields, r.StatusCode, len(body))
			}
		}
	})

	t.Run("precompressed", func(t *testing.T) {
		r, body := get(t, addr, "GET", "/style.css", "Accept-Encoding: gzip;q=0.5, br")
		if body != "BROTLI" || r.Header.Get("Content-Encoding") != "br" || r.Header.Get("Vary") != "Accept-Encoding" ||
			r.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.HasSuffix(r.Header.Get("ETag"), `-br"`) {
			t.Fatalf("br: %v %q", r.Header, body)
		}
		r, body = get(t, addr, "GET", "/style.css")
		if body != "body{}" || r.Header.Get("Content-Encoding") != "" || r.Header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("identity: %v %q", r.Header, body)
		}
	})

	t.Run("listing", func(t *testing.T) {
		r, body := get(t, addr, "GET", "/nodir/")
		if r.StatusCode != 200 || !strings.Contains(body, `<a href="./readme.md">readme.md</a>`) ||
			r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%d %v %q", r.StatusCode, r.Header, body)
		}
	})

	// Whole files on both sides of smallFile: read with the head, or sendfile.
	t.Run("sizes", func(t *testing.T) {
		for _, n := range []int{0, 1, smallFile, smallFile + 1} {
			data := big[:n]
			name := "size" + strconv.Itoa(n)
			os.WriteFile(filepath.Join(root, name), data, 0o644)
			r, body := get(t, addr, "GET", "/"+name)
			if r.StatusCode != 200 || body != string(data) || r.ContentLength != int64(n) {
				t.Errorf("%d bytes: %d, got %d", n, r.StatusCode, len(body))
			}
		}
	})

	// One keep-alive connection through responses of every shape: if any
	// Content-Length were off by a byte, the next response would not parse.
	t.Run("keep-alive framing", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		steps := []struct {
			method, target string
			fields         []string
			status         int
			body           []byte
		}{
			{"GET", "/data.bin", []string{"Range: bytes=0-0,2-2,-1"}, 206, nil},
			{"GET", "/a.txt", nil, 200, []byte("file a")},
			{"GET", "/a.txt", []string{"Range: bytes=2-3"}, 206, []byte("le")},
			{"GET", "/data.bin", []string{"If-None-Match: " + etag}, 304, nil},
			{"HEAD", "/data.bin", nil, 200, nil},
			{"GET", "/data.bin", []string{"Range: bytes=-5000000"}, 206, big},
			{"GET", "/data.bin", []string{"Range: bytes=5000000-"}, 416, nil},
			{"GET", "/style.css", []string{"Accept-Encoding: br", "Range: bytes=0-2"}, 206, []byte("BRO")},
			{"GET", "/nodir/", nil, 200, nil},
			{"GET", "/a.txt", nil, 200, []byte("file a")},
		}
		for i, s := range steps {
			req := s.method + " " + s.target + " HTTP/1.1\r\nHost: a\r\n"
			for _, f := range s.fields {
				req += f + "\r\n"
			}
			if _, err := io.WriteString(c, req+"\r\n"); err != nil {
				t.Fatal(err)
			}
			r, err := http.ReadResponse(br, &http.Request{Method: s.method})
			if err != nil {
				t.Fatalf("step %d (%s %s): %v", i, s.method, s.target, err)
			}
			b, err := io.ReadAll(r.Body)
			if err != nil || r.StatusCode != s.status || s.body != nil && !bytes.Equal(b, s.body) {
				t.Fatalf("step %d (%s %s %q): %d, %d bytes, %v", i, s.method, s.target, s.fields, r.StatusCode, len(b), err)
			}
			if r.Close {
				t.Fatalf("step %d: the server closed the connection", i)
			}
		}
	})
}
