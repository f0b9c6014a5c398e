package redirect

import (
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

// req returns a GET for target with the Host host.
func req(target, host string) *web.Request {
	r := webtest.NewRequest("GET", target, nil)
	r.Init(web.Head{Method: r.Method(), Target: r.Target(), Path: r.RawPath(), Query: r.RawQuery(),
		Host: []byte(host), Scheme: "http", ProtoMajor: 1, ProtoMinor: 1}, web.Conn{}, web.NoBody)
	return r
}

func TestRedirect(t *testing.T) {
	cases := []struct {
		rd       Handler
		target   string
		location string
		status   int
	}{
		{Handler{To: "https://example.com{uri}"}, "/a/b?x=1", "https://example.com/a/b?x=1", 301},
		{Handler{To: "https://example.com{uri}"}, "/a/b", "https://example.com/a/b", 301},
		{Handler{To: "https://{host}{path}", Status: 308}, "/p%20q?x=1", "https://h.test/p%20q", 308},
		{Handler{To: "/new", Status: 302, KeepQuery: true}, "/old?a=1&b=2", "/new?a=1&b=2", 302},
		{Handler{To: "/new?x=1", KeepQuery: true}, "/old?a=1", "/new?x=1&a=1", 301},
		{Handler{To: "/new", KeepQuery: true}, "/old", "/new", 301},
		{Handler{To: "/q/{query}/{unknown}"}, "/old?z", "/q/z/{unknown}", 301},
		{Handler{To: "/open{brace"}, "/old", "/open{brace", 301},
	}
	for _, c := range cases {
		w := webtest.NewRecorder()
		webtest.Serve(&c.rd, w, req(c.target, "h.test"))
		if w.Code != c.status || w.Head.Get("Location") != c.location {
			t.Errorf("%+v %s: %d %q, want %d %q", c.rd, c.target, w.Code, w.Head.Get("Location"), c.status, c.location)
		}
	}
}
