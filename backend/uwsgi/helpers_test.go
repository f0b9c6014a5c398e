package uwsgi

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
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

// newHandler builds a handler for cfg and closes it with the test.
func newHandler(t *testing.T, cfg Config) (*Handler, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg.Logger = logs.Logger()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, logs
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
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// request builds a raw HTTP/1.1 request; a body gets a Content-Length unless
// a Transfer-Encoding field is given.
func request(method, target, body string, fields ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n", method, target)
	for _, f := range fields {
		b.WriteString(f + "\r\n")
	}
	if body != "" && !strings.Contains(strings.Join(fields, "\n"), "Transfer-Encoding") {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// do sends a request and reads the response with net/http's parser. A body
// that ends early is returned with the error.
func do(t *testing.T, addr, raw string) (*http.Response, string, error) {
	t.Helper()
	c := dial(t, addr)
	io.WriteString(c, raw)
	r, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: strings.Fields(raw)[0]})
	if err != nil {
		t.Fatalf("%.40q: %v", raw, err)
	}
	b, err := io.ReadAll(r.Body)
	return r, string(b), err
}
