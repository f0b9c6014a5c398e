package headers

import (
	"strings"
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

func tpl(t *testing.T, s string) Template {
	t.Helper()
	v, err := ParseTemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestRules(t *testing.T) {
	var seen web.Header
	backend := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		seen = r.Header.Clone()
		w.Header().Set("Server-Timing", "app")
		w.Header().Set("X-Powered-By", "PHP")
		switch r.Path() {
		case "/missing":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(404)
			_, err := w.WriteString("gone")
			return err
		case "/fail":
			return web.ErrUnavailable
		}
		_, err := w.WriteString("ok")
		return err
	})
	rules := Rules{
		Request: Ops{Remove: []string{"X-Debug"}, Set: []Field{{"X-Real-IP", tpl(t, "{remote_ip}")}},
			Add: []Field{{"X-Forwarded-Host", tpl(t, "{host}")}}},
		Response: Ops{Remove: []string{"X-Powered-By"}, Set: []Field{{"X-Frame-Options", tpl(t, "DENY")}},
			Add: []Field{{"X-Request", tpl(t, "{method} {path}")}}},
	}
	for _, always := range []bool{false, true} {
		rules.Always = always
		m, err := New(rules)
		if err != nil {
			t.Fatal(err)
		}
		h := m.Wrap(backend)
		for _, c := range []struct {
			path   string
			status int
			ruled  bool
		}{{"/", 200, true}, {"/missing", 404, always}, {"/fail", 503, always}} {
			w := webtest.NewRecorder()
			r := request()
			r.Init(web.Head{Method: "GET", Target: []byte(c.path), Path: []byte(c.path), Host: []byte("example.test"), Scheme: "http", ProtoMajor: 1, ProtoMinor: 1},
				web.Conn{Remote: r.RemoteAddr()}, web.NoBody)
			r.Header.Add("X-Debug", "1")
			r.Header.Add("X-Real-IP", "spoofed")
			webtest.Serve(h, w, r)
			if w.Code != c.status {
				t.Fatalf("%s: %d", c.path, w.Code)
			}
			if seen.Has("X-Debug") || seen.Get("X-Real-IP") != "192.0.2.7" || seen.Get("X-Forwarded-Host") != "example.test" {
				t.Errorf("%s: the backend saw %v", c.path, seen)
			}
			got := w.Head.Get("X-Frame-Options") == "DENY" && w.Head.Get("X-Request") == "GET "+c.path
			if got != c.ruled {
				t.Errorf("always=%v %s: response rules applied: %v (%v)", always, c.path, got, w.Head)
			}
			if c.status != 503 && c.ruled && w.Head.Has("X-Powered-By") {
				t.Errorf("%s: X-Powered-By kept", c.path)
			}
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, n := range []string{"Content-Length", "transfer-encoding", "Connection", "TE", "Upgrade", "Keep-Alive", "Trailer", "bad name", ""} {
		if CheckName(n) == nil {
			t.Errorf("%q accepted", n)
		}
	}
	for _, n := range []string{"X-Frame-Options", "Cache-Control", "Host", "Server"} {
		if err := CheckName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	if _, err := New(Rules{Response: Ops{Set: []Field{{Name: "Content-Length"}}}}); err == nil || !strings.Contains(err.Error(), "frames") {
		t.Errorf("New: %v", err)
	}
}
