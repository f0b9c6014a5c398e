package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var toolMu sync.Mutex

// GoTool returns the path of a program built from the Go module proxy, such
// as "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3": built once per
// machine into the user's cache directory (gatehouse-tools/NAME@VERSION) and
// reused, so that a fresh machine needs only the proxy. The build is bounded
// to 5 minutes; a failure fails the test, it never skips it.
func GoTool(t testing.TB, pkgAtVersion string) string {
	t.Helper()
	pkg, version, ok := strings.Cut(pkgAtVersion, "@")
	if !ok {
		t.Fatalf("GoTool %q: want PACKAGE@VERSION", pkgAtVersion)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "gatehouse-tools", filepath.Base(pkg)+"@"+version)
	bin := filepath.Join(dir, filepath.Base(pkg))
	toolMu.Lock()
	defer toolMu.Unlock()
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-*")
	if err != nil {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if tmp, err = os.MkdirTemp(filepath.Dir(dir), ".build-*"); err != nil {
			t.Fatal(err)
		}
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "install", pkgAtVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-modcacherw", "GO111MODULE=on")
	cmd.Dir = tmp // outside any module: go install pkg@version
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		cmd.Process.Kill()
		<-done
		t.Fatalf("go install %s: over 5 minutes", pkgAtVersion)
	}
	if err != nil {
		t.Fatalf("go install %s: %v\n%s", pkgAtVersion, err, out)
	}
	// Another process may have built it meanwhile: renaming a directory over
	// a missing one is atomic, and losing the race leaves theirs in place.
	os.MkdirAll(filepath.Dir(dir), 0o755)
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
		if _, serr := os.Stat(bin); serr != nil {
			t.Fatalf("install %s: %v", pkgAtVersion, err)
		}
	}
	return bin
}

// ModuleDir returns where the module cache holds a module version, such as
// "github.com/letsencrypt/pebble/v2@v2.10.3" (after GoTool fetched it).
func ModuleDir(t testing.TB, modAtVersion string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), modAtVersion)
}
