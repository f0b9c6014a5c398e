package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

// The gateways through the binary, with the real programs behind (or in front
// of) gatehouse: php-fpm, uWSGI and nginx, all installed by make test.

// startPHPFPM runs php-fpm8.2 with two static children on a Unix socket in a
// fresh directory and returns the socket as --fastcgi-pass takes it.
func startPHPFPM(t *testing.T) string {
	t.Helper()
	dir := testutil.ShortTempDir(t)
	conf := fmt.Sprintf(`[global]
error_log = /proc/self/fd/2
daemonize = no
pid = %[1]s/fpm.pid
[www]
user = root
group = root
listen = %[1]s/fpm.sock
pm = static
pm.max_children = 2
clear_env = yes
security.limit_extensions = .php
`, dir)
	ini := fmt.Sprintf("output_buffering = 0\nupload_tmp_dir = %[1]s\nsys_temp_dir = %[1]s\nopcache.enable = 0\n", dir)
	os.WriteFile(filepath.Join(dir, "fpm.conf"), []byte(conf), 0o644)
	os.WriteFile(filepath.Join(dir, "php.ini"), []byte(ini), 0o644)
	args := []string{"-F", "-y", filepath.Join(dir, "fpm.conf"), "-c", filepath.Join(dir, "php.ini")}
	if os.Geteuid() == 0 {
		args = append(args, "-R")
	}
	p := testutil.Start(t, nil, "php-fpm8.2", args...)
	sock := "unix:" + filepath.Join(dir, "fpm.sock")
	p.WaitDial(t, sock)
	return sock
}

func testdataDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// lines turns "K=V" lines into a map.
func lines(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// A PHP site with one flag: scripts run by php-fpm, files sent as files,
// unknown paths to the front controller, missing scripts 404 without asking
// php-fpm, and X-Sendfile from a script.
func TestPHPSite(t *testing.T) {
	sock := startPHPFPM(t)
	root := testdataDir(t, "php")
	p := start(t, "--php", root, "--fastcgi-pass", sock, "--x-sendfile", testdataDir(t, "downloads"))
	base := "http://" + p.addr

	out, _, err := curl(t, "-H", "Proxy: http://evil.example", "-H", "X-Test: yes", base+"/info.php/extra?a=1")
	if err != nil {
		t.Fatal(err)
	}
	v := lines(out)
	want := map[string]string{"SCRIPT_NAME": "/info.php", "PATH_INFO": "/extra", "QUERY_STRING": "a=1",
		"REQUEST_METHOD": "GET", "HTTP_PROXY": "", "HTTP_X_TEST": "yes", "SERVER_SOFTWARE": "gatehouse"}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %q, want %q (httpoxy: Proxy must never become HTTP_PROXY)\n%s", k, v[k], w, out)
		}
	}

	// A form POST, and a file upload (multipart) whose digest PHP computes.
	out, _, err = curl(t, "-d", "name=gate+house", base+"/info.php")
	if err != nil || lines(out)["post"] != "gate house" || lines(out)["REQUEST_METHOD"] != "POST" {
		t.Fatalf("form POST: %v\n%s", err, out)
	}
	upload := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	file := filepath.Join(t.TempDir(), "up.bin")
	os.WriteFile(file, upload, 0o644)
	sum := md5.Sum(upload)
	out, _, err = curl(t, "-F", "up=@"+file, base+"/info.php")
	if w := fmt.Sprintf("up.bin %d %s", len(upload), hex.EncodeToString(sum[:])); err != nil || lines(out)["upload"] != w {
		t.Fatalf("upload: %v: %q, want %q", err, lines(out)["upload"], w)
	}

	// Headers and cookies set by the script reach the client.
	out, _, err = curl(t, "-D", "-", "-o", "/dev/null", base+"/info.php")
	if err != nil || !strings.Contains(out, "X-Powered: php") || !strings.Contains(out, "Set-Cookie: seen=yes") {
		t.Fatalf("script's fields: %v\n%s", err, out)
	}

	// A file that is not a script is sent as it is, never executed.
	out, _, err = curl(t, base+"/raw.txt")
	if err != nil || !strings.Contains(out, "<?php echo") {
		t.Fatalf("GET /raw.txt: %v %q", err, out)
	}
	// Paths naming nothing reach the front controller, with their URI.
	out, _, err = curl(t, base+"/blog/2024/hello?x=1")
	if err != nil || out != "front /blog/2024/hello?x=1\n" {
		t.Fatalf("front controller: %v %q", err, out)
	}
	// A missing script is 404 from gatehouse.
	out, _, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", base+"/missing.php")
	if out != "404" {
		t.Fatalf("GET /missing.php: %s, want 404", out)
	}
	// CVE-2019-11043: a newline in the path never reaches php-fpm.
	out, _, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", base+"/info.php/%0Aa")
	if out != "400" {
		t.Fatalf("newline in PATH_INFO: %s, want 400", out)
	}
	// X-Sendfile: the file goes out instead of the script's body, with the
	// script's Content-Disposition.
	out, _, err = curl(t, "-i", base+"/download.php")
	if err != nil || !strings.HasSuffix(out, "\r\n\r\nthe report\n") || !strings.Contains(out, `filename="report.txt"`) {
		t.Fatalf("X-Sendfile: %v\n%s", err, out)
	}
}

