package hsts

import (
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

func req(scheme string) *web.Request {
	r := webtest.NewRequest("GET", "/", nil)
	r.Init(web.Head{Method: r.Method(), Target: r.Target(), Path: r.RawPath(), Host: []byte("example.com"),
		Scheme: scheme, ProtoMajor: 1, ProtoMinor: 1}, web.Conn{}, web.NoBody)
	return r
}

func TestWrap(t *testing.T) {
	const v = "max-age=31536000; includeSubDomains"
	ok := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Add(Field, "max-age=1") // the application's own comes second
		_, err := w.WriteString("ok")
		return err
	})
	failing := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error { return web.ErrNotFound })
	for _, c := range []struct {
		name   string
		h      web.Handler
		scheme string
		code   int
		want   []string
	}{
		{"https", ok, "https", 200, []string{v, "max-age=1"}},
		{"https error page", failing, "https", 404, []string{v}},
		{"plain http", ok, "http", 200, []string{"max-age=1"}},
		{"plain http error page", failing, "http", 404, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := webtest.NewRecorder()
			webtest.Serve(Wrap(v, c.h), w, req(c.scheme))
			var got []string
			for v := range w.Head.Values(Field) {
				got = append(got, string(v))
			}
			if w.Code != c.code || len(got) != len(c.want) {
				t.Fatalf("%d %q, want %d %q", w.Code, got, c.code, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("%q, want %q", got, c.want)
				}
			}
		})
	}
}
