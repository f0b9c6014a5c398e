package redirect

import (
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

func TestHTTPS(t *testing.T) {
	acme := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		_, err := w.WriteString("token")
		return err
	})
	for _, c := range []struct {
		name     string
		h        HTTPS
		target   string
		host     string
		status   int
		location string
	}{
		{"port 443 left out", HTTPS{Port: 443}, "/a/b?x=1", "example.com", 308, "https://example.com/a/b?x=1"},
		{"no port given", HTTPS{}, "/", "example.com", 308, "https://example.com/"},
		{"another port", HTTPS{Port: 8443}, "/a", "example.com:8080", 308, "https://example.com:8443/a"},
		{"the Host's port goes", HTTPS{Port: 443}, "/a", "example.com:80", 308, "https://example.com/a"},
		{"IPv6", HTTPS{Port: 8443}, "/a", "[::1]:8080", 308, "https://[::1]:8443/a"},
		{"IPv6 without port", HTTPS{Port: 443}, "/a", "[::1]", 308, "https://[::1]/a"},
		{"encoded path kept", HTTPS{Port: 443}, "/p%20q/%2F?x=%41&y", "example.com", 308, "https://example.com/p%20q/%2F?x=%41&y"},
		{"empty query kept", HTTPS{Port: 443}, "/a?", "example.com", 308, "https://example.com/a?"},
		{"ACME challenge without a handler", HTTPS{Port: 443}, "/.well-known/acme-challenge/tok", "example.com", 404, ""},
		{"ACME challenge", HTTPS{Port: 443, Challenge: acme}, "/.well-known/acme-challenge/tok", "example.com", 200, ""},
		{"other .well-known", HTTPS{Port: 443}, "/.well-known/security.txt", "example.com", 308, "https://example.com/.well-known/security.txt"},
		{"no host", HTTPS{Port: 443}, "/", "", 400, ""},
		{"a host that would move the path", HTTPS{Port: 443}, "/", "evil.test/x", 400, ""},
		{"a host with userinfo", HTTPS{Port: 443}, "/", "a@evil.test", 400, ""},
		{"not a path", HTTPS{Port: 443}, "*", "example.com", 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := webtest.NewRecorder()
			webtest.Serve(&c.h, w, req(c.target, c.host))
			if w.Code != c.status || w.Head.Get("Location") != c.location {
				t.Fatalf("%d %q, want %d %q", w.Code, w.Head.Get("Location"), c.status, c.location)
			}
		})
	}
}
