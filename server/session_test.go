package server

import (
	"net/http"
	"strings"
	"testing"

	"gatehouse/config"
)

// Two routes of a site with session tables of their own, one cookie name:
// they share the store, so a visit to the second keeps the session the
// first started instead of replacing its cookie with a new ID.
func TestRouteSessionsShareTheirStore(t *testing.T) {
	no := false
	route := func(path string) config.Route {
		return config.Route{Path: path, Respond: &config.Respond{Status: 200, Body: "ok\n"},
			Session: &config.Session{Cookie: "gh", Secure: &no}, CSRF: &config.CSRF{Tokens: "session"}}
	}
	cfg := &config.Config{
		Listen: []config.Listen{{Addr: "127.0.0.1:0"}},
		Site:   []config.Site{{Route: []config.Route{route("/a/"), route("/b/")}}},
	}
	cfg.AccessLog.Path = "off"
	addr := serveConfig(t, cfg)
	get := func(path, cookie string) string {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Set-Cookie")
	}
	set := get("/a/", "")
	if !strings.HasPrefix(set, "gh=") {
		t.Fatalf("no session cookie from /a/: %q", set)
	}
	cookie, _, _ := strings.Cut(set, ";")
	if again := get("/b/", cookie); again != "" {
		t.Fatalf("/b/ replaced /a/'s session: Set-Cookie %q", again)
	}
	http.DefaultClient.CloseIdleConnections()
}

// A session table's cookie keys from a file reach the Set-Cookie field:
// the name, secure = false (no Secure attribute), same_site.
func TestSessionCookieKeysFromFile(t *testing.T) {
	cfg, err := config.Parse("t.toml", []byte(`
[[listen]]
addr = "127.0.0.1:0"
[access_log]
path = "off"
[[site]]
[site.session]
cookie = "sid"
secure = false
same_site = "strict"
idle_timeout = "0s"
[site.csrf]
tokens = "session"
  [[site.route]]
  path = "/"
  respond = { status = 200, body = "ok" }
`))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveConfig(t, cfg)
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	set := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(set, "sid=") || !strings.Contains(set, "SameSite=Strict") || strings.Contains(set, "Secure") ||
		!strings.Contains(set, "HttpOnly") || !strings.Contains(set, "Path=/") {
		t.Fatalf("Set-Cookie %q", set)
	}
	http.DefaultClient.CloseIdleConnections()
}
