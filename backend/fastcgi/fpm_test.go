package fastcgi

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

// fpm is a php-fpm the test started: static pm with two children, listening
// on a Unix socket in a fresh directory, with a php.ini of its own.
type fpm struct {
	dir  string // holds the socket, the configuration and the pid file
	sock string // "unix:/.../fpm.sock"
	proc *testutil.Proc
}

const fpmConf = `[global]
error_log = /proc/self/fd/2
daemonize = no
pid = %[1]s/fpm.pid

[www]
user = root
group = root
listen = %[1]s/fpm.sock
pm = static
pm.max_children = 2
pm.max_requests = %[2]d
clear_env = yes
catch_workers_output = yes
security.limit_extensions = .php
access.log = %[1]s/access.log
access.format = "%%m %%r%%Q%%q %%s"
`

const phpINI = `post_max_size = 256M
upload_max_filesize = 128M
memory_limit = 64M
output_buffering = 0
max_execution_time = 0
display_errors = Off
log_errors = On
upload_tmp_dir = %[1]s
sys_temp_dir = %[1]s
opcache.enable = 0
`

// startFPM starts php-fpm8.2 (as root it needs -R, and pool user root).
// maxRequests is pm.max_requests: 0 for none.
func startFPM(t *testing.T, maxRequests int) *fpm {
	t.Helper()
	dir := testutil.ShortTempDir(t)
	f := &fpm{dir: dir, sock: "unix:" + filepath.Join(dir, "fpm.sock")}
	if err := os.WriteFile(filepath.Join(dir, "fpm.conf"), []byte(fmt.Sprintf(fpmConf, dir, maxRequests)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "php.ini"), []byte(fmt.Sprintf(phpINI, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	f.start(t)
	return f
}

// start runs a php-fpm on f's socket: the first, or a new one after a kill.
func (f *fpm) start(t *testing.T) {
	t.Helper()
	args := []string{"-F", "-y", filepath.Join(f.dir, "fpm.conf"), "-c", filepath.Join(f.dir, "php.ini")}
	if os.Geteuid() == 0 {
		args = append(args, "-R")
	}
	f.proc = testutil.Start(t, nil, "php-fpm8.2", args...)
	f.proc.WaitDial(t, f.sock)
}

// kill ends php-fpm at once (SIGKILL to its process group, by PID), the way
// a crash would, and waits for it.
func (f *fpm) kill(t *testing.T) {
	t.Helper()
	f.proc.Signal(syscall.SIGKILL)
	if _, ok := f.proc.Wait(10 * time.Second); !ok {
		t.Fatal("php-fpm did not exit")
	}
}

// requests returns how many requests php-fpm has logged as served.
func (f *fpm) requests() int {
	b, _ := os.ReadFile(filepath.Join(f.dir, "access.log"))
	return strings.Count(string(b), "\n")
}

// waitRequests waits until php-fpm has logged n requests, and fails if it
// logged more: a request the gateway should have refused reached it.
func (f *fpm) waitRequests(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.requests() < n {
		if time.Now().After(deadline) {
			t.Fatalf("php-fpm logged %d requests, want %d", f.requests(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := f.requests(); got != n {
		b, _ := os.ReadFile(filepath.Join(f.dir, "access.log"))
		t.Fatalf("php-fpm logged %d requests, want %d:\n%s", got, n, b)
	}
}
