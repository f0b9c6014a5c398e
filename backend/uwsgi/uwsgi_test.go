package uwsgi

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
	"gatehouse/upstream"
)

// startUWSGI runs the Debian uWSGI with testdata/app.py on a TCP socket and a
// Unix socket, and returns their addresses in upstream's form.
func startUWSGI(t *testing.T) (tcp, unix string) {
	t.Helper()
	app, err := filepath.Abs("testdata/app.py")
	if err != nil {
		t.Fatal(err)
	}
	tcp = testutil.FreeAddr(t)
	sock := filepath.Join(testutil.ShortTempDir(t), "uwsgi.sock")
	p := testutil.Start(t, nil, "uwsgi", "--plugin", "python3", "--socket", tcp, "--socket", sock,
		"--wsgi-file", app, "--master", "--processes", "2", "--die-on-term", "--need-app",
		"--buffer-size", "65535", "--disable-logging")
	p.WaitDial(t, tcp)
	p.WaitDial(t, "unix:"+sock)
	return tcp, "unix:" + sock
}

// TestRealUWSGI runs requests through gatehouse's HTTP server to a real uWSGI,
// over TCP and over a Unix socket.
func TestRealUWSGI(t *testing.T) {
	tcp, unix := startUWSGI(t)
	for _, upstreamAddr := range []string{tcp, unix} {
		t.Run(strings.SplitN(upstreamAddr, ":", 2)[0], func(t *testing.T) {
			h, logs := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{upstreamAddr}}, Mount: "/app",
				ReadTimeout: time.Second})
			addr := serve(t, h)
			realUWSGI(t, addr, logs)
		})
	}
}

func realUWSGI(t *testing.T, addr string, logs *logBuffer) {
	envOf := func(t *testing.T, raw string) map[string]string {
		t.Helper()
		r, body, err := do(t, addr, raw)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("%v %d %s\nlog:\n%s", err, r.StatusCode, body, logs)
		}
		var env map[string]string
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return env
	}

	t.Run("environ", func(t *testing.T) {
		env := envOf(t, request("GET", "/app/x/env?q=1&r=%20", "", "X-Custom: yes", "Accept-Language: en",
			"Cookie: a=1", "Cookie: b=2"))
		want := map[string]string{
			"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/app", "PATH_INFO": "/x/env", "QUERY_STRING": "q=1&r=%20",
			"REQUEST_URI": "/app/x/env?q=1&r=%20", "HTTP_X_CUSTOM": "yes", "HTTP_ACCEPT_LANGUAGE": "en",
			"HTTP_COOKIE": "a=1; b=2", "HTTP_HOST": "example.test", "SERVER_NAME": "example.test",
			"SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s=%q, want %q", k, env[k], v)
			}
		}
	})

	t.Run("httpoxy", func(t *testing.T) {
		env := envOf(t, request("GET", "/app/env", "", "Proxy: http://evil.test:3128"))
		for k, v := range env {
			if k == "HTTP_PROXY" || strings.Contains(v, "evil.test") {
				t.Fatalf("%s=%q reached the application", k, v)
			}
		}
	})

	t.Run("POST echo", func(t *testing.T) {
		payload := strings.Repeat("0123456789", 100000) // 1 MB
		r, body, err := do(t, addr, request("POST", "/app/echo", payload, "Content-Type: application/octet-stream"))
		if err != nil || r.StatusCode != 201 || r.Header.Get("X-Length") != "1000000" || body != payload {
			t.Fatalf("%v %d %v, %d bytes", err, r.StatusCode, r.Header, len(body))
		}
	})

	t.Run("chunked POST", func(t *testing.T) {
		r, body, err := do(t, addr, request("POST", "/app/echo", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "Transfer-Encoding: chunked"))
		if err != nil || r.StatusCode != 201 || body != "hello world" {
			t.Fatalf("%v %d %q", err, r.StatusCode, body)
		}
	})

	t.Run("status and repeated fields", func(t *testing.T) {
		r, body, err := do(t, addr, request("GET", "/app/status", ""))
		if err != nil || r.StatusCode != 404 || body != "nope" || len(r.Header.Values("Set-Cookie")) != 2 {
			t.Fatalf("%v %d %q %v", err, r.StatusCode, body, r.Header)
		}
	})

	t.Run("streamed", func(t *testing.T) {
		goFile := filepath.Join(t.TempDir(), "go")
		c := dial(t, addr)
		io.WriteString(c, request("GET", "/app/stream", "", "X-Go-File: "+goFile))
		r, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, 6)
		if _, err := io.ReadFull(r.Body, first); err != nil || string(first) != "first\n" {
			t.Fatalf("%q %v", first, err)
		}
		os.WriteFile(goFile, nil, 0o644)
		rest, err := io.ReadAll(r.Body)
		if err != nil || string(rest) != "second\n" {
			t.Fatalf("%q %v", rest, err)
		}
	})

	t.Run("10 MiB", func(t *testing.T) {
		// The response streams through: what the whole process allocates
		// while relaying it stays far below its size.
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := dial(t, addr)
		io.WriteString(c, request("GET", "/app/big", ""))
		r, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Repeat("0123456789abcdef", 4096)
		buf := make([]byte, len(want))
		for i := range 160 {
			if _, err := io.ReadFull(r.Body, buf); err != nil || string(buf) != want {
				t.Fatalf("piece %d: %v", i, err)
			}
		}
		if n, _ := io.Copy(io.Discard, r.Body); n != 0 || r.ContentLength != 160<<16 {
			t.Fatalf("%d extra bytes, length %d", n, r.ContentLength)
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 2<<20 {
			t.Fatalf("relaying 10 MiB allocated %d bytes", d)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		r, _, _ := do(t, addr, request("GET", "/app/slow?3", ""))
		if r.StatusCode != 504 || time.Since(start) > 2500*time.Millisecond {
			t.Fatalf("%d after %v", r.StatusCode, time.Since(start))
		}
	})

	t.Run("outside the mount", func(t *testing.T) {
		r, _, _ := do(t, addr, request("GET", "/other", ""))
		if r.StatusCode != 404 {
			t.Fatalf("%d", r.StatusCode)
		}
	})
}

// TestRealUWSGIRoot mounts the application at the root.
func TestRealUWSGIRoot(t *testing.T) {
	tcp, _ := startUWSGI(t)
	h, _ := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{tcp}}})
	addr := serve(t, h)
	r, body, err := do(t, addr, request("GET", "/env", ""))
	var env map[string]string
	json.Unmarshal([]byte(body), &env)
	if err != nil || r.StatusCode != 200 || env["SCRIPT_NAME"] != "" || env["PATH_INFO"] != "/env" {
		t.Fatalf("%v %d %s", err, r.StatusCode, body)
	}
	r, body, _ = do(t, addr, request("HEAD", "/", ""))
	if r.StatusCode != 200 || body != "" {
		t.Fatalf("HEAD: %d %q", r.StatusCode, body)
	}
}
