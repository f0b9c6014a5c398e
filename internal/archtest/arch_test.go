// Package archtest checks the layering of docs/design.md: a package imports
// only packages of lower layers.
package archtest

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

const module = "gatehouse"

// testOnly are the helpers of tests: imported by _test.go files only (their
// test imports are not checked by TestLayers), never by a package's own code,
// so nothing of them reaches the binary. Only other test helpers may import
// them.
var testOnly = map[string]bool{
	module + "/internal/testutil":  true,
	module + "/internal/testserve": true,
	module + "/web/webtest":        true,
}

// layer gives each package its layer. A new package must be added here (and to
// docs/design.md): the test fails for packages it does not know.
func layer(pkg string) (int, bool) {
	p := strings.TrimPrefix(pkg, module+"/")
	switch {
	case p == "internal/testserve":
		return 4, true // a test helper that runs the HTTP server: imported by tests only
	case strings.HasPrefix(p, "internal/"):
		return 0, true
	case strings.HasPrefix(p, "proto/"), p == "web", p == "config":
		return 1, true
	case p == "listen", p == "tlsconf", p == "engine", p == "resolver", p == "web/nethttp", p == "web/webtest", p == "web/webcgi", p == "store":
		return 2, true
	case p == "middleware/requestid": // its slot is read by other middleware: the header rules, the access log
		return 3, true
	case p == "engine/epoll", strings.HasPrefix(p, "serve/"), p == "route", p == "upstream", p == "upstream/relay", p == "middleware/session", p == "middleware/realip":
		return 3, true
	case strings.HasPrefix(p, "middleware/"), strings.HasPrefix(p, "backend/"):
		return 4, true
	case p == "server":
		return 5, true
	case strings.HasPrefix(p, "cmd/"):
		return 6, true
	}
	return 0, false
}

func TestLayers(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg, imports := fields[0], fields[1:]
		if strings.HasPrefix(pkg, module+"/internal/archtest") {
			continue
		}
		l, ok := layer(pkg)
		if !ok {
			t.Errorf("%s has no layer: add it to the table here and in docs/design.md", pkg)
			continue
		}
		for _, imp := range imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			il, ok := layer(imp)
			if !ok {
				continue // reported on its own line
			}
			if il >= l && !(l == 0 && il == 0) {
				t.Errorf("%s (layer %d) imports %s (layer %d): only lower layers may be imported", pkg, l, imp, il)
			}
			checked++
		}
	}
	if checked < 20 {
		t.Fatalf("only %d imports checked; is go list working?", checked)
	}
}

func TestTestHelpersOnlyInTests(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg, imports := fields[0], fields[1:]
		if testOnly[pkg] {
			seen++
			continue
		}
		for _, imp := range imports {
			if testOnly[imp] {
				t.Errorf("%s imports %s, a test helper: import it from _test.go files only", pkg, imp)
			}
		}
	}
	if seen != len(testOnly) {
		t.Fatalf("found %d of the %d test helpers; one was renamed? update testOnly", seen, len(testOnly))
	}
}

// web, proto, serve and upstream must not depend on net/http: compatibility
// lives in web/nethttp, so only code that uses it pays for it (upstream's
// health checks speak HTTP/1.1 with proto/http1). One exception is kept
// for: serve/h2, where a connection whose ALPN chose h2 is handed to Go's own
// HTTP/2 server (never a hand-written one), which lives in net/http.
func TestWebDoesNotImportNetHTTP(t *testing.T) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}", module+"/web", module+"/proto/...", module+"/serve/...", module+"/upstream")
	cmd.Dir = "../.."
	pkgs, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(pkgs)) {
		if pkg == module+"/serve/h2" {
			continue
		}
		deps := exec.Command("go", "list", "-deps", pkg)
		deps.Dir = "../.."
		out, err := deps.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "net/http" {
				t.Fatalf("%s depends on net/http", pkg)
			}
		}
	}
}
