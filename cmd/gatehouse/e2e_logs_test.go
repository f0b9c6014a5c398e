package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFile waits up to 10 s for the file to contain s.
func waitFile(t *testing.T, path, s string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), s) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s lacks %q:\n%s", path, s, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogFormatAndReopen: a format of variables (nginx's log_format) with
// the request ID, TLS-less $ssl_protocol and the application's timings, and
// SIGUSR1 after logrotate's rename: lines before it stay in the renamed
// files, lines after go to new ones under the old names, for the access
// log and the error log alike.
func TestLogFormatAndReopen(t *testing.T) {
	dir := t.TempDir()
	access, errLog := filepath.Join(dir, "access.log"), filepath.Join(dir, "error.log")
	cgiDir, _ := filepath.Abs("testdata/cgi-bin")
	addr := freeAddr(t)
	cmd := exec.Command(binary, "serve", "--http", addr, "--cgi", "/cgi-bin/="+cgiDir, "--request-id",
		"--access-log", access, "--log-file", errLog,
		"--access-log-format", `$remote_addr "$request" $status id=$request_id tls=$ssl_protocol up=$upstream_connect_time/$upstream_header_time/$upstream_response_time t=$request_time`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // our own child, by PID
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	waitFile(t, errLog, "msg=listening")
	// A client's own ID is replaced (it is no trusted proxy); the
	// application gets the one the client is sent back.
	out, _, err := curl(t, "-D", "-", "-H", "X-Request-ID: forged-by-the-client", "http://"+addr+"/cgi-bin/env.sh")
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`(?i)x-request-id: ([0-9a-f]{32})`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("no X-Request-ID:\n%s", out)
	}
	if !strings.Contains(out, "HTTP_X_REQUEST_ID="+id[1]+"\n") || strings.Contains(out, "forged") {
		t.Fatalf("the application did not get the request's own ID:\n%s", out)
	}
	line := waitFile(t, access, "id="+id[1])
	if !regexp.MustCompile(`^127\.0\.0\.1 "GET /cgi-bin/env.sh HTTP/1.1" 200 id=` + id[1] +
		` tls=- up=\d+\.\d{3}/\d+\.\d{3}/\d+\.\d{3} t=\d+\.\d{3}\n$`).MatchString(line) {
		t.Errorf("access log line %q", line)
	}

	// logrotate: rename, then SIGUSR1.
	os.Rename(access, access+".1")
	os.Rename(errLog, errLog+".1")
	cmd.Process.Signal(syscall.SIGUSR1)
	waitFile(t, errLog, "SIGUSR1: log files reopened")
	if _, _, err := curl(t, "http://"+addr+"/cgi-bin/env.sh?after"); err != nil {
		t.Fatal(err)
	}
	waitFile(t, access, "env.sh?after")
	if old, _ := os.ReadFile(access + ".1"); strings.Contains(string(old), "after") || !strings.Contains(string(old), id[1]) {
		t.Errorf("the renamed access log: %q", old)
	}
}
