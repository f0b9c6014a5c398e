package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"gatehouse/config"
)

// serveConfig builds cfg and serves it until the test ends; it returns the
// first listener's address.
func serveConfig(t *testing.T, cfg *config.Config) string {
	t.Helper()
	built, err := Build(cfg, BuildOptions{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { built.Close() })
	srv, err := New(built.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv.Addrs()[0].String()
}

// TestCompressRoutes: a route's compress table, on both engines, over a
// static file (read and compressed instead of sendfile; a precompressed
// sidecar still wins, and goes by sendfile) and a buffered CGI script whose
// flush reaches the client compressed before the script ends.
func TestCompressRoutes(t *testing.T) {
	dir := t.TempDir()
	page := []byte(strings.Repeat("<p>a page of some length, compressed on the way out</p>\n", 1200))
	os.WriteFile(filepath.Join(dir, "page.html"), page, 0o644)
	os.WriteFile(filepath.Join(dir, "side.html"), page, 0o644)
	os.WriteFile(filepath.Join(dir, "side.html.gz"), []byte("precompressed"), 0o644)
	cgiDir := t.TempDir()
	script := "#!/bin/sh\nprintf 'Content-Type: text/html\\r\\n\\r\\n'\nhead -c 2000 " + filepath.Join(dir, "page.html") +
		"\nsleep 1\necho the end\n"
	os.WriteFile(filepath.Join(cgiDir, "slow.sh"), []byte(script), 0o755)
	for _, eng := range []string{"epoll", "goroutine"} {
		t.Run(eng, func(t *testing.T) {
			cfg := &config.Config{
				Server: config.Server{Engine: eng},
				Listen: []config.Listen{{Addr: "127.0.0.1:0"}},
				Site: []config.Site{{Route: []config.Route{
					{Path: "/", Static: &config.Static{Root: dir, Precompressed: true}, Compress: &config.Compress{Encodings: []string{"gzip"}}},
					{Path: "/cgi/", CGI: &config.CGI{Root: cgiDir}, Compress: &config.Compress{}},
				}}},
			}
			// The access log's $body_bytes_sent is what went to the client,
			// compressed; read once the server has stopped (cleanups run
			// last registered first), when every line is written.
			logPath := filepath.Join(t.TempDir(), "access.log")
			cfg.AccessLog = config.AccessLog{Path: logPath, Format: "sizes", Formats: map[string]string{"sizes": "$uri $body_bytes_sent"}}
			var pageSent int
			t.Cleanup(func() {
				log, err := os.ReadFile(logPath)
				if want := fmt.Sprintf("/page.html %d\n", pageSent); err != nil || !strings.Contains(string(log), want) {
					t.Errorf("access log %q (%v), want a line %q", log, err, want)
				}
			})
			addr := serveConfig(t, cfg)
			c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
			get := func(path string) (*http.Response, []byte) {
				req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
				req.Header.Set("Accept-Encoding", "gzip")
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp, b
			}
			resp, b := get("/page.html")
			pageSent = len(b)
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			plain, _ := io.ReadAll(zr)
			if resp.Header.Get("Content-Encoding") != "gzip" || !bytes.Equal(plain, page) || len(b) > len(page)/10 ||
				resp.Header.Get("Vary") != "Accept-Encoding" || !strings.HasPrefix(resp.Header.Get("ETag"), "W/") {
				t.Errorf("page: %v, %d bytes for %d", resp.Header, len(b), len(page))
			}
			resp, b = get("/side.html")
			if resp.Header.Get("Content-Encoding") != "gzip" || string(b) != "precompressed" {
				t.Errorf("sidecar: %v %q", resp.Header, b)
			}

			// The script's first 2000 bytes are flushed by the buffering a
			// moment after they come, a second before the script ends.
			req, _ := http.NewRequest("GET", "http://"+addr+"/cgi/slow.sh", nil)
			req.Header.Set("Accept-Encoding", "zstd, gzip;q=0.9")
			began := time.Now()
			resp, err = c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			ce := resp.Header.Get("Content-Encoding")
			if ce != "zstd" {
				t.Fatalf("cgi: Content-Encoding %q", ce)
			}
			zd := newZstdReader(t, resp.Body)
			first := make([]byte, 2000)
			if _, err := io.ReadFull(zd, first); err != nil || !bytes.Equal(first, page[:2000]) {
				t.Fatalf("first part: %v", err)
			}
			if d := time.Since(began); d > 700*time.Millisecond {
				t.Errorf("the flushed part took %v: held until the end", d)
			}
			rest, err := io.ReadAll(zd)
			if err != nil || string(rest) != "the end\n" {
				t.Errorf("rest %q %v", rest, err)
			}
		})
	}
}

func newZstdReader(t *testing.T, r io.Reader) io.Reader {
	t.Helper()
	zd, err := zstd.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(zd.Close)
	return zd
}
