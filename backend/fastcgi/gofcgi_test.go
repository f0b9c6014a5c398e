package fastcgi

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/fcgi"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/upstream"
)

// startGoChild serves h with net/http/fcgi's child on a Unix socket (a
// FastCGI implementation written independently of ours).
func startGoChild(t *testing.T, h http.Handler) string {
	t.Helper()
	path := testutil.ShortTempDir(t) + "/go.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { fcgi.Serve(l, h); close(done) }()
	t.Cleanup(func() { l.Close(); <-done })
	return "unix:" + path
}

func TestGoChild(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/env/", func(w http.ResponseWriter, r *http.Request) {
		env := fcgi.ProcessEnv(r)
		fmt.Fprintf(w, "%s %s %s|%s|%s|%s|%s|%s", r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header.Get("X-Test"),
			env["SCRIPT_FILENAME"], r.Header.Get("Proxy"), env["DOCUMENT_ROOT"])
	})
	mux.HandleFunc("/body", func(w http.ResponseWriter, r *http.Request) {
		h := md5.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Go", "1")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "%d %d %x", r.ContentLength, n, h.Sum(nil))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 1<<16)
		for range 128 { // 8 MiB
			io.WriteString(w, chunk)
		}
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	})
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		for _, f := range []string{"Keep-Alive", "Trailer", "Upgrade", "Proxy-Connection", "X-Kept"} {
			w.Header().Set(f, "x-app")
		}
		io.WriteString(w, "hop")
	})
	sock := startGoChild(t, mux)
	logs := &logBuffer{}
	h, err := New(Config{Prefix: "/", Root: "/srv/app", Script: "/srv/app/main", Upstream: upstream.Config{Addrs: []string{sock}}, Logger: logs.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	base := "http://" + addr

	resp, body := do(t, c, "GET", base+"/env/a%20b?x=1", nil, "X-Test: yes", "Proxy: evil")
	if want := "GET /env/a b x=1|" + addr + "|yes|/srv/app/main||/srv/app"; resp.StatusCode != 200 || body != want {
		t.Fatalf("env: %d %q, want %q", resp.StatusCode, body, want)
	}

	// Fields about the application's own connection do not reach the client
	// (RFC 9110 §7.6.1); the others do.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(raw, "GET /hop HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	head, _ := io.ReadAll(raw)
	raw.Close()
	if !bytes.Contains(head, []byte("\r\nX-Kept: x-app\r\n")) || bytes.Count(head, []byte("x-app")) != 1 {
		t.Fatalf("hop-by-hop fields reached the client:\n%s", head)
	}

	for _, n := range []int{0, 100, 1 << 20} {
		data := strings.Repeat("d", n)
		resp, body = do(t, c, "POST", base+"/body", strings.NewReader(data))
		if want := fmt.Sprintf("%d %d %x", n, n, md5.Sum([]byte(data))); resp.StatusCode != 202 || body != want || resp.Header.Get("X-Go") != "1" {
			t.Fatalf("body %d: %d %q, want %q", n, resp.StatusCode, body, want)
		}
		// chunked: spooled, sent with CONTENT_LENGTH
		resp, body = do(t, c, "POST", base+"/body", struct{ io.Reader }{strings.NewReader(data)})
		if want := fmt.Sprintf("%d %d %x", n, n, md5.Sum([]byte(data))); resp.StatusCode != 202 || body != want {
			t.Fatalf("chunked body %d: %d %q, want %q", n, resp.StatusCode, body, want)
		}
	}

	resp, body = do(t, c, "GET", base+"/big", nil)
	if resp.StatusCode != 200 || body != strings.Repeat("x", 8<<20) {
		t.Fatalf("big: %d, %d bytes", resp.StatusCode, len(body))
	}

	sresp, err := c.Get(base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(sresp.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("stream: %q %v", buf, err)
	}
	close(release)
	rest, _ := io.ReadAll(sresp.Body)
	sresp.Body.Close()
	if string(rest) != "second\n" {
		t.Fatalf("stream: %q", rest)
	}

	resp, _ = do(t, c, "GET", base+"/nowhere", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("404 from the child: %d", resp.StatusCode)
	}
	if st := h.pool.Stats()[0]; st.Idle < 1 {
		t.Fatalf("no kept connection: %+v", st)
	}
}
