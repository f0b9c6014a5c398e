package wsgi

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"gatehouse/internal/lograte"
	"gatehouse/proto/http1"
	"gatehouse/web/webcgi"
	"gatehouse/web/webtest"
)

// FuzzHead feeds arbitrary H frames (STATUS\0NAME\0VALUE...) to the code
// that applies them: whatever a worker sends, the response either gets a
// status from 200 to 599 and fields that are tokens with values that cannot
// split the head, or nothing at all (the exchange becomes a 500, or a 502 for
// a bad Content-Length).
func FuzzHead(f *testing.F) {
	for _, s := range []string{
		"200 OK\x00Content-Type\x00text/plain",
		"404 Not Found",
		"200 OK\x00X-A\x00a\r\nX-Injected: 1",
		"99 Low", "600 High", "20x OK", "200OK", "200 OK\x00Bad Name\x00v",
		"200 OK\x00Connection\x00close\x00X-B\x00b",
		"200 OK\x00X-Empty\x00",
		"200 OK\x00X-Odd",
	} {
		f.Add([]byte(s))
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &Pool{log: log, requests: &webcgi.Failures{Limiter: lograte.Limiter{Logger: log}}}
	s := &slot{w: &worker{p: p, id: 1}}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec := webtest.NewRecorder()
		x := &exchange{p: p, s: s, w: rec, r: webtest.NewRequest("GET", "/", nil)}
		x.head(b)
		if !x.headSet {
			if x.result == nil {
				t.Fatalf("%q: head neither applied nor refused", b)
			}
			return
		}
		if rec.Code < 200 || rec.Code > 599 {
			t.Fatalf("%q: status %d", b, rec.Code)
		}
		for name, value := range rec.Header().All() {
			if !http1.IsToken(name) || bytes.ContainsAny(value, "\r\n\x00") {
				t.Fatalf("%q: field %q: %q", b, name, value)
			}
		}
	})
}
