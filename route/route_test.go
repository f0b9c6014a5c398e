package route

import (
	"strings"
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

func TestClean(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"/", "/", true},
		{"/a/b/", "/a/b/", true},
		{"//a///b", "/a/b", true},
		{"/%61dmin/", "/admin/", true},
		{"/%7Euser/%2d", "/~user/-", true},
		{"/a%2fb", "/a%2Fb", true}, // an encoded slash stays encoded: never a separator
		{"/a%20b", "/a%20b", true},
		{"/caf%c3%a9", "/caf%C3%A9", true},
		{"/.well-known/x", "/.well-known/x", true},
		{"/a/..b/c.", "/a/..b/c.", true},
		{"/../etc", "", false},
		{"/a/./b", "", false},
		{"/a/%2e%2e/b", "", false},
		{"/a/.%2E", "", false},
		{"/a/..", "", false},
		{"/bad%zz", "", false},
		{"/bad%2", "", false},
		{"a/b", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		got, ok := Clean([]byte(c.in))
		if ok != c.ok || ok && string(got) != c.want {
			t.Errorf("Clean(%q) = %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
		}
	}
	if a := testing.AllocsPerRun(100, func() { Clean([]byte("/static/app.css")) }); a != 0 {
		t.Errorf("clean path allocates %v", a)
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"/", "//a", "/%2e%2e/", "/a%2fb", "/%61", "/a/./b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, ok := Clean([]byte(p))
		if !ok {
			return
		}
		if got[0] != '/' || strings.Contains(string(got), "//") || hasDotSegment(got) {
			t.Fatalf("%q cleaned to %q", p, got)
		}
		again, ok := Clean(got)
		if !ok || string(again) != string(got) {
			t.Fatalf("not idempotent: %q -> %q -> %q", p, got, again)
		}
	})
}

func req(method, target, host string) *web.Request {
	r := webtest.NewRequest(method, target, nil)
	r.Init(web.Head{Method: r.Method(), Target: r.Target(), Path: r.RawPath(), Query: r.RawQuery(),
		Host: []byte(host), Scheme: "http", ProtoMajor: 1, ProtoMinor: 1}, web.Conn{}, web.NoBody)
	return r
}

func TestHosts(t *testing.T) {
	var hs Hosts
	for _, h := range []string{"example.com", "*.example.com", "*.api.example.com", "[::1]", "Other.Test."} {
		if err := hs.Add(h, named(h)); err != nil {
			t.Fatal(err)
		}
	}
	if err := hs.Add("EXAMPLE.com", named("dup")); err == nil {
		t.Fatal("duplicate host accepted")
	}
	cases := map[string]string{
		"example.com":        "example.com",
		"EXAMPLE.COM:8080":   "example.com",
		"example.com.":       "example.com",
		"www.example.com":    "*.example.com",
		"a.b.example.com":    "*.example.com",
		"v1.api.example.com": "*.api.example.com",
		"[::1]:80":           "[::1]",
		"other.test":         "Other.Test.",
		"badexample.com":     "",
		"nothing.test":       "",
		"":                   "",
	}
	for host, want := range cases {
		w := webtest.NewRecorder()
		webtest.Serve(&hs, w, req("GET", "/", host))
		got := w.Head.Get("X-Handler")
		if got != want {
			t.Errorf("%q -> %q, want %q", host, got, want)
		}
		if want == "" && w.Code != 421 {
			t.Errorf("%q: unknown host got %d, want 421", host, w.Code)
		}
	}
	hs.SetDefault(named("default"))
	w := webtest.NewRecorder()
	webtest.Serve(&hs, w, req("GET", "/", "nothing.test"))
	if w.Head.Get("X-Handler") != "default" {
		t.Fatal("default site not used")
	}
	if a := testing.AllocsPerRun(100, func() { hs.Site([]byte("WWW.Example.com:443")) }); a != 0 {
		t.Errorf("host lookup allocates %v", a)
	}
}

func TestSite(t *testing.T) {
	s := &Site{Pages: web.ErrorPages{404: []byte("<h1>gone</h1>")}}
	s.Mux.Handle("/admin/", named("admin"))
	s.Mux.Handle("/", named("root"))
	s.Mux.Handle("/fail", web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error { return web.ErrForbidden }))
	cases := []struct {
		target, handler string
		status          int
		body            string
	}{
		{"/%61dmin/x", "admin", 200, ""}, // the escape cannot slip past the admin route
		{"//admin//x", "admin", 200, ""},
		{"/public/../admin/x", "", 400, "400 Bad Request\n"},
		{"/x", "root", 200, ""},
		{"/fail", "", 403, "403 Forbidden\n"},
	}
	for _, c := range cases {
		w := webtest.NewRecorder()
		webtest.Serve(s, w, req("GET", c.target, "a"))
		if w.Head.Get("X-Handler") != c.handler || w.Code != c.status || c.body != "" && w.Body.String() != c.body {
			t.Errorf("%s: %q %d %q", c.target, w.Head.Get("X-Handler"), w.Code, w.Body.String())
		}
	}
	// A site's error page replaces the built-in one for its status.
	empty := &Site{Pages: web.ErrorPages{404: []byte("<h1>gone</h1>")}}
	w := webtest.NewRecorder()
	webtest.Serve(empty, w, req("GET", "/nope", "a"))
	if w.Code != 404 || w.Body.String() != "<h1>gone</h1>" || w.Head.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("error page: %d %q %q", w.Code, w.Body.String(), w.Head.Get("Content-Type"))
	}
}
