package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"gatehouse/internal/testutil"
)

// pythonHTTPServer starts Python's http.server on 127.0.0.1 serving a
// directory whose who.txt says name.
func pythonHTTPServer(t *testing.T, name string) (addr string, p *testutil.Proc) {
	addr, _, p = pythonHTTPServerIn(t, name)
	return addr, p
}

// pythonHTTPServerIn is pythonHTTPServer that also gives the directory.
func pythonHTTPServerIn(t *testing.T, name string) (addr, dir string, p *testutil.Proc) {
	t.Helper()
	dir = t.TempDir()
	os.WriteFile(filepath.Join(dir, "who.txt"), []byte(name), 0o644)
	addr = testutil.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	p = testutil.Start(t, nil, systemPython(t), "-m", "http.server", port, "--bind", "127.0.0.1", "--directory", dir)
	p.WaitDial(t, addr)
	return addr, dir, p
}

// The done-when: serve --proxy-pass twice balances a real app
// (Python's http.server) with health checks, and when one of them dies the
// requests go on, to the other, without an error reaching a client.
func TestProxyPassBalancesAndFailsOver(t *testing.T) {
	a, pa := pythonHTTPServer(t, "a")
	b, _ := pythonHTTPServer(t, "b")
	p := start(t, "--proxy-pass", "http://"+a, "--proxy-pass", "http://"+b, "--proxy-health", "/who.txt")
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		out, _, err := curl(t, "http://"+p.addr+"/who.txt")
		if err != nil {
			t.Fatal(err)
		}
		seen[out]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Fatalf("round robin over two: %v", seen)
	}
	pa.Stop(time.Second)
	for i := 0; i < 10; i++ {
		out, _, err := curl(t, "-w", " %{http_code}", "http://"+p.addr+"/who.txt")
		if err != nil || out != "b 200" {
			t.Fatalf("request %d after a died: %q %v\n%s", i, out, err, p.stderr.String())
		}
	}
}

// nginx as an upstream, named in a file by an [[upstream]] of kind http:
// kept connections, a large body, and its 404.
func TestProxyToNginx(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	os.WriteFile(filepath.Join(dir, "big.txt"), []byte(big), 0o644)
	up := testutil.StartNginx(t, `
		location / { root `+dir+`; }
		location = /hello { default_type text/plain; return 200 "hello from nginx\n"; }`)
	addr := freeAddr(t)
	file := filepath.Join(t.TempDir(), "g.toml")
	os.WriteFile(file, []byte(fmt.Sprintf(`
[[listen]]
addr = %q

[[upstream]]
name = "web"
kind = "http"
addrs = [%q]

[[site]]
  [[site.route]]
  path = "/"
  proxy = { pass = "web", via = true }
`, addr, up)), 0o644)
	if out, err := checkFile(file); err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	p := startConfig(t, file, addr)
	out, _, err := curl(t, "-i", "http://"+addr+"/hello", "http://"+addr+"/hello")
	if err != nil || strings.Count(out, "hello from nginx\n") != 2 || !strings.Contains(out, "Via: 1.1 gatehouse") ||
		strings.Contains(out, "nginx/") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, _, err = curl(t, "http://"+addr+"/big.txt")
	if err != nil || out != big {
		t.Fatalf("big: %v, %d bytes", err, len(out))
	}
	out, _, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", "http://"+addr+"/none")
	if out != "404" {
		t.Fatalf("missing file: %s", out)
	}
	_ = p
}

// checkFile runs gatehouse check on a file.
func checkFile(file string) (string, error) {
	out, errOut, err := runCLI("check", file)
	return out + errOut, err
}

// Django behind a TLS-terminating proxy that it trusts sees a secure
// request from the real client; behind one it does not trust, or with
// the same fields forged by a client, it never does.
func TestDjangoSecureBehindTrustedProxy(t *testing.T) {
	app, err := filepath.Abs("testdata/django")
	if err != nil {
		t.Fatal(err)
	}
	django := func(extra ...string) *proc {
		return start(t, append([]string{"--wsgi", "djapp:application", "--chdir", app, "--python", systemPython(t), "--workers", "1"}, extra...)...)
	}
	trusting := django("--trusted-proxy", "127.0.0.1")
	wary := django()
	tlsDir := testdataDir(t, "tls")
	front := func(backend string) string {
		addr := freeAddr(t)
		start(t, "--https", addr, "--cert", filepath.Join(tlsDir, "address-only.pem"), "--key", filepath.Join(tlsDir, "address-only.key"),
			"--proxy-pass", "http://"+backend)
		return addr
	}
	for _, tc := range []struct {
		name, url string
		args      []string
		want      string
	}{
		{"trusted TLS proxy", "https://" + front(trusting.addr) + "/info", nil,
			"secure=True remote=127.0.0.1 scheme=https xfp=https xff=127.0.0.1\n"},
		{"untrusted TLS proxy", "https://" + front(wary.addr) + "/info", nil,
			"secure=False remote=127.0.0.1 scheme=http xfp= xff=\n"},
		{"client forging the fields, trusted address", "http://" + trusting.addr + "/info",
			[]string{"-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-For: 203.0.113.9"},
			"secure=True remote=203.0.113.9 scheme=https xfp=https xff=203.0.113.9\n"},
		{"client forging the fields", "http://" + wary.addr + "/info",
			[]string{"-H", "X-Forwarded-Proto: https", "-H", "X-Forwarded-For: 203.0.113.9", "-H", "X_Forwarded_Proto: https"},
			"secure=False remote=127.0.0.1 scheme=http xfp= xff=\n"},
	} {
		out, _, err := curl(t, append([]string{"-k"}, append(tc.args, tc.url)...)...)
		if err != nil || out != tc.want {
			t.Errorf("%s: %v\n got %q\nwant %q", tc.name, err, out, tc.want)
		}
	}
}

