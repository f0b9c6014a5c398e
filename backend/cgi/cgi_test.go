package cgi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

type logBuffer = testutil.LogBuffer

// scripts are the test's CGI programs: shell scripts and Python (Debian's
// /usr/bin/python3, not whatever python3 is first on PATH).
var scripts = map[string]string{
	"env.sh": `#!/bin/sh
printf 'Content-Type: text/plain\n\n'
env | sort
echo "cwd=$(pwd)"
`,
	"echo.py": `#!/usr/bin/python3
import os, sys
n = int(os.environ.get("CONTENT_LENGTH") or 0)
data = sys.stdin.buffer.read(n)
sys.stdout.buffer.write(b"Status: 201 Created\r\nContent-Type: application/octet-stream\r\nX-Length: " +
    str(len(data)).encode() + b"\r\n\r\n" + data)
`,
	"big.py": `#!/usr/bin/python3
import sys
sys.stdout.write("Content-Type: application/octet-stream\n\n")
sys.stdout.flush()
chunk = b"0123456789abcdef" * 4096
for _ in range(80):
    sys.stdout.buffer.write(chunk)
`,
	"notfound.sh": "#!/bin/sh\nprintf 'Status: 404 Not Found\\nContent-Type: text/plain\\n\\nno such thing\\n'\n",
	"local.sh":    "#!/bin/sh\nprintf 'Location: /landing?from=cgi\\n\\n'\n",
	"loop.sh":     "#!/bin/sh\nprintf 'Location: /cgi-bin/loop.sh\\n\\n'\n",
	"client.sh":   "#!/bin/sh\nprintf 'Location: https://example.test/elsewhere\\nSet-Cookie: a=b\\n\\n'\n",
	"moved.sh":    "#!/bin/sh\nprintf 'Status: 301 Moved Permanently\\nLocation: /new\\nContent-Type: text/html\\n\\n<a href=/new>moved</a>'\n",
	"stderr.sh":   "#!/bin/sh\necho 'oops: first' >&2\necho 'oops: second' >&2\nprintf 'Content-Type: text/plain\\n\\nfine'\n",
	"nohead.sh":   "#!/bin/sh\necho 'just text'\n",
	"fail.sh":     "#!/bin/sh\nexit 3\n",
	"hop.sh":      "#!/bin/sh\nprintf 'Content-Type: text/plain\\nConnection: keep-alive\\nTransfer-Encoding: chunked\\nContent-Length: 2\\n\\nok'\n",
	"slow.sh": `#!/bin/sh
echo $$ > "$PIDS"
sleep 60 &
echo $! >> "$PIDS"
sleep 60
`,
	"silent.sh": `#!/bin/sh
echo $$ > "$PIDS"
sleep 60
`,
	"chatty.sh": `#!/bin/sh
echo $$ > "$PIDS"
printf 'Content-Type: text/plain\n\n'
while :; do echo tick; sleep 0.02; done
`,
	"bighead.sh": `#!/bin/sh
echo $$ > "$PIDS"
i=0
while [ $i -lt 5000 ]; do echo "X-Fill-$i: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; i=$((i+1)); done
sleep 60
`,
	"stream.sh": `#!/bin/sh
printf 'Content-Type: text/plain\n\nfirst\n'
while [ ! -e "$GO" ]; do sleep 0.01; done
printf 'second\n'
`,
	"nph-raw.sh":  "#!/bin/sh\nprintf 'HTTP/1.1 299 Custom\\r\\nContent-Type: text/plain\\r\\nX-Nph: yes\\r\\nContent-Length: 3\\r\\nConnection: close\\r\\n\\r\\nraw'\n",
	"sub/deep.sh": "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n%s|%s|%s\\n' \"$SCRIPT_NAME\" \"$PATH_INFO\" \"$(pwd)\"\n",
}

type fixture struct {
	root, outside string
	pids          string // file the scripts write their PIDs to
	gofile        string // stream.sh waits for it
	logs          *logBuffer
	addr          string
	h             *Handler
}

