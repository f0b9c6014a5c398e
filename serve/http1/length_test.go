package http1_test

import (
	"strconv"
	"testing"

	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// A request's ContentLength is its declared length, 0 when it has neither
// Content-Length nor Transfer-Encoding (it has no body, RFC 9112 §6.3), and
// -1 only for a chunked body, whose length nobody knows yet.
func TestContentLength(t *testing.T) {
	length := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("X-Length", strconv.FormatInt(r.ContentLength(), 10))
		return nil
	})
	forEachEngine(t, func(t *testing.T, engineName string) {
		srv := startServer(t, engineName, length, shttp.Config{})
		for _, c := range []struct{ raw, want string }{
			{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "0"},
			{"GET / HTTP/1.0\r\n\r\n", "0"},
			{"POST / HTTP/1.1\r\nHost: x\r\n\r\n", "0"},
			{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "0"},
			{"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "5"},
			{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "-1"},
		} {
			r := exchange(t, srv.addr, c.raw, "POST")
			if got := r.Header.Get("X-Length"); got != c.want {
				t.Errorf("%q: ContentLength %s, want %s", c.raw, got, c.want)
			}
		}
	})
}
