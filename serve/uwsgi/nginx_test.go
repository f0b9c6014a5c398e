package uwsgi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
	puwsgi "gatehouse/proto/uwsgi"
	"gatehouse/serve/uwsgi"
	"gatehouse/web"
)

// startNginx runs the Debian nginx from a generated configuration in a
// temporary directory, listening on 127.0.0.1 and passing every request to
// upstream ("unix:/path" or "127.0.0.1:port") with uwsgi_pass and the stock
// uwsgi_params, plus a UWSGI_SCRIPT variable that uWSGI would act on.
func startNginx(t *testing.T, upstream string) string {
	t.Helper()
	return testutil.StartNginx(t, fmt.Sprintf(`
		location / {
			include /etc/nginx/uwsgi_params;
			uwsgi_param UWSGI_SCRIPT evil_module:application;
			uwsgi_param UWSGI_CHDIR /tmp;
			uwsgi_pass %[1]s;
		}
		location /stream {
			include /etc/nginx/uwsgi_params;
			uwsgi_buffering off;
			uwsgi_pass %[1]s;
		}`, upstream))
}

// describe answers with what the handler saw, one fact per line, fields sorted.
var describe = web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
	body, err := io.ReadAll(r.Body())
	if err != nil {
		return err
	}
	var fields []string
	for name, value := range r.Header.All() {
		fields = append(fields, "field "+string(name)+": "+string(value))
	}
	sort.Strings(fields)
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("X-Handler", "gatehouse")
	fmt.Fprintf(w, "method %s\ntarget %s\npath %s\nquery %s\nhost %s\nscheme %s\nproto %s\nremote %s\nlength %d\n%s\nbody %s\n",
		r.Method(), r.Target(), r.Path(), r.RawQuery(), r.Host(), r.Scheme(), r.Proto(), r.RemoteAddr(),
		r.ContentLength(), strings.Join(fields, "\n"), body)
	return nil
})

// TestBehindNginx runs nginx's uwsgi_pass in front of the uwsgi server, over a
// Unix socket and over TCP.
func TestBehindNginx(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) { behindNginx(t, network) })
	}
}