func setup(t *testing.T, cfg Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	fx := &fixture{root: filepath.Join(dir, "cgi"), outside: filepath.Join(dir, "outside"),
		pids: filepath.Join(dir, "pids"), gofile: filepath.Join(dir, "go"), logs: &logBuffer{}}
	os.MkdirAll(filepath.Join(fx.root, "sub"), 0o755)
	os.MkdirAll(fx.outside, 0o755)
	for name, text := range scripts {
		if err := os.WriteFile(filepath.Join(fx.root, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(fx.root, "noexec.sh"), []byte(scripts["env.sh"]), 0o644)
	os.WriteFile(filepath.Join(fx.root, ".hidden.sh"), []byte(scripts["env.sh"]), 0o755)
	os.WriteFile(filepath.Join(fx.outside, "secret.sh"), []byte(scripts["env.sh"]), 0o755)
	os.Symlink(filepath.Join(fx.outside, "secret.sh"), filepath.Join(fx.root, "escape.sh"))
	os.Symlink(fx.outside, filepath.Join(fx.root, "escapedir"))
	os.Symlink("env.sh", filepath.Join(fx.root, "inside.sh"))

	cfg.Root = fx.root
	if cfg.Prefix == "" {
		cfg.Prefix = "/cgi-bin/"
	}
	cfg.Logger = fx.logs.Logger()
	cfg.Params = append(cfg.Params, [2]string{"PIDS", fx.pids}, [2]string{"GO", fx.gofile})
	var mux web.HandlerFunc
	h := &Handler{}
	mux = func(w web.ResponseWriter, r *web.Request) error {
		switch {
		case strings.HasPrefix(string(r.RawPath()), "/cgi-bin/"):
			return h.ServeHTTP(w, r)
		case string(r.RawPath()) == "/landing":
			fmt.Fprintf(w, "landing %s %s len=%d type=%q cookie=%q", r.Method(), r.Target(),
				r.ContentLength(), r.Header.Get("Content-Type"), r.Header.Get("Cookie"))
			return nil
		}
		return web.ErrNotFound
	}
	if cfg.LocalRedirect == nil {
		cfg.LocalRedirect = mux
	}
	built, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	*h = *built
	fx.h = h
	fx.addr = serve(t, mux)
	return fx
}

// serve runs h behind the real HTTP server on 127.0.0.1.
func serve(t *testing.T, h web.Handler) string {
	t.Helper()
	return testserve.HTTP(t, h, shttp.Config{})
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(15 * time.Second))
	return c
}

// do sends a request (the target exactly as given) and reads the response
// with net/http's parser.
func do(t *testing.T, addr, method, target, body string, fields ...string) (*http.Response, string) {
	t.Helper()
	c := dial(t, addr)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n", method, target)
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	chunked := strings.Contains(strings.Join(fields, "\n"), "Transfer-Encoding: chunked")
	if body != "" && !chunked {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	io.WriteString(c, b.String())
	r, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, target, err)
	}
	return r, string(got)
}

func envOf(body string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(body, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			env[k] = v
		}
	}
	return env
}

func TestEnvironment(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_SECRET", "s3cret")
	fx := setup(t, Config{})
	r, body := do(t, fx.addr, "POST", "/cgi-bin/env.sh/extra/p%20ath?q=1&r=%20", "data",
		"Content-Type: text/plain", "X-Custom: yes", "Proxy: http://evil.test:3128", "Cookie: a=1", "Cookie: b=2")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("%d %v\n%s", r.StatusCode, r.Header, body)
	}
	env := envOf(body)
	want := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "POST",
		"SCRIPT_NAME": "/cgi-bin/env.sh", "PATH_INFO": "/extra/p ath", "QUERY_STRING": "q=1&r=%20",
		"REQUEST_URI": "/cgi-bin/env.sh/extra/p%20ath?q=1&r=%20", "CONTENT_LENGTH": "4",
		"CONTENT_TYPE": "text/plain", "HTTP_X_CUSTOM": "yes", "HTTP_COOKIE": "a=1; b=2",
		"SERVER_NAME": "example.test", "REMOTE_ADDR": "127.0.0.1", "SERVER_SOFTWARE": "gatehouse",
		"SCRIPT_FILENAME": filepath.Join(fx.root, "env.sh"), "PATH": os.Getenv("PATH"),
		"cwd": fx.root,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s=%q, want %q", k, env[k], v)
		}
	}
	for _, k := range []string{"HTTP_PROXY", "GATEHOUSE_TEST_SECRET", "HTTP_CONTENT_LENGTH", "HOME"} {
		if v, ok := env[k]; ok {
			t.Errorf("%s=%q leaked into the environment", k, v)
		}
	}

	// A script in a subdirectory runs there; the rest of the path is PATH_INFO.
	_, body = do(t, fx.addr, "GET", "/cgi-bin/sub/deep.sh/x/", "")
	if body != "/cgi-bin/sub/deep.sh|/x/|"+filepath.Join(fx.root, "sub")+"\n" {
		t.Fatalf("%q", body)
	}
}

