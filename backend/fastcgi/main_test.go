package fastcgi

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

type logBuffer = testutil.LogBuffer

// serve runs h behind the real HTTP/1.1 server on 127.0.0.1 and returns its
// address; the server's log goes to logs.
func serve(t *testing.T, h web.Handler, logs *logBuffer, cfg shttp.Config) string {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = logs.Logger()
	}
	return testserve.HTTP(t, h, cfg)
}

// client returns an HTTP client whose idle connections are closed at the end
// of the test.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, ResponseHeaderTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, c *http.Client, method, url string, body io.Reader, fields ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ":")
		req.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp, string(b)
}

// raw sends a request exactly as given on a new connection and returns the
// response status line and the whole answer.
func raw(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// writeFiles writes files (name → content; a name ending in "/" is a
// directory) under dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tryThen serves with first, and with second when first answers
// web.ErrNotFound itself: the wiring the package documentation describes.
func tryThen(first, second web.Handler) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		err := first.ServeHTTP(w, r)
		if errors.Is(err, web.ErrNotFound) {
			return second.ServeHTTP(w, r)
		}
		return err
	})
}

// raw0 sends req, reads n bytes of the answer and closes the connection.
func raw0(t *testing.T, addr, req string, n int) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	b := make([]byte, n)
	k, _ := io.ReadFull(c, b)
	return string(b[:k])
}