// php-fpm down is 502; once it is back, requests succeed again.
func TestPHPFPMDown(t *testing.T) {
	dir := testutil.ShortTempDir(t)
	sock := "unix:" + filepath.Join(dir, "none.sock")
	p := start(t, "--php", testdataDir(t, "php"), "--fastcgi-pass", sock)
	out, _, _ := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "http://"+p.addr+"/info.php")
	if out != "502" {
		t.Fatalf("php-fpm down: %s, want 502", out)
	}
	if !p.logged("none.sock") {
		t.Errorf("the log does not name the unreachable backend:\n%s", p.stderr.String())
	}
}

// startUWSGIServer runs uWSGI with backend/uwsgi's test application on a Unix
// socket.
func startUWSGIServer(t *testing.T) string {
	t.Helper()
	app, err := filepath.Abs("../../backend/uwsgi/testdata/app.py")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(testutil.ShortTempDir(t), "uwsgi.sock")
	p := testutil.Start(t, nil, "uwsgi", "--plugin", "python3", "--socket", sock, "--wsgi-file", app,
		"--master", "--processes", "2", "--die-on-term", "--need-app", "--disable-logging")
	p.WaitDial(t, "unix:"+sock)
	return "unix:" + sock
}

// gatehouse in front of a real uWSGI (uwsgi_pass's job).
func TestUWSGIPass(t *testing.T) {
	sock := startUWSGIServer(t)
	p := start(t, "--uwsgi-pass", sock)
	out, _, err := curl(t, "-H", "Proxy: http://evil.example", "http://"+p.addr+"/a/env?q=1")
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if env["PATH_INFO"] != "/a/env" || env["QUERY_STRING"] != "q=1" || env["REQUEST_METHOD"] != "GET" {
		t.Errorf("environ: %v", env)
	}
	if _, ok := env["HTTP_PROXY"]; ok {
		t.Errorf("httpoxy: HTTP_PROXY reached uWSGI: %q", env["HTTP_PROXY"])
	}
	body := strings.Repeat("x", 300<<10)
	file := filepath.Join(t.TempDir(), "body")
	os.WriteFile(file, []byte(body), 0o644)
	out, _, err = curl(t, "--data-binary", "@"+file, "-H", "Content-Type: application/octet-stream", "http://"+p.addr+"/echo")
	if err != nil || out != body {
		t.Fatalf("POST /echo: %v, %d bytes back", err, len(out))
	}
}

