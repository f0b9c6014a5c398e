package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// systemPython is Debian's interpreter, which has Flask (scripts/deps.sh).
func systemPython(t *testing.T) string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is required (make test installs it)")
	}
	return p
}

func wsgiApps(t *testing.T) string {
	dir, err := filepath.Abs("../../backend/wsgi/testdata")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// workerPIDs asks /pid until it has seen n distinct worker processes.
func workerPIDs(t *testing.T, addr string, n int) map[string]bool {
	t.Helper()
	pids := map[string]bool{}
	for i := 0; i < 200 && len(pids) < n; i++ {
		out, _, err := curl(t, "http://"+addr+"/pid")
		if err != nil {
			t.Fatal(err)
		}
		pids[out] = true
	}
	if len(pids) != n {
		t.Fatalf("saw %d worker processes, want %d: %v", len(pids), n, pids)
	}
	return pids
}

// The one-command Flask deployment: serve --wsgi, then SIGHUP reloads the
// workers and SIGTERM drains in-flight requests before exiting 0.
func TestWSGIServeReloadDrain(t *testing.T) {
	p := start(t, "--wsgi", "apps:plain", "--chdir", wsgiApps(t), "--python", systemPython(t), "--workers", "2")
	if out, _, err := curl(t, "http://"+p.addr+"/hello"); err != nil || out != "Hello, world" {
		t.Fatalf("GET /hello: %q %v", out, err)
	}
	before := workerPIDs(t, p.addr, 2)

	p.signal(syscall.SIGHUP)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.stderr.String(), "wsgi workers reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload:\n%s", p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The log says what SIGHUP did: here only the workers restart, and the
	// configuration is not read again.
	if logs := p.stderr.String(); strings.Contains(logs, "SIGHUP: reloading") ||
		!strings.Contains(logs, "SIGHUP: restarting the WSGI workers; the configuration is not re-read") {
		t.Errorf("SIGHUP's line:\n%s", logs)
	}
	after := workerPIDs(t, p.addr, 2)
	for pid := range after {
		if before[pid] {
			t.Errorf("process %s survived the reload", pid)
		}
	}

	// A request in flight when SIGTERM comes still gets its answer.
	var wg sync.WaitGroup
	var slow string
	var slowErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		slow, _, slowErr = curl(t, "http://"+p.addr+"/slow?s=1")
	}()
	time.Sleep(300 * time.Millisecond)
	p.signal(syscall.SIGTERM)
	wg.Wait()
	if slowErr != nil || slow != "slept" {
		t.Errorf("in-flight request during shutdown: %q %v", slow, slowErr)
	}
	if code := p.wait(15 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	for pid := range after {
		n := 0
		for _, c := range pid {
			n = n*10 + int(c-'0')
		}
		if syscall.Kill(n, 0) == nil {
			t.Errorf("worker %d outlived gatehouse", n)
		}
	}
}

// An application that cannot be imported stops start-up: the Python error and
// exit status 2, not a server failing each request.
func TestWSGIImportErrorExits(t *testing.T) {
	cmd := exec.Command(binary, "serve", "--wsgi", "no_such_module:app", "--chdir", wsgiApps(t),
		"--python", systemPython(t), "--workers", "2", "--http", freeAddr(t))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ModuleNotFoundError: No module named 'no_such_module'") ||
		!strings.Contains(string(out), `cannot load the application "no_such_module:app"`) {
		t.Fatalf("output:\n%s", out)
	}
	if strings.Contains(string(out), "msg=listening") {
		t.Fatalf("it listened before failing:\n%s", out)
	}
}

// A Flask application, the README's example.
func TestWSGIFlask(t *testing.T) {
	p := start(t, "--wsgi", "flaskapp:app", "--chdir", wsgiApps(t), "--python", systemPython(t), "--workers", "2")
	out, _, err := curl(t, "-i", "http://"+p.addr+"/go")
	if err != nil || !strings.Contains(out, "HTTP/1.1 302 ") || !strings.Contains(out, "Location: /user/redirected") {
		t.Fatalf("redirect: %q %v", out, err)
	}
	out, _, err = curl(t, "-H", "Content-Type: application/json", "--data", `{"k":"v"}`, "http://"+p.addr+"/json")
	if err != nil || !strings.Contains(out, `"got":{"k":"v"}`) {
		t.Fatalf("json: %q %v", out, err)
	}
}
