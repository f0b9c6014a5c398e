package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gatehouse/internal/testutil"
)

// The HTTPS issue's own command: a Flask application over HTTP/2 and
// HTTP/1.1 from one --https listener.
func TestFlaskOverHTTP2AndHTTP11(t *testing.T) {
	dir := testutil.ShortTempDir(t)
	cert, key := testutil.WriteCert(t, dir, "localhost", testutil.CertSpec{})
	addr := freeAddr(t)
	start(t, "--https", addr, "--cert", cert, "--key", key, "--wsgi", "flaskapp:app", "--chdir", wsgiApps(t),
		"--python", systemPython(t), "--workers", "1", "--http", freeAddr(t))
	for _, c := range []struct{ flag, version string }{{"--http2", "2"}, {"--http1.1", "1.1"}} {
		out, errOut, err := curl(t, "-k", c.flag, "-w", " %{http_version} %{http_code}", "https://"+addr+"/")
		if err != nil || out != "Hello from Flask "+c.version+" 200" {
			t.Errorf("curl %s: %v %q\n%s", c.flag, err, out, errOut)
		}
	}
}

// Every kind of backend over TLS, by each protocol ALPN offers: static
// files, a redirect, a fixed response, WSGI, PHP through php-fpm, CGI, and
// uWSGI behind --uwsgi-pass's key.
func TestEveryBackendOverHTTP2AndHTTP11(t *testing.T) {
	fpm := startPHPFPM(t)
	uwsgiSock := startUWSGIServer(t)
	dir := testutil.ShortTempDir(t)
	cert, key := testutil.WriteCert(t, dir, "localhost", testutil.CertSpec{})
	www := filepath.Join(dir, "www")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "big.bin"), []byte(strings.Repeat("0123456789abcdef", 64<<10)), 0o644) // 1 MiB: sendfile
	addr := freeAddr(t)
	conf := filepath.Join(dir, "gatehouse.toml")
	os.WriteFile(conf, []byte(`
[access_log]
path = "off"

[[listen]]
addr = "`+addr+`"
tls = { cert = "`+cert+`", key = "`+key+`" }

[[site]]
  [[site.route]]
  path = "/files/"
  static = { root = "`+www+`" }

  [[site.route]]
  path = "/moved"
  redirect = { to = "/files/big.bin", status = 308 }

  [[site.route]]
  path = "/fixed"
  respond = { body = "fixed\n" }

  [[site.route]]
  path = "/cgi-bin/"
  cgi = { root = "`+testdataDir(t, "cgi-bin")+`" }

  [[site.route]]
  path = "/php/"
  php = { root = "`+testdataDir(t, "php")+`", pass = "`+fpm+`" }

  [[site.route]]
  path = "/uwsgi/"
  uwsgi = { pass = "`+uwsgiSock+`" }

  [[site.route]]
  path = "/wsgi/"
  wsgi = { app = "flaskapp:app", chdir = "`+wsgiApps(t)+`", python = "`+systemPython(t)+`", workers = 1 }
`), 0o644)
	startConfig(t, conf, addr)
	for _, proto := range []struct{ flag, version string }{{"--http2", "2"}, {"--http1.1", "1.1"}} {
		for _, c := range []struct {
			path, status, contains string
			size                   int
		}{
			{"/files/big.bin", "200", "", 1 << 20},
			{"/moved", "308", "", 0},
			{"/fixed", "200", "fixed", 0},
			{"/cgi-bin/scheme.sh", "200", "HTTPS=on", 0},
			{"/php/scheme.php", "200", "HTTPS=on", 0},
			{"/uwsgi/env", "200", `"wsgi.url_scheme": "https"`, 0},
			{"/wsgi/", "200", "Hello from Flask", 0},
		} {
			out, errOut, err := curl(t, "-k", proto.flag, "-w", "\n%{http_version} %{http_code} %{size_download}", "https://"+addr+c.path)
			body, tail := out, ""
			if i := strings.LastIndex(out, "\n"); i >= 0 {
				body, tail = out[:i], out[i+1:]
			}
			f := strings.Fields(tail)
			if err != nil || len(f) != 3 || f[0] != proto.version || f[1] != c.status ||
				!strings.Contains(body, c.contains) || c.size > 0 && f[2] != itoa(c.size) {
				t.Errorf("%s %s: %v: %q (body %.120q)\n%s", proto.flag, c.path, err, tail, body, errOut)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// --h2c: HTTP/2 with prior knowledge beside HTTP/1.1 on a plain listener,
// and the flags mean the file's h2c and [http2].
func TestH2CFlag(t *testing.T) {
	addr := freeAddr(t)
	start(t, "--http", addr, "--h2c", "--http2-max-streams", "100", "--demo")
	for _, c := range []struct{ flag, version string }{{"--http2-prior-knowledge", "2"}, {"--http1.1", "1.1"}, {"--http2", "1.1"}} {
		// --http2 on http:// asks for Upgrade: h2c, which is answered as HTTP/1.1.
		out, errOut, err := curl(t, c.flag, "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "http://"+addr+"/healthz")
		if err != nil || out != c.version+" 200" {
			t.Errorf("curl %s: %v %q\n%s", c.flag, err, out, errOut)
		}
	}
	flagsMeanFile(t, []string{"--http", ":8000", "--h2c", "--http2-max-streams", "100", "--demo"}, `
[http2]
max_concurrent_streams = 100
[[listen]]
addr = ":8000"
h2c = true
[[site]]
  [[site.route]]
  path = "/"
  demo = true
`, true)
}