// nginx with uwsgi_pass in front of gatehouse's --socket, which serves the
// same routes as HTTP would (here a static directory and a respond route).
func TestSocketBehindNginx(t *testing.T) {
	dir := testutil.ShortTempDir(t)
	sock := filepath.Join(dir, "gh.sock")
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello via uwsgi\n"), 0o644)
	p := start(t, "--socket", "unix:"+sock, "--static", "/files="+dir)

	addr := testutil.StartNginx(t, `
		location / {
			include /etc/nginx/uwsgi_params;
			uwsgi_param UWSGI_SCRIPT evil:application;
			uwsgi_pass unix:`+sock+`;
		}`)

	out, _, err := curl(t, "-i", "http://"+addr+"/files/hello.txt")
	if err != nil || !strings.HasSuffix(out, "\r\n\r\nhello via uwsgi\n") || !strings.Contains(out, "Content-Type: text/plain") {
		t.Fatalf("through nginx: %v\n%s", err, out)
	}
	out, _, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", "http://"+addr+"/files/none")
	if out != "404" {
		t.Fatalf("missing file through nginx: %s", out)
	}
	// The same routes answer over HTTP.
	out, _, err = curl(t, "http://"+p.addr+"/files/hello.txt")
	if err != nil || out != "hello via uwsgi\n" {
		t.Fatalf("over HTTP: %v %q", err, out)
	}
}

// CGI scripts from a directory: variables (no HTTP_PROXY), the body on stdin,
// and a local redirect served by gatehouse itself.
func TestCGIFlag(t *testing.T) {
	p := start(t, "--cgi", "/cgi-bin="+testdataDir(t, "cgi-bin"))
	base := "http://" + p.addr
	out, _, err := curl(t, "-H", "Proxy: http://evil.example", "--data-binary", "payload", base+"/cgi-bin/env.sh/x/y?z=1")
	if err != nil {
		t.Fatal(err)
	}
	v := lines(out)
	want := map[string]string{"SCRIPT_NAME": "/cgi-bin/env.sh", "PATH_INFO": "/x/y", "QUERY_STRING": "z=1", "HTTP_PROXY": "", "body": "payload"}
	for k, w := range want {
		if v[k] != w {
			t.Errorf("%s = %q, want %q\n%s", k, v[k], w, out)
		}
	}
	out, _, err = curl(t, "-i", base+"/cgi-bin/moved.sh")
	if err != nil || !strings.HasPrefix(out, "HTTP/1.1 200") || lines(out)["PATH_INFO"] != "/redirected" {
		t.Fatalf("local redirect: %v\n%s", err, out)
	}
	out, _, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", base+"/cgi-bin/none.sh")
	if out != "404" {
		t.Fatalf("missing script: %s, want 404", out)
	}
}

// One script for a whole prefix (--cgi /prefix=FILE, Apache's ScriptAlias):
// SCRIPT_NAME is the prefix, PATH_INFO the rest, as cgit expects.
func TestCGIScriptFlag(t *testing.T) {
	p := start(t, "--cgi", "/git="+filepath.Join(testdataDir(t, "cgi-bin"), "env.sh"))
	for _, c := range []struct{ target, info string }{{"/git/repo.git/tree/src?h=main", "/repo.git/tree/src"}, {"/git/", "/"}} {
		out, _, err := curl(t, "http://"+p.addr+c.target)
		if err != nil {
			t.Fatal(err)
		}
		if v := lines(out); v["SCRIPT_NAME"] != "/git" || v["PATH_INFO"] != c.info {
			t.Errorf("%s: SCRIPT_NAME %q, PATH_INFO %q", c.target, v["SCRIPT_NAME"], v["PATH_INFO"])
		}
	}
}

// The gateway flags build the routes and listeners of the equivalent file.
func TestGatewayFlagsMeanTheFile(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--php", dir, "--fastcgi-pass", "127.0.0.1:9000", "--cgi", "/cgi-bin=" + dir,
		"--x-sendfile", dir, "--x-accel", "/protected/=" + dir,
		"--socket", "127.0.0.1:3031", "--socket-allow", "10.0.0.0/8", "--http", "127.0.0.1:8000"}
	file := `
[[listen]]
addr = "127.0.0.1:8000"
[[listen]]
addr = "127.0.0.1:3031"
protocol = "uwsgi"
allow = ["10.0.0.0/8"]
[[site]]
  [[site.route]]
  path = "/cgi-bin/"
  cgi = { root = "` + dir + `" }
  [[site.route]]
  path = "/"
  php = { root = "` + dir + `", pass = "127.0.0.1:9000" }
  x_sendfile = { dir = "` + dir + `" }
  x_accel = { prefix = "/protected/", dir = "` + dir + `" }
`
	flagsMeanFile(t, args, file, true)
	for _, bad := range [][]string{
		{"--php", dir, "--wsgi", "app:app"},                  // both want /
		{"--uwsgi-pass", "unix:/x", "--fastcgi-pass", "a:1"}, // both want /
		{"--demo", "--x-sendfile", dir},                      // no application
		{"--demo", "--socket-allow", "10.0.0.0/8"},           // no --socket
		{"--cgi", "cgi-bin"},                                 // not /prefix=DIR
		{"--demo", "--socket", "unix:"},                      // no path
	} {
		if _, _, err := runCLI(append([]string{"serve"}, bad...)...); exitCode(err) != 2 {
			t.Errorf("serve %v: %v, want a usage error", bad, err)
		}
	}
}