// TLS to an upstream is verified: with its CA named it works, against the
// system's roots a self-signed upstream is refused (502).
func TestProxyToHTTPSUpstream(t *testing.T) {
	tlsDir := testdataDir(t, "tls")
	backend := freeAddr(t)
	start(t, "--https", backend, "--cert", filepath.Join(tlsDir, "address-only.pem"), "--key", filepath.Join(tlsDir, "address-only.key"), "--demo")
	for _, tc := range []struct {
		ca   string
		want string
	}{{filepath.Join(tlsDir, "address-only.pem"), "200"}, {"", "502"}} {
		addr := freeAddr(t)
		file := filepath.Join(t.TempDir(), "g.toml")
		ca := ""
		if tc.ca != "" {
			ca = fmt.Sprintf("tls_ca = %q", tc.ca)
		}
		os.WriteFile(file, []byte(fmt.Sprintf(`
[[listen]]
addr = %q
[[upstream]]
name = "secure"
kind = "https"
addrs = [%q]
%s
[[site]]
  [[site.route]]
  path = "/"
  proxy = { pass = "secure" }
`, addr, backend, ca)), 0o644)
		p := startConfig(t, file, addr)
		out, _, _ := curl(t, "-o", "/dev/null", "-w", "%{http_code}", "http://"+addr+"/")
		if out != tc.want {
			t.Errorf("tls_ca %q: %s, want %s\n%s", tc.ca, out, tc.want, p.stderr.String())
		}
	}
}

