package main

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

// chromeUA is what Chromium sends as User-Agent; the Fetch Metadata and
// Origin fields below are the ones it sends with each kind of request.
const chromeUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"

// visitor is one browser: its cookies (kept by hand: net/http's jar sends
// no Secure cookie over http, where browsers send them to localhost) and
// the token of the last page it loaded.
type visitor struct {
	t       *testing.T
	base    string
	cookies map[string]string
	token   string
}

func newVisitor(t *testing.T, base string) *visitor {
	return &visitor{t: t, base: base, cookies: map[string]string{}}
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// do sends one request with fields ("Name: value") and the visitor's
// cookies (unless it is nil), and returns the status and body.
func (v *visitor) do(method, path, body string, fields ...string) (int, string) {
	v.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, v.base+path, rd)
	if err != nil {
		v.t.Fatal(err)
	}
	req.Header.Set("User-Agent", chromeUA)
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, f := range fields {
		n, val, _ := strings.Cut(f, ": ")
		req.Header.Add(n, val)
	}
	var pairs []string
	for n, val := range v.cookies {
		pairs = append(pairs, n+"="+val)
	}
	if len(pairs) > 0 {
		req.Header.Set("Cookie", strings.Join(pairs, "; "))
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, sc := range resp.Header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(sc)
		if err != nil {
			v.t.Fatalf("Set-Cookie %q: %v", sc, err)
		}
		if c.MaxAge < 0 {
			delete(v.cookies, c.Name)
		} else {
			v.cookies[c.Name] = c.Value
		}
	}
	return resp.StatusCode, string(b)
}

var tokenInPage = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)