// A configuration file: a PHP site mounted under /blog/ through a named
// [[upstream]] with kept connections, and the uwsgi listener of a file.
func TestGatewaysConfigFile(t *testing.T) {
	sock := startPHPFPM(t)
	dir := testutil.ShortTempDir(t)
	addr := freeAddr(t)
	usock := filepath.Join(dir, "gh.sock")
	conf := filepath.Join(dir, "gatehouse.toml")
	os.WriteFile(conf, []byte(`
[access_log]
path = "off"

[[listen]]
addr = "`+addr+`"

[[listen]]
addr = "unix:`+usock+`"
protocol = "uwsgi"

[[upstream]]
name = "fpm"
addrs = ["`+sock+`"]
max_conns = 2

[[site]]
  [[site.route]]
  path = "/blog/"
  php = { root = "`+testdataDir(t, "php")+`", pass = "fpm", keep_conn = true, params = { HTTP_X_TEST = "from-config" } }
  x_accel = { prefix = "/protected/", dir = "`+testdataDir(t, "downloads")+`" }

  [[site.route]]
  path = "/app/"
  fastcgi = { pass = "fpm", script = "`+filepath.Join(testdataDir(t, "php"), "info.php")+`", params = { HTTP_X_TEST = "generic" } }
`), 0o644)
	p := startConfig(t, conf, addr)
	// More requests than php-fpm has children, in parallel, over two kept
	// connections.
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			out, _, err := curl(t, "http://"+p.addr+"/blog/info.php/p")
			if err == nil && (lines(out)["SCRIPT_NAME"] != "/blog/info.php" || lines(out)["HTTP_X_TEST"] != "from-config") {
				err = fmt.Errorf("unexpected answer:\n%s", out)
			}
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	out, _, err := curl(t, "http://"+p.addr+"/blog/a/b")
	if err != nil || out != "front /blog/a/b\n" {
		t.Fatalf("front controller under /blog/: %v %q", err, out)
	}
	// X-Accel-Redirect: the file under x_accel.dir, with the script's Cache-Control.
	out, _, err = curl(t, "-i", "http://"+p.addr+"/blog/accel.php")
	if err != nil || !strings.HasSuffix(out, "\r\n\r\nthe report\n") || !strings.Contains(out, "Cache-Control: private, max-age=60") {
		t.Fatalf("X-Accel-Redirect: %v\n%s", err, out)
	}
	// A generic FastCGI application mounted at /app/: SCRIPT_FILENAME from
	// the route, SCRIPT_NAME the mount point, PATH_INFO the rest.
	out, _, err = curl(t, "http://"+p.addr+"/app/x/y?z=1")
	v := lines(out)
	if err != nil || v["SCRIPT_NAME"] != "/app" || v["PATH_INFO"] != "/x/y" || v["QUERY_STRING"] != "z=1" || v["HTTP_X_TEST"] != "generic" {
		t.Fatalf("fastcgi route: %v\n%s", err, out)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.stderr.String(), "protocol=uwsgi"); {
		if time.Now().After(deadline) {
			t.Fatalf("no uwsgi listener in the log:\n%s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client that leaves while a CGI script prints nothing has the script
// killed at once, on both engines: epoll sees the close on its loop, the
// goroutine engine by the watch the CGI gateway asks for. The request is
// logged as abandoned (499), not as a failure.
func TestCGIClientGoneSilentScript(t *testing.T) {
	for _, engine := range []string{"epoll", "goroutine"} {
		t.Run(engine, func(t *testing.T) {
			p := start(t, "--cgi", "/cgi-bin="+testdataDir(t, "cgi-bin"), "--engine", engine, "--log-level", "info")
			pidFile := filepath.Join(t.TempDir(), "pid")
			curl(t, "--max-time", "1", "http://"+p.addr+"/cgi-bin/silent.sh?"+pidFile)
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatalf("the script did not start: %v", err)
			}
			var pid int
			fmt.Sscan(string(b), &pid)
			for deadline := time.Now().Add(5 * time.Second); ; {
				if err := syscall.Kill(pid, 0); err != nil {
					break // gone
				}
				if time.Now().After(deadline) {
					syscall.Kill(pid, syscall.SIGKILL) // the script the test started
					t.Fatalf("script %d still runs 5 s after its client left", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
			p.stderr.WaitFor(t, "request abandoned")
			logs := p.stderr.String()
			if !strings.Contains(logs, "status=499") || strings.Contains(logs, "level=ERROR") {
				t.Fatalf("want an INFO line with status=499 and no ERROR; log:\n%s", logs)
			}
		})
	}
}

// The keys of uwsgi and cgi routes that only the file sets, each with an
// effect the real program shows: uwsgi's params, max_vars_size and
// modifier1 (uWSGI has no application for packet type 5 and closes); cgi's
// env allow-list, params and nph.
func TestGatewayKeysFromFile(t *testing.T) {
	usock := startUWSGIServer(t)
	t.Setenv("GH_TEST_PASSED", "passed")
	t.Setenv("GH_TEST_KEPT", "kept")
	dir := testutil.ShortTempDir(t)
	addr := freeAddr(t)
	conf := filepath.Join(dir, "gatehouse.toml")
	os.WriteFile(conf, []byte(`
[access_log]
path = "off"

[[listen]]
addr = "`+addr+`"

[[site]]
  [[site.route]]
  path = "/py/"
  uwsgi = { pass = "`+usock+`", params = { APP_FLAVOR = "blue" }, max_vars_size = "4k" }

  [[site.route]]
  path = "/psgi/"
  uwsgi = { pass = "`+usock+`", modifier1 = 5 }

  [[site.route]]
  path = "/cgi-bin/"
  cgi = { root = "`+testdataDir(t, "cgi-bin")+`", env = ["PATH", "GH_TEST_PASSED"], params = { X_PARAM = "from-file" }, nph = true }
`), 0o644)
	p := startConfig(t, conf, addr)
	base := "http://" + p.addr

	out, _, err := curl(t, base+"/py/env")
	var env map[string]string
	if err != nil || json.Unmarshal([]byte(out), &env) != nil || env["APP_FLAVOR"] != "blue" {
		t.Fatalf("uwsgi params: %v %s", err, out)
	}
	out, _, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Big: "+strings.Repeat("b", 5000), base+"/py/env")
	if out != "431" {
		t.Fatalf("uwsgi max_vars_size: a 5 KB field got %s, want 431", out)
	}
	out, _, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", base+"/psgi/env")
	if out != "502" {
		t.Fatalf("uwsgi modifier1 = 5: got %s, want 502 (uWSGI refuses the packet type)", out)
	}

	out, _, err = curl(t, base+"/cgi-bin/keys.sh")
	v := lines(out)
	if err != nil || v["GH_TEST_PASSED"] != "passed" || v["GH_TEST_KEPT"] != "" || v["X_PARAM"] != "from-file" {
		t.Fatalf("cgi env and params: %v\n%s", err, out)
	}
	out, _, err = curl(t, "-i", base+"/cgi-bin/nph-status.sh")
	if err != nil || !strings.HasPrefix(out, "HTTP/1.1 299 Whole Response\r\n") || !strings.Contains(out, "X-NPH: yes") ||
		!strings.HasSuffix(out, "from the script\n") {
		t.Fatalf("cgi nph: %v\n%q", err, out)
	}
}