// A WebSocket through the binary, with the default buffering on the route.
func TestProxyWebSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: websocket.Handler(func(ws *websocket.Conn) {
		for {
			var m string
			if websocket.Message.Receive(ws, &m) != nil || websocket.Message.Send(ws, "echo: "+m) != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	defer srv.Close()
	for _, engine := range []string{"epoll", "goroutine"} {
		p := start(t, "--proxy-pass", "http://"+ln.Addr().String(), "--engine", engine)
		ws, err := websocket.Dial("ws://"+p.addr+"/ws", "", "http://"+p.addr+"/")
		if err != nil {
			t.Fatalf("%s: %v\n%s", engine, err, p.stderr.String())
		}
		ws.SetDeadline(time.Now().Add(10 * time.Second))
		for _, m := range []string{"one", "two"} {
			websocket.Message.Send(ws, m)
			var got string
			if err := websocket.Message.Receive(ws, &got); err != nil || got != "echo: "+m {
				t.Fatalf("%s: %q %v", engine, got, err)
			}
		}
		ws.Close()
	}
}

// The proxy flags build the routes of the equivalent file: one URL is the
// route's pass, several an [[upstream]] "proxy".
func TestProxyFlagsMeanTheFile(t *testing.T) {
	flagsMeanFile(t, []string{"--proxy-pass", "http://127.0.0.1:3000", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", "unix", "--http", "127.0.0.1:8000"}, `
[[listen]]
addr = "127.0.0.1:8000"
[http]
trusted_proxies = ["10.0.0.0/8", "unix"]
[[site]]
  [[site.route]]
  path = "/"
  proxy = { pass = "http://127.0.0.1:3000" }
`, true)
	flagsMeanFile(t, []string{"--proxy-pass", "https://a.internal", "--proxy-pass", "https://b.internal:8443/", "--http", "127.0.0.1:8000"}, `
[[listen]]
addr = "127.0.0.1:8000"
[[upstream]]
name = "proxy"
kind = "https"
addrs = ["a.internal:443", "b.internal:8443"]
[[site]]
  [[site.route]]
  path = "/"
  proxy = { pass = "proxy" }
`, true)
	flagsMeanFile(t, []string{"--proxy-pass", "unix:/run/app.sock", "--proxy-balance", "least_conn", "--proxy-health", "/healthz", "--http", "127.0.0.1:8000"}, `
[[listen]]
addr = "127.0.0.1:8000"
[[upstream]]
name = "proxy"
kind = "http"
addrs = ["unix:/run/app.sock"]
balance = "least_conn"
health = { kind = "http", path = "/healthz" }
[[site]]
  [[site.route]]
  path = "/"
  proxy = { pass = "proxy" }
`, true)
	for _, bad := range [][]string{
		{"--proxy-pass", "http://127.0.0.1:1", "--proxy-balance", "weighted"},         // no such policy
		{"--proxy-pass", "http://127.0.0.1:1", "--proxy-health", "healthz"},           // not a path
		{"--demo", "--proxy-health", "/healthz"},                                      // no --proxy-pass
		{"--proxy-pass", "http://127.0.0.1:1", "--proxy-pass", "https://127.0.0.1:2"}, // two schemes
		{"--proxy-pass", "app"},                          // a name, not a URL
		{"--proxy-pass", "http://127.0.0.1:1/api"},       // a path
		{"--proxy-pass", "http://127.0.0.1:1", "--demo"}, // both want /
		{"--demo", "--trusted-proxy", "lb.internal"},     // not an address
	} {
		if _, _, err := runCLI(append([]string{"serve"}, bad...)...); exitCode(err) != 2 {
			t.Errorf("serve %v: %v, want a usage error", bad, err)
		}
	}
}

// Active health checks against real servers: an upstream whose health page
// does not say "ok" gets no traffic although it answers, and gets its share
// again once the page does; ip_hash keeps one client on one server.
func TestProxyActiveHealthAndIPHash(t *testing.T) {
	a, dirA, _ := pythonHTTPServerIn(t, "a")
	b, dirB, _ := pythonHTTPServerIn(t, "b")
	os.WriteFile(filepath.Join(dirA, "health.txt"), []byte("failing\n"), 0o644)
	os.WriteFile(filepath.Join(dirB, "health.txt"), []byte("ok\n"), 0o644)
	addr := freeAddr(t)
	file := filepath.Join(t.TempDir(), "g.toml")
	os.WriteFile(file, []byte(fmt.Sprintf(`
[[listen]]
addr = %q

[[upstream]]
name = "web"
kind = "http"
addrs = [%q, %q]
health = { kind = "http", path = "/health.txt", expect_body = "^ok", interval = "100ms", timeout = "1s", rise = 1, fall = 1 }

[[upstream]]
name = "sticky"
kind = "http"
balance = "ip_hash"
addrs = [%q, %q]

[[site]]
  [[site.route]]
  path = "/"
  proxy = { pass = "web" }
  [[site.route]]
  path = "/sticky/"
  proxy = { pass = "sticky" }
`, addr, a, b, a, b)), 0o644)
	if out, err := checkFile(file); err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	p := startConfig(t, file, addr)
	count := func(path string, n int) map[string]int {
		seen := map[string]int{}
		for i := 0; i < n; i++ {
			out, _, err := curl(t, "http://"+addr+path)
			if err != nil {
				t.Fatal(err)
			}
			seen[out]++
		}
		return seen
	}
	deadline := time.Now().Add(5 * time.Second)
	for seen := count("/who.txt", 6); seen["b"] != 6; seen = count("/who.txt", 6) {
		if time.Now().After(deadline) {
			t.Fatalf("a failing its health check still gets traffic: %v\n%s", seen, p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	os.WriteFile(filepath.Join(dirA, "health.txt"), []byte("ok\n"), 0o644)
	deadline = time.Now().Add(5 * time.Second)
	for seen := count("/who.txt", 6); seen["a"] != 3 || seen["b"] != 3; seen = count("/who.txt", 6) {
		if time.Now().After(deadline) {
			t.Fatalf("a healthy again gets no share: %v\n%s", seen, p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(p.stderr.String(), "upstream address down") || !strings.Contains(p.stderr.String(), "upstream address up") {
		t.Errorf("health changes not logged:\n%s", p.stderr.String())
	}
	// ip_hash: every request of this client (127.0.0.1) reaches one server.
	for dir, name := range map[string]string{dirA: "a", dirB: "b"} {
		os.MkdirAll(filepath.Join(dir, "sticky"), 0o755)
		os.WriteFile(filepath.Join(dir, "sticky", "who.txt"), []byte(name), 0o644)
	}
	if seen := count("/sticky/who.txt", 8); len(seen) != 1 {
		t.Fatalf("ip_hash spread one client over %v", seen)
	}
}

// An [[upstream]] that cannot be built is one problem, at its own key: the
// proxy route that passes to it adds none of its own.
func TestProxyUpstreamProblemReportedOnce(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("not a pem\n"), 0o644)
	file := filepath.Join(dir, "t.toml")
	os.WriteFile(file, []byte(`
[[listen]]
addr = "127.0.0.1:8000"

[[upstream]]
name = "app"
kind = "https"
addrs = ["127.0.0.1:9443"]
tls_ca = "`+filepath.Join(dir, "ca.pem")+`"

[[site]]
  [[site.route]]
  path = "/"
  proxy = { pass = "app" }
`), 0o644)
	out, err := checkFile(file)
	if err == nil || !strings.Contains(out, ":9: upstream \"app\"") || strings.Count(out, "t.toml:") != 1 {
		t.Fatalf("check: %v\n%s", err, out)
	}
}