func TestEnvAllowList(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_PASSED", "yes")
	fx := setup(t, Config{Env: []string{"GATEHOUSE_TEST_PASSED", "GATEHOUSE_TEST_UNSET"}})
	// A request field named like the variable cannot override it.
	_, body := do(t, fx.addr, "GET", "/cgi-bin/env.sh", "")
	env := envOf(body)
	if env["GATEHOUSE_TEST_PASSED"] != "yes" || env["PATH"] != "" {
		t.Fatalf("%v", env)
	}
	if _, ok := env["GATEHOUSE_TEST_UNSET"]; ok {
		t.Fatal("unset variable passed")
	}
}

func TestBodies(t *testing.T) {
	fx := setup(t, Config{MaxBodyBytes: 1 << 20})
	t.Run("POST streamed", func(t *testing.T) {
		payload := strings.Repeat("0123456789", 50000) // 500 KB: more than a pipe holds
		r, body := do(t, fx.addr, "POST", "/cgi-bin/echo.py", payload)
		if r.StatusCode != 201 || r.Header.Get("X-Length") != "500000" || body != payload {
			t.Fatalf("%d %v, %d bytes", r.StatusCode, r.Header, len(body))
		}
	})
	t.Run("chunked, spooled", func(t *testing.T) {
		r, body := do(t, fx.addr, "POST", "/cgi-bin/echo.py", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "Transfer-Encoding: chunked")
		if r.StatusCode != 201 || r.Header.Get("X-Length") != "11" || body != "hello world" {
			t.Fatalf("%d %v %q", r.StatusCode, r.Header, body)
		}
	})
	t.Run("chunked over the spool limit", func(t *testing.T) {
		chunk := strings.Repeat("x", 1<<16)
		var b strings.Builder
		for range 17 { // 17 x 64 KiB > 1 MiB
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		b.WriteString("0\r\n\r\n")
		r, _ := do(t, fx.addr, "POST", "/cgi-bin/echo.py", b.String(), "Transfer-Encoding: chunked")
		if r.StatusCode != 413 {
			t.Fatalf("%d", r.StatusCode)
		}
	})
	t.Run("large output", func(t *testing.T) {
		r, body := do(t, fx.addr, "GET", "/cgi-bin/big.py", "")
		if r.StatusCode != 200 || len(body) != 80*65536 || body[:16] != "0123456789abcdef" {
			t.Fatalf("%d, %d bytes", r.StatusCode, len(body))
		}
	})
}

func TestResponses(t *testing.T) {
	fx := setup(t, Config{})
	cases := []struct {
		name, target string
		status       int
		body         string
		fields       map[string]string
	}{
		{"Status: 404", "/cgi-bin/notfound.sh", 404, "no such thing\n", map[string]string{"Content-Type": "text/plain"}},
		{"local redirect", "/cgi-bin/local.sh", 200, `landing GET /landing?from=cgi len=0 type="" cookie="c=1"`, nil},
		{"client redirect", "/cgi-bin/client.sh", 302, "", map[string]string{"Location": "https://example.test/elsewhere", "Set-Cookie": "a=b"}},
		{"redirect with document", "/cgi-bin/moved.sh", 301, "<a href=/new>moved</a>", map[string]string{"Location": "/new"}},
		{"local redirect loop", "/cgi-bin/loop.sh", 500, "500 Internal Server Error\n", nil},
		{"no head", "/cgi-bin/nohead.sh", 502, "502 Bad Gateway\n", nil},
		{"no output", "/cgi-bin/fail.sh", 502, "502 Bad Gateway\n", nil},
		{"hop-by-hop fields dropped", "/cgi-bin/hop.sh", 200, "ok", map[string]string{"Content-Length": "2", "Transfer-Encoding": ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A POST: the redirect must become a GET without the body.
			r, body := do(t, fx.addr, "POST", c.target, "form=data", "Content-Type: application/x-www-form-urlencoded", "Cookie: c=1")
			if r.StatusCode != c.status || body != c.body {
				t.Fatalf("%d %q\nlog:\n%s", r.StatusCode, body, fx.logs.String())
			}
			for k, v := range c.fields {
				if got := r.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
	if log := fx.logs.String(); !strings.Contains(log, "cgi script failed") || !strings.Contains(log, "exit status 3") {
		t.Fatalf("exit status not logged:\n%s", log)
	}
}

func TestLocalRedirectWithoutHandler(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "local.sh"), []byte(scripts["local.sh"]), 0o755)
	h, err := New(Config{Root: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	w := webtest.NewRecorder()
	webtest.Serve(h, w, webtest.NewRequest("GET", "/local.sh", nil))
	if w.Code != 302 || w.Head.Get("Location") != "/landing?from=cgi" {
		t.Fatalf("%d %v", w.Code, w.Head.Get("Location"))
	}
}

func TestStderrLogged(t *testing.T) {
	fx := setup(t, Config{})
	if r, body := do(t, fx.addr, "GET", "/cgi-bin/stderr.sh", ""); r.StatusCode != 200 || body != "fine" {
		t.Fatalf("%d %q", r.StatusCode, body)
	}
	log := fx.logs.String()
	for _, line := range []string{
		`msg="cgi stderr" script=/cgi-bin/stderr.sh line="oops: first"`,
		`msg="cgi stderr" script=/cgi-bin/stderr.sh line="oops: second"`,
	} {
		if !strings.Contains(log, line) {
			t.Errorf("log lacks %s:\n%s", line, log)
		}
	}
}

func TestConfinement(t *testing.T) {
	fx := setup(t, Config{})
	cases := []struct {
		target string
		status int
	}{
		{"/cgi-bin/missing.sh", 404},
		{"/cgi-bin/noexec.sh", 403},
		{"/cgi-bin/.hidden.sh", 404},
		{"/cgi-bin/escape.sh", 404},
		{"/cgi-bin/escapedir/secret.sh", 404},
		{"/cgi-bin/inside.sh", 200},
		{"/cgi-bin/..%2foutside/secret.sh", 400},
		{"/cgi-bin/%2e%2e/outside/secret.sh", 400},
		{"/cgi-bin/sub%2fdeep.sh", 400},
		{"/cgi-bin/env.sh%00", 400},
		{"/cgi-bin/%c0%ae%c0%ae/outside/secret.sh", 400},
		{"/cgi-bin/sub", 404},
		{"/cgi-bin/", 404},
		{"/cgi-binx/env.sh", 404},
	}
	for _, c := range cases {
		r, body := do(t, fx.addr, "GET", c.target, "")
		if r.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.target, r.StatusCode, c.status)
		}
		if c.status != 200 && strings.Contains(body, "GATEWAY_INTERFACE") {
			t.Errorf("%s ran a script", c.target)
		}
	}
}

// gone waits until none of the PIDs in file is alive (zombies count as gone:
// the init of a container may not reap them), failing after 5 s.
func gone(t *testing.T, file string, want int) {
	t.Helper()
	var pids []int
	deadline := time.Now().Add(5 * time.Second)
	for len(pids) < want {
		b, _ := os.ReadFile(file)
		pids = pids[:0]
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d PIDs written: %q", len(pids), want, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d still running", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// TestTimeoutKillsGroup: a script that outlives the timeout is answered 504,
// and its whole process group, the child it left in the background too, is
// killed.
func TestTimeoutKillsGroup(t *testing.T) {
	fx := setup(t, Config{Timeout: 300 * time.Millisecond})
	start := time.Now()
	r, _ := do(t, fx.addr, "GET", "/cgi-bin/slow.sh", "")
	if r.StatusCode != 504 || time.Since(start) > 5*time.Second {
		t.Fatalf("%d after %v", r.StatusCode, time.Since(start))
	}
	gone(t, fx.pids, 2)
}

func TestHeadTooLargeKills(t *testing.T) {
	fx := setup(t, Config{MaxHeaderBytes: 4096})
	r, _ := do(t, fx.addr, "GET", "/cgi-bin/bighead.sh", "")
	if r.StatusCode != 502 {
		t.Fatalf("%d", r.StatusCode)
	}
	gone(t, fx.pids, 1)
	if !strings.Contains(fx.logs.String(), "response head over the limit") {
		t.Fatalf("log:\n%s", fx.logs.String())
	}
}

// TestClientGoneKills: a client that closes its connection while a script is
// still printing has the script killed.
func TestClientGoneKills(t *testing.T) {
	fx := setup(t, Config{})
	c := dial(t, fx.addr)
	io.WriteString(c, "GET /cgi-bin/chatty.sh HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	r, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 5)
	if _, err := io.ReadFull(r.Body, line); err != nil || string(line) != "tick\n" {
		t.Fatalf("%q %v", line, err)
	}
	c.Close()
	gone(t, fx.pids, 1)
}

// TestContextCanceledKills: when the request's context ends (the server saw
// the client go), a script that prints nothing is killed too.
func TestContextCanceledKills(t *testing.T) {
	fx := setup(t, Config{})
	h, err := New(Config{Root: fx.root, Prefix: "/cgi-bin/", Logger: fx.logs.Logger(),
		Params: [][2]string{{"PIDS", fx.pids}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var r web.Request
	r.Init(web.Head{Method: "GET", Target: []byte("/cgi-bin/silent.sh"), Path: []byte("/cgi-bin/silent.sh"),
		Host: []byte("a"), Scheme: "http", ProtoMajor: 1, ProtoMinor: 1},
		web.Conn{Remote: netip.MustParseAddrPort("127.0.0.1:1"), Ctx: ctx}, web.NoBody)
	done := make(chan error, 1)
	go func() { done <- h.ServeHTTP(webtest.NewRecorder(), &r) }()
	for {
		if b, _ := os.ReadFile(fx.pids); len(b) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("no error for an abandoned request")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler did not return")
	}
	gone(t, fx.pids, 1)
}

// TestStreamed: output reaches the client as the script prints it.
func TestStreamed(t *testing.T) {
	fx := setup(t, Config{})
	c := dial(t, fx.addr)
	io.WriteString(c, "GET /cgi-bin/stream.sh HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	r, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 6)
	if _, err := io.ReadFull(r.Body, first); err != nil || string(first) != "first\n" {
		t.Fatalf("%q %v", first, err)
	}
	os.WriteFile(fx.gofile, nil, 0o644) // only now may the script go on
	rest, err := io.ReadAll(r.Body)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("%q %v", rest, err)
	}
}

func TestNPH(t *testing.T) {
	fx := setup(t, Config{NPH: true})
	r, body := do(t, fx.addr, "GET", "/cgi-bin/nph-raw.sh", "")
	if r.StatusCode != 299 || r.Header.Get("X-Nph") != "yes" || body != "raw" {
		t.Fatalf("%d %v %q", r.StatusCode, r.Header, body)
	}
	// Without NPH, the same script is an ordinary one, whose output is no CGI head.
	fx = setup(t, Config{})
	if r, _ := do(t, fx.addr, "GET", "/cgi-bin/nph-raw.sh", ""); r.StatusCode != 502 {
		t.Fatalf("%d", r.StatusCode)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("no root accepted")
	}
	if _, err := New(Config{Root: "/definitely/not/here"}); err == nil {
		t.Fatal("missing root accepted")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	if _, err := New(Config{Root: f}); err == nil {
		t.Fatal("file root accepted")
	}
	if _, err := New(Config{Root: t.TempDir(), Prefix: "cgi"}); err == nil {
		t.Fatal("relative prefix accepted")
	}
}