func behindNginx(t *testing.T, network string) {
	release := make(chan struct{})
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if r.Path() != "/stream" {
			return describe.ServeHTTP(w, r)
		}
		w.Header().Set("Content-Type", "text/plain")
		w.WriteString("first\n")
		if err := w.Flush(); err != nil {
			return err
		}
		// The rest waits until the client has read the first part: it can
		// only have if the flush went through nginx unbuffered.
		select {
		case <-release:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("client never saw the first part")
		}
		w.WriteString("second\n")
		return nil
	})
	addr, logs := start(t, network, h, uwsgi.Config{MaxBodyBytes: 1 << 20, Limits: puwsgi.Limits{MaxVarsSize: 8192}})
	upstream := addr
	if network == "unix" {
		upstream = "unix:" + addr
	}
	front := startNginx(t, upstream)

	send := func(t *testing.T, raw string) (*http.Response, string, net.Conn) {
		t.Helper()
		c := dial(t, front)
		io.WriteString(c, raw)
		r, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: strings.Fields(raw)[0]})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		return r, string(b), c
	}
	has := func(t *testing.T, body string, lines ...string) {
		t.Helper()
		for _, l := range lines {
			if !strings.Contains("\n"+body, "\n"+l+"\n") {
				t.Errorf("no line %q in:\n%s\nserver log:\n%s", l, body, logs.String())
			}
		}
	}

	t.Run("GET with query and headers", func(t *testing.T) {
		r, body, c := send(t, "GET /a%20b/c?x=1&y=%20 HTTP/1.1\r\nHost: example.test\r\nX-Custom: hello world\r\n"+
			"Accept-Language: en\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n")
		port := c.LocalAddr().(*net.TCPAddr).Port
		if r.StatusCode != 200 || r.Header.Get("X-Handler") != "gatehouse" {
			t.Fatalf("%d %v\n%s", r.StatusCode, r.Header, body)
		}
		has(t, body, "method GET", "target /a%20b/c?x=1&y=%20", "path /a b/c", "query x=1&y=%20",
			"host example.test", "scheme http", "proto HTTP/1.1", fmt.Sprintf("remote 127.0.0.1:%d", port),
			"field X-Custom: hello world", "field Accept-Language: en", "field Host: example.test", "length 0")
		if strings.Contains(body, "UWSGI") || strings.Contains(body, "evil") || strings.Contains(body, "/tmp") {
			t.Fatalf("a magic variable reached the handler:\n%s", body)
		}
		logs.WaitFor(t, "uwsgi magic variable ignored") // nginx did send it
	})

	t.Run("POST with a body", func(t *testing.T) {
		payload := strings.Repeat("0123456789", 20000) // 200 KB: nginx spools it
		r, body, _ := send(t, "POST /form HTTP/1.1\r\nHost: example.test\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
			fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n\r\n", len(payload))+payload)
		if r.StatusCode != 200 {
			t.Fatalf("%d\n%s", r.StatusCode, body)
		}
		has(t, body, "method POST", fmt.Sprintf("length %d", len(payload)), "body "+payload,
			"field Content-Type: application/x-www-form-urlencoded")
	})

	t.Run("chunked POST", func(t *testing.T) {
		r, body, _ := send(t, "POST /c HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+
			"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
		if r.StatusCode != 200 {
			t.Fatalf("%d\n%s", r.StatusCode, body)
		}
		has(t, body, "length 11", "body hello world")
		if strings.Contains(body, "Transfer-Encoding") {
			t.Fatalf("a framing field reached the handler:\n%s", body)
		}
	})

	t.Run("httpoxy", func(t *testing.T) {
		_, body, _ := send(t, "GET / HTTP/1.1\r\nHost: example.test\r\nProxy: http://evil.test:3128\r\nConnection: close\r\n\r\n")
		if strings.Contains(body, "evil") || strings.Contains(strings.ToLower(body), "field proxy") {
			t.Fatalf("Proxy reached the handler:\n%s", body)
		}
	})

	// Refusals reach the client as they were sent, not as nginx's 502: the
	// server drains what nginx is still sending before it closes.
	t.Run("body over the limit", func(t *testing.T) {
		payload := strings.Repeat("x", 2<<20)
		r, _, _ := send(t, "POST /big HTTP/1.1\r\nHost: example.test\r\n"+
			fmt.Sprintf("Content-Length: %d\r\nConnection: close\r\n\r\n", len(payload))+payload)
		if r.StatusCode != 413 {
			t.Fatalf("%d", r.StatusCode)
		}
	})

	t.Run("variables over the limit", func(t *testing.T) {
		big := strings.Repeat("v", 5000)
		r, _, _ := send(t, "GET / HTTP/1.1\r\nHost: example.test\r\nX-A: "+big+"\r\nX-B: "+big+"\r\nConnection: close\r\n\r\n")
		if r.StatusCode != 431 {
			t.Fatalf("%d", r.StatusCode)
		}
	})

	t.Run("HEAD", func(t *testing.T) {
		r, body, _ := send(t, "HEAD / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
		if r.StatusCode != 200 || body != "" {
			t.Fatalf("%d %q", r.StatusCode, body)
		}
	})

	t.Run("error page", func(t *testing.T) {
		r, body, _ := send(t, "BREW / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
		if r.StatusCode != 501 {
			t.Fatalf("%d %q", r.StatusCode, body)
		}
	})

	t.Run("streamed response", func(t *testing.T) {
		c := dial(t, front)
		io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
		br := bufio.NewReader(c)
		r, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		first := make([]byte, len("first\n"))
		if _, err := io.ReadFull(r.Body, first); err != nil || string(first) != "first\n" {
			t.Fatalf("%q %v", first, err)
		}
		close(release)
		rest, err := io.ReadAll(r.Body)
		if err != nil || string(rest) != "second\n" {
			t.Fatalf("%q %v", rest, err)
		}
	})
}