// load is a same-origin page load (a link followed, or typed): it keeps the
// token the page embeds.
func (v *visitor) load() string {
	v.t.Helper()
	code, page := v.do("GET", "/", "", "Sec-Fetch-Site: none", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: document", "Sec-Fetch-User: ?1")
	m := tokenInPage.FindStringSubmatch(page)
	if code != 200 || m == nil || m[1] == "" {
		v.t.Fatalf("GET /: %d, no token in %.300q", code, page)
	}
	v.token = m[1]
	return page
}

// submit posts a form of the page as the browser does: same-origin.
func (v *visitor) submit(path string, form url.Values) (int, string) {
	v.t.Helper()
	return v.do("POST", path, form.Encode(), "Origin: "+v.base, "Sec-Fetch-Site: same-origin",
		"Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: document", "Sec-Fetch-User: ?1")
}

func (v *visitor) count() string {
	v.t.Helper()
	_, n := v.do("GET", "/count", "")
	return strings.TrimSpace(n)
}

// attackTable runs the research's attack cases (security.md §4) against an
// application with no protection of its own behind gatehouse with
// --csrf-tokens and a session: every refusal leaves its comment count
// unchanged (the application was never called), and its own forms work.
func attackTable(t *testing.T, base string) {
	alice := newVisitor(t, base)
	alice.load()
	if code, _ := alice.submit("/login", url.Values{"csrf_token": {alice.token}, "user": {"alice"}}); code != 303 {
		t.Fatalf("login: %d", code)
	}
	if page := alice.load(); !strings.Contains(page, `<p id="user">alice</p>`) {
		t.Fatalf("not logged in: %.300q", page)
	}
	start := alice.count()
	if code, body := alice.submit("/comment", url.Values{"csrf_token": {alice.token}, "text": {"own form"}}); code != 200 || !strings.HasPrefix(body, "saved") {
		t.Fatalf("the application's own form: %d %q", code, body)
	}
	if alice.count() == start {
		t.Fatal("the own form changed nothing")
	}

	bob := newVisitor(t, base)
	bob.load()
	preLogin := bob.token
	bob.submit("/login", url.Values{"csrf_token": {bob.token}, "user": {"bob"}})
	bob.load()

	raw := []byte(alice.token)
	raw[len(raw)/2] ^= 1
	form := func(tok string) string { return url.Values{"csrf_token": {tok}, "text": {"forged"}}.Encode() }
	cross := []string{"Origin: https://attacker.example", "Sec-Fetch-Site: cross-site", "Sec-Fetch-Mode: navigate", "Sec-Fetch-Dest: document"}
	for _, c := range []struct {
		name   string
		v      *visitor
		method string
		body   string
		fields []string
		want   int
	}{
		{"1 cross-site, no token", alice, "POST", form(""), cross, 403},
		{"1 cross-site, a valid token", alice, "POST", form(alice.token), cross, 403},
		{"2 same-site", alice, "POST", form(alice.token), []string{"Origin: http://sub.example.test", "Sec-Fetch-Site: same-site"}, 403},
		{"3 same-origin, token missing", alice, "POST", "text=x", []string{"Origin: " + base, "Sec-Fetch-Site: same-origin"}, 403},
		{"4 none, no token", alice, "POST", "text=x", []string{"Sec-Fetch-Site: none"}, 403},
		{"5 attacker's Origin (old browser)", alice, "POST", form(alice.token), []string{"Origin: https://attacker.example"}, 403},
		{"6 Origin null", alice, "POST", form(alice.token), []string{"Origin: null"}, 403},
		{"7 neither field, a cookie, no token", alice, "POST", "text=x", nil, 403},
		{"10 A's token with B's cookie", bob, "POST", form(alice.token), []string{"Origin: " + base, "Sec-Fetch-Site: same-origin"}, 403},
		{"11 a token from before the login", bob, "POST", form(preLogin), []string{"Origin: " + base, "Sec-Fetch-Site: same-origin"}, 403},
		{"12 one bit flipped", alice, "POST", form(string(raw)), []string{"Sec-Fetch-Site: same-origin"}, 403},
		{"12 truncated", alice, "POST", form(alice.token[:20]), []string{"Sec-Fetch-Site: same-origin"}, 403},
		{"12 bad base64", alice, "POST", form("%%%"), []string{"Sec-Fetch-Site: same-origin"}, 403},
		{"12 empty", alice, "POST", form(""), []string{"Sec-Fetch-Site: same-origin"}, 403},
		{"15 a form over the limit", alice, "POST", "text=" + strings.Repeat("a", 1<<20) + "&csrf_token=" + alice.token, []string{"Sec-Fetch-Site: same-origin"}, 413},
	} {
		before := c.v.count()
		code, body := c.v.do(c.method, "/comment", c.body, c.fields...)
		if code != c.want {
			t.Errorf("%s: %d %.100q, want %d", c.name, code, body, c.want)
		}
		if after := c.v.count(); after != before {
			t.Errorf("%s: the application was reached (%s comments, then %s)", c.name, before, after)
		}
	}
	// 7 without cookies (curl, an API client): layer 1 lets it through,
	// and there is no session to ride on.
	anon := newVisitor(t, base)
	if code, _ := anon.do("POST", "/comment", "text=api"); code != 200 {
		t.Errorf("7 no cookie, no fields: %d", code)
	}
	// 9: safe methods cross-site pass and change nothing.
	before := alice.count()
	for _, m := range []string{"GET", "HEAD"} {
		if code, _ := alice.do(m, "/", "", cross...); code != 200 {
			t.Errorf("9 %s cross-site: %d", m, code)
		}
	}
	if alice.count() != before {
		t.Error("9: a safe method changed state")
	}
	// 14: the client's token and identity fields, in either spelling,
	// never reach the application; gatehouse's own do.
	_, env := alice.do("GET", "/env", "", "X-CSRF-Token: x", "X_CSRF_Token: y", "X-Forwarded-User: root",
		"X_Forwarded_User: root", "X-Forwarded-Email: root@example.test", "X-Session-User: root", "X_Session_User: root",
		"Gatehouse-Debug: 1", "Gatehouse-CSRF-Token: z")
	vars := lines(env)
	if tok := vars["HTTP_X_CSRF_TOKEN"]; len(tok) != 86 || tok != vars["GATEHOUSE_CSRF_TOKEN"] {
		t.Errorf("14: the application's token: %q, GATEHOUSE_CSRF_TOKEN %q", tok, vars["GATEHOUSE_CSRF_TOKEN"])
	}
	if vars["HTTP_X_SESSION_USER"] != "alice" || vars["HTTP_X_FORWARDED_USER"] != "" || vars["HTTP_X_FORWARDED_EMAIL"] != "" || vars["HTTP_GATEHOUSE_DEBUG"] != "" {
		t.Errorf("14: forged fields reached the application:\n%s", env)
	}
	// Logout ends the session: the old cookie holds nothing after it.
	old := alice.cookies["__Host-gh_session"]
	alice.submit("/logout", url.Values{"csrf_token": {alice.token}})
	if _, ok := alice.cookies["__Host-gh_session"]; ok {
		t.Error("logout left the cookie")
	}
	replay := newVisitor(t, base)
	replay.cookies["__Host-gh_session"] = old
	if page := replay.load(); !strings.Contains(page, "anonymous") {
		t.Error("the session outlived its logout")
	}
}

// A Flask application with no CSRF protection and no session library,
// protected by gatehouse's flags.
func TestFlaskProtected(t *testing.T) {
	p := start(t, "--wsgi", "flaskapp:app", "--chdir", testdataDir(t, "csrf"), "--python", systemPython(t), "--workers", "1",
		"--csrf-tokens", "--session-store", "memory", "--session-pass", "user")
	attackTable(t, "http://"+p.addr)
	// Every refusal is one line of the server's, with its reason.
	if log := p.stderr.String(); !strings.Contains(log, `status=403`) || !strings.Contains(log, `csrf: cross-origin request (Sec-Fetch-Site)`) ||
		!strings.Contains(log, `Origin \"https://attacker.example\"`) {
		t.Errorf("no refusal with its reason in the log:\n%.2000s", log)
	}
}

// A PHP script with no CSRF protection and no session library, protected
// by gatehouse's configuration file.
func TestPHPProtected(t *testing.T) {
	sock := startPHPFPM(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	file := filepath.Join(dir, "gatehouse.toml")
	os.WriteFile(file, []byte(`
[[listen]]
addr = "`+addr+`"
[[site]]
[site.session]
pass = ["user"]
[site.csrf]
tokens = "session"
  [[site.route]]
  path = "/"
  php = { root = "`+testdataDir(t, "csrf/php")+`", pass = "`+sock+`" }
`), 0o644)
	p := startConfig(t, file, addr)
	attackTable(t, "http://"+p.addr)
}

// Two gatehouse instances share sessions through one Redis: a login through
// A goes on through B, a comment posted through B with B's page's token is
// taken, and a logout through B ends the session on A.
func TestSessionsAcrossInstances(t *testing.T) {
	redis := "redis://" + testutil.StartRedis(t) + "/0"
	args := []string{"--wsgi", "flaskapp:app", "--chdir", testdataDir(t, "csrf"), "--python", systemPython(t), "--workers", "1",
		"--csrf-tokens", "--session-store", redis, "--session-pass", "user"}
	a, b := start(t, args...), start(t, args...)
	u := newVisitor(t, "http://"+a.addr)
	u.load()
	if code, _ := u.submit("/login", url.Values{"csrf_token": {u.token}, "user": {"alice"}}); code != 303 {
		t.Fatalf("login through A: %d", code)
	}
	u.base = "http://" + b.addr
	if page := u.load(); !strings.Contains(page, `<p id="user">alice</p>`) {
		t.Fatalf("B does not know the session: %.300q", page)
	}
	if code, body := u.submit("/comment", url.Values{"csrf_token": {u.token}, "text": {"via B"}}); code != 200 {
		t.Fatalf("a comment through B: %d %q", code, body)
	}
	// A token B's page embedded serves on A too: the token is the session's.
	u.base = "http://" + a.addr
	if code, _ := u.submit("/comment", url.Values{"csrf_token": {u.token}, "text": {"via A"}}); code != 200 {
		t.Fatalf("B's token through A: %d", code)
	}
	u.base = "http://" + b.addr
	u.submit("/logout", url.Values{"csrf_token": {u.token}})
	u.base = "http://" + a.addr
	if page := u.load(); !strings.Contains(page, "anonymous") {
		t.Fatal("A still has the session B ended")
	}
}

// Inbound header hygiene holds on every route, with or without sessions and
// CSRF: a CGI script never sees a client's identity or token fields, in
// either spelling (CVE-2025-64484), and other fields still pass.
func TestInboundHygieneCGI(t *testing.T) {
	p := start(t, "--cgi", "/cgi-bin/="+testdataDir(t, "cgi-bin"))
	v := newVisitor(t, "http://"+p.addr)
	_, out := v.do("GET", "/cgi-bin/identity.sh", "", "X-Forwarded-User: root", "X_Forwarded_User: root",
		"x-forwarded-email: root@example.test", "X-CSRF-Token: x", "X_CSRF_TOKEN: y", "X-Session-User: root",
		"Gatehouse-Debug: 1", "X-Real-Name: kept")
	want := map[string]string{"HTTP_X_FORWARDED_USER": "", "HTTP_X_FORWARDED_EMAIL": "", "HTTP_X_CSRF_TOKEN": "",
		"HTTP_X_SESSION_USER": "", "HTTP_GATEHOUSE_DEBUG": "", "GATEHOUSE_CSRF_TOKEN": "", "HTTP_X_REAL_NAME": "kept"}
	got := lines(out)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

// Redis going away: every request of a session route is 503 with
// Retry-After, the log says why (once, not per request), nothing crashes,
// and the sessions come back with Redis.
func TestRedisDown(t *testing.T) {
	addr, redis := testutil.StartRedisProc(t)
	p := start(t, "--demo", "--session-store", "redis://"+addr+"/0", "--csrf-tokens")
	u := newVisitor(t, "http://"+p.addr)
	if code, _ := u.do("GET", "/healthz", ""); code != 200 || u.cookies["__Host-gh_session"] == "" {
		t.Fatalf("with Redis: %d, cookies %v", code, u.cookies)
	}
	redis.Stop(3 * time.Second)
	for range 3 {
		req, _ := http.NewRequest("GET", u.base+"/healthz", nil)
		req.Header.Set("Cookie", "__Host-gh_session="+u.cookies["__Host-gh_session"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" {
			t.Fatalf("without Redis: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if log := p.stderr.String(); strings.Count(log, "session store unavailable") != 1 {
		t.Fatalf("want one log line for three failures:\n%s", log)
	}
	// A new Redis on the same address: new sessions work again (the old
	// ones were in the Redis that went away).
	testutil.Start(t, nil, "redis-server", "--bind", "127.0.0.1", "--port", portOf(addr), "--save", "", "--appendonly", "no",
		"--dir", testutil.ShortTempDir(t)).WaitDial(t, addr)
	fresh := newVisitor(t, u.base)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _ := fresh.do("GET", "/healthz", "")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis is back, requests still %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}
