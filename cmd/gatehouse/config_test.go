package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gatehouse/config"
	"gatehouse/internal/testutil"
	"gatehouse/proto/cookie"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestCheckGolden")

// TestCheckGolden runs gatehouse check on every file in testdata/check and
// compares its output with the .golden file beside it. Together the files
// produce every problem message config and server can report.
func TestCheckGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/check/*.toml")
	if len(files) < 5 {
		t.Fatalf("only %d check cases", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			stdout, stderr, err := runCLI("check", file)
			got := stdout + stderr
			code := exitCode(err)
			golden := strings.TrimSuffix(file, ".toml") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, rerr := os.ReadFile(golden)
			if rerr != nil {
				t.Fatalf("%v (run go test -run TestCheckGolden -update to create it)", rerr)
			}
			if got != string(want) {
				t.Fatalf("output differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
			}
			// Every problem comes with a hint.
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			for i, l := range lines {
				if strings.HasPrefix(l, "testdata/") && !strings.Contains(l, ": ok (") &&
					(i+1 == len(lines) || !strings.HasPrefix(lines[i+1], "\thint: ")) {
					t.Errorf("problem without a hint: %s", l)
				}
			}
			ok := strings.HasPrefix(filepath.Base(file), "ok_")
			if ok && code != 0 || !ok && code != 2 {
				t.Fatalf("exit %d", code)
			}
		})
	}
}

// TestDocsExamples checks every TOML example of docs/config.md, with the paths
// it names created under a temporary directory.
func TestDocsExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 8 {
		t.Fatalf("docs/config.md has only %d examples", len(blocks))
	}
	for i, b := range blocks {
		tmp := t.TempDir()
		text := b[1]
		for _, prefix := range []string{"/srv/", "/var/log/", "/run/", "/etc/"} {
			text = strings.ReplaceAll(text, "\""+prefix, "\""+tmp+prefix)
		}
		// Certificates for the names the example's files carry
		// (example.com.pem and example.com.key).
		for _, m := range regexp.MustCompile(`"(`+regexp.QuoteMeta(tmp)+`[^"]+)\.pem"`).FindAllStringSubmatch(text, -1) {
			dir, name := filepath.Split(m[1])
			if _, err := os.Stat(m[1] + ".pem"); err == nil {
				continue
			}
			os.MkdirAll(dir, 0o755)
			testutil.WriteCert(t, dir, name, testutil.CertSpec{Names: []string{name}})
		}
		// Create what the example names: static roots and error pages.
		for _, m := range regexp.MustCompile(`(?:root|chdir|dir) = "([^"]+)"`).FindAllStringSubmatch(text, -1) {
			os.MkdirAll(m[1], 0o755)
		}
		for _, m := range regexp.MustCompile(`script = "(`+regexp.QuoteMeta(tmp)+`[^"]+)"`).FindAllStringSubmatch(text, -1) {
			os.MkdirAll(filepath.Dir(m[1]), 0o755)
			os.WriteFile(m[1], []byte("#!/bin/sh\n"), 0o755)
		}
		for _, m := range regexp.MustCompile(`"(`+regexp.QuoteMeta(tmp)+`[^"]+\.html)"`).FindAllStringSubmatch(text, -1) {
			os.MkdirAll(filepath.Dir(m[1]), 0o755)
			os.WriteFile(m[1], []byte("<h1>error</h1>"), 0o644)
		}
		// Key files, made as gatehouse keygen makes them.
		for _, m := range regexp.MustCompile(`key_file = "([^"]+)"`).FindAllStringSubmatch(text, -1) {
			os.MkdirAll(filepath.Dir(m[1]), 0o755)
			os.WriteFile(m[1], []byte(cookie.GenerateKey()+"\n"), 0o600)
		}
		for _, m := range regexp.MustCompile(`(?:path|addr) = "(?:unix:)?(`+regexp.QuoteMeta(tmp)+`[^"]+)"`).FindAllStringSubmatch(text, -1) {
			os.MkdirAll(filepath.Dir(m[1]), 0o755)
		}
		file := filepath.Join(tmp, "example.toml")
		os.WriteFile(file, []byte(text), 0o644)
		stdout, stderr, err := runCLI("check", file)
		if err != nil {
			t.Errorf("example %d does not check:\n%s%s\n%s", i+1, stdout, stderr, b[1])
		}
	}
}

// TestFlagsMeanTheFile: the flags build exactly the configuration of the
// equivalent file.
func TestFlagsMeanTheFile(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--http", ":8000", "--http", "unix:" + dir + "/g.sock", "--unix-mode", "0600",
		"--static", "/assets=" + dir, "--demo", "--max-body", "1m", "--idle-timeout", "5s",
		"--access-log-format", "json", "--log-level", "debug", "--grace", "3s", "--max-fields", "50",
		"--engine", "epoll", "--accept", "reuseport"}
	file := `
[server]
grace = "3s"
engine = "epoll"
accept = "reuseport"
[log]
level = "debug"
format = "text"
[access_log]
path = "-"
format = "json"
[http]
max_body = "1m"
idle_timeout = "5s"
max_fields = 50
[[listen]]
addr = ":8000"
[[listen]]
addr = "unix:` + dir + `/g.sock"
mode = "0600"
[[site]]
  [[site.route]]
  path = "/"
  demo = true
  [[site.route]]
  path = "/assets/"
  static = { root = "` + dir + `" }
`
	flagsMeanFile(t, args, file, false)
	// --config excludes the other flags.
	if _, _, err := runCLI("serve", "--config", "x.toml", "--demo"); exitCode(err) != 2 || !strings.Contains(err.Error(), "--demo") {
		t.Fatalf("--config with --demo: %v", err)
	}
}

// flagsMeanFile checks that the serve flags args build the configuration of
// file. With ignoreLogs, the flags' default log settings (explicit values on
// the command line) are left out of the comparison.
func flagsMeanFile(t *testing.T, args []string, file string, ignoreLogs bool) {
	t.Helper()
	var o serveOptions
	fs := serveFlags(&o)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	fromFlags, err := o.toConfig()
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := config.Parse("", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	a, b := config.Comparable(*fromFlags), config.Comparable(*fromFile)
	if ignoreLogs {
		a.Log, a.AccessLog = b.Log, b.AccessLog
	}
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.MarshalIndent(a, "", " ")
		jb, _ := json.MarshalIndent(b, "", " ")
		t.Fatalf("flags and file differ:\nflags: %s\nfile:  %s", ja, jb)
	}
}

// The WSGI flags build the route of the equivalent file; they need --wsgi.
func TestWSGIFlagsMeanTheFile(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--wsgi", "proj.wsgi:app", "--workers", "3", "--threads", "2", "--chdir", dir,
		"--python", "/usr/bin/python3", "--env", "A=1", "--env", "B=x=y", "--max-requests", "500",
		"--max-requests-jitter", "20", "--max-rss", "300MiB", "--timeout", "45s", "--queue-timeout", "2s",
		"--stats-interval", "30s", "--worker-queue", "0", "--static", "/static=" + dir}
	file := `
[[listen]]
addr = "127.0.0.1:8000"
[[site]]
  [[site.route]]
  path = "/static/"
  static = { root = "` + dir + `" }
  [[site.route]]
  path = "/"
  wsgi = { app = "proj.wsgi:app", workers = 3, threads = 2, chdir = "` + dir + `", python = "/usr/bin/python3", env = { A = "1", B = "x=y" }, max_requests = 500, max_requests_jitter = 20, max_rss = "300MiB", timeout = "45s", queue_timeout = "2s", stats_interval = "30s", worker_queue = 0 }
`
	flagsMeanFile(t, args, file, true)
	for _, bad := range [][]string{
		{"--workers", "2", "--demo"},           // worker flags without --wsgi
		{"--wsgi", "app:app", "--demo"},        // both want /
		{"--wsgi", "app:app", "--env", "NOEQ"}, // not KEY=VALUE
	} {
		if _, _, err := runCLI(append([]string{"serve"}, bad...)...); exitCode(err) != 2 {
			t.Errorf("serve %v: %v, want a usage error", bad, err)
		}
	}
}

// --compress, --compress-level and --cache-control build the keys of the
// file; the last two need what they apply to.
func TestCompressFlagsMeanTheFile(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--static", "/=" + dir, "--compress", "--compress-level", "1", "--cache-control", "public, max-age=60"}
	file := `
[[listen]]
addr = "127.0.0.1:8000"
[[site]]
  [[site.route]]
  path = "/"
  static = { root = "` + dir + `", cache_control = "public, max-age=60" }
  compress = { gzip_level = 1 }
`
	flagsMeanFile(t, args, file, true)
	for _, args := range [][]string{{"--demo", "--compress-level", "3"}, {"--demo", "--cache-control", "no-cache"}, {"--static", "/=" + dir, "--compress", "--compress-level", "10"}} {
		if _, _, err := runCLI(append([]string{"serve"}, args...)...); exitCode(err) != 2 {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// --proxy-protocol and --proxy-from set the keys of every HTTP listener.
func TestProxyProtocolFlagsMeanTheFile(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--http", ":8000", "--static", "/=" + dir, "--proxy-protocol", "--proxy-from", "10.0.0.0/8", "--proxy-from", "192.0.2.7"}
	file := `
[[listen]]
addr = ":8000"
proxy_protocol = true
proxy_from = ["10.0.0.0/8", "192.0.2.7"]
[[site]]
  [[site.route]]
  path = "/"
  static = { root = "` + dir + `" }
`
	flagsMeanFile(t, args, file, true)
	// --https listeners too, as serve --help says.
	args = []string{"--http", ":8000", "--https", ":8443", "--cert", "/etc/c.pem", "--key", "/etc/c.key", "--static", "/=" + dir, "--proxy-protocol"}
	file = `
[[listen]]
addr = ":8000"
proxy_protocol = true
[[listen]]
addr = ":8443"
proxy_protocol = true
tls = { cert = "/etc/c.pem", key = "/etc/c.key" }
[[site]]
  [[site.route]]
  path = "/"
  static = { root = "` + dir + `" }
`
	flagsMeanFile(t, args, file, true)
	if _, _, err := runCLI("serve", "--demo", "--proxy-from", "10.0.0.1"); exitCode(err) != 2 {
		t.Errorf("--proxy-from alone: %v", err)
	}
}
