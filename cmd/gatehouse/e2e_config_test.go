package main

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCurlConfigSites serves a configuration file with two virtual hosts and
// checks what curl sees: routing by host, redirects, fixed responses, error
// pages, conditional and range requests and a precompressed variant.
func TestCurlConfigSites(t *testing.T) {
	dir := t.TempDir()
	www := filepath.Join(dir, "www")
	os.MkdirAll(filepath.Join(www, "docs"), 0o755)
	os.WriteFile(filepath.Join(www, "index.html"), []byte("<h1>example</h1>"), 0o644)
	os.WriteFile(filepath.Join(www, "docs", "guide.txt"), []byte("0123456789abcdefghij"), 0o644)
	css := strings.Repeat("body { color: black }\n", 100)
	os.WriteFile(filepath.Join(www, "app.css"), []byte(css), 0o644)
	gz, _ := os.Create(filepath.Join(www, "app.css.gz"))
	zw := gzip.NewWriter(gz)
	zw.Write([]byte(css))
	zw.Close()
	gz.Close()
	os.WriteFile(filepath.Join(dir, "404.html"), []byte("<p>not here</p>"), 0o644)
	addr := freeAddr(t)
	conf := filepath.Join(dir, "gatehouse.toml")
	os.WriteFile(conf, []byte(`
[access_log]
path = "off"

[[listen]]
addr = "`+addr+`"

[[site]]
hosts = ["example.test", "www.example.test"]
error_pages = { 404 = "`+filepath.Join(dir, "404.html")+`" }

  [[site.route]]
  path = "/"
  methods = ["GET"]
  static = { root = "`+www+`", precompressed = true, cache_control = "max-age=60" }

  [[site.route]]
  path = "/healthz"
  respond = { body = "ok\n", headers = { "Cache-Control" = "no-store" } }

  [[site.route]]
  path = "/old/"
  redirect = { to = "/docs/", status = 308, keep_query = true }

[[site]]
hosts = ["*.other.test"]
  [[site.route]]
  path = "/"
  redirect = { to = "https://example.test{uri}" }
`), 0o644)
	if out, errOut, err := runCLI("check", conf); err != nil {
		t.Fatalf("check: %v\n%s%s", err, out, errOut)
	}
	p := startConfig(t, conf, addr)
	port := strings.Split(addr, ":")[1]
	// as curls args: resolve h to the server, then the URL
	at := func(h, path string, args ...string) []string {
		return append(args, "--resolve", h+":"+port+":127.0.0.1", "http://"+h+":"+port+path)
	}

	checks := []struct {
		name string
		args []string
		want []string // substrings of curl's output (-i: head and body)
	}{
		{"index by host", at("example.test", "/", "-i"),
			[]string{"HTTP/1.1 200", "Cache-Control: max-age=60", "ETag: \"", "<h1>example</h1>"}},
		{"second name of the site", at("www.example.test", "/docs/guide.txt", "-i"),
			[]string{"HTTP/1.1 200", "0123456789abcdefghij"}},
		{"range", at("example.test", "/docs/guide.txt", "-i", "-r", "2-5"),
			[]string{"HTTP/1.1 206", "Content-Range: bytes 2-5/20", "\r\n\r\n2345"}},
		{"precompressed", at("example.test", "/app.css", "-i", "--compressed"),
			[]string{"Content-Encoding: gzip", "Vary: Accept-Encoding", "body { color: black }"}},
		{"fixed response", at("example.test", "/healthz", "-i"),
			[]string{"HTTP/1.1 200", "Cache-Control: no-store", "\r\n\r\nok\n"}},
		{"redirect keeps the query", at("example.test", "/old/x?a=1", "-i"),
			[]string{"HTTP/1.1 308", "Location: /docs/?a=1"}},
		{"error page", at("example.test", "/missing", "-i"),
			[]string{"HTTP/1.1 404", "<p>not here</p>"}},
		{"method limit", at("example.test", "/", "-i", "-X", "DELETE"),
			[]string{"HTTP/1.1 405", "Allow: GET, HEAD, OPTIONS"}},
		{"wildcard host", at("a.b.other.test", "/p?q=1", "-i"),
			[]string{"HTTP/1.1 301", "Location: https://example.test/p?q=1"}},
		{"unknown host", []string{"-i", "http://" + addr + "/"}, []string{"HTTP/1.1 421"}},
		// RFC 9112 §3.2.2: an absolute-form target routes by its authority,
		// never by the Host field (here the bare address, which no site names).
		{"absolute form", []string{"-i", "--request-target", "http://x.other.test/abs", "http://" + addr},
			[]string{"HTTP/1.1 301", "Location: https://example.test/abs"}},
	}
	for _, c := range checks {
		out, errOut, err := curl(t, c.args...)
		if err != nil {
			t.Errorf("%s: %v %s", c.name, err, errOut)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, out)
			}
		}
	}
	// A conditional request with the ETag just received: 304, no body.
	out, _, _ := curl(t, at("example.test", "/docs/guide.txt", "-i")...)
	etag := ""
	for _, l := range strings.Split(out, "\r\n") {
		if v, ok := strings.CutPrefix(l, "ETag: "); ok {
			etag = v
		}
	}
	out, _, _ = curl(t, at("example.test", "/docs/guide.txt", "-i", "-H", "If-None-Match: "+etag)...)
	if !strings.HasPrefix(out, "HTTP/1.1 304") || strings.Contains(out, "0123") {
		t.Fatalf("conditional request:\n%s", out)
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
}
