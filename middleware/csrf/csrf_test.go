package csrf

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/multipart"
	"strings"
	"testing"

	"gatehouse/internal/testutil"
	"gatehouse/middleware/session"
	"gatehouse/proto/cookie"
	"gatehouse/store"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

// app is a backend without any CSRF protection of its own, behind a session
// and this middleware, as the server chains them. It counts its calls and
// the state changes (unsafe requests) it carried out.
type app struct {
	t        *testing.T
	h        web.Handler
	calls    int
	changes  int
	seen     *web.Request // the last request, as the backend had it
	body     string
	sessions *session.Manager
	log      *testutil.LogBuffer
}

func newApp(t *testing.T, c Config, withSession bool) *app {
	a := &app{t: t, log: &testutil.LogBuffer{}}
	if c.Keys == nil {
		k, _ := cookie.NewKeys(bytes.Repeat([]byte{9}, cookie.KeySize))
		c.Keys = k
	}
	p, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	backend := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		r.Inbound() // the chain's last layer
		a.calls++
		a.seen = r.Clone()
		b, _ := io.ReadAll(r.Body())
		a.body = string(b)
		if unsafe(r.Method()) {
			a.changes++
		}
		if r.RawPath() != nil && string(r.RawPath()) == "/login" {
			user := r.Query().Get("user")
			if err := session.From(r).Set("user", user); err != nil {
				return err
			}
		}
		_, err := w.WriteString("ok")
		return err
	})
	a.h = p.Wrap(backend)
	if withSession {
		mem := store.NewMemory(store.MemoryConfig{})
		t.Cleanup(func() { mem.Close() })
		m, err := session.New(session.Config{Store: mem, Logger: a.log.Logger()})
		if err != nil {
			t.Fatal(err)
		}
		a.sessions = m
		a.h = m.Wrap(a.h)
	}
	return a
}

// client is a browser's cookie jar for one user.
type client struct {
	cookies map[string]string
	token   string // the last token the backend received: what its page embeds
}

func newClient() *client { return &client{cookies: map[string]string{}} }

func (c *client) cookieField() string {
	var s []string
	for n, v := range c.cookies {
		s = append(s, n+"="+v)
	}
	if len(s) == 0 {
		return ""
	}
	return "Cookie: " + strings.Join(s, "; ")
}

// do sends one request as c (nil: no cookies) and returns the status.
func (a *app) do(c *client, method, target string, body io.Reader, fields ...string) int {
	a.t.Helper()
	if c != nil {
		if f := c.cookieField(); f != "" {
			fields = append(fields, f)
		}
	}
	r := webtest.NewRequest(method, target, body, fields...)
	w := webtest.NewRecorder()
	webtest.Serve(a.h, w, r)
	if c != nil {
		for v := range w.Head.Values("Set-Cookie") {
			nv, attrs, _ := strings.Cut(string(v), ";")
			n, val, _ := strings.Cut(nv, "=")
			if strings.Contains(attrs, "Max-Age=0") {
				delete(c.cookies, n)
			} else {
				c.cookies[n] = val
			}
		}
		if a.seen != nil && w.Code == 200 {
			c.token = a.seen.Header.Get("X-CSRF-Token")
		}
	}
	return w.Code
}

// visit is a same-origin page load: the session (or cookie) and its token.
func (a *app) visit(c *client) {
	a.t.Helper()
	if code := a.do(c, "GET", "/form", nil, "Sec-Fetch-Site: none"); code != 200 || c.token == "" {
		a.t.Fatalf("visit: %d, token %q", code, c.token)
	}
}

func (a *app) login(c *client, user string) {
	a.t.Helper()
	if code := a.do(c, "POST", "/login?user="+user, nil, "Sec-Fetch-Site: same-origin", "X-CSRF-Token: "+c.token); code != 200 {
		a.t.Fatalf("login: %d", code)
	}
	a.visit(c) // the page after the login, with the new token
}

// expect runs one case: the status, and for a refusal, that the backend
// was not reached.
func (a *app) expect(name string, want int, f func() int) {
	a.t.Helper()
	before := a.calls
	got := f()
	if got != want {
		a.t.Errorf("%s: %d, want %d", name, got, want)
	}
	if want >= 400 && a.calls != before {
		a.t.Errorf("%s: refused, yet the backend was called", name)
	}
	if want < 400 && a.calls != before+1 {
		a.t.Errorf("%s: the backend was called %d times", name, a.calls-before)
	}
}

// The 15 attack cases of the research (security.md §4), against synchronizer
// tokens in the session; 13 against double-submit.
func TestAttackCases(t *testing.T) {
	form := func(tok string) io.Reader { return strings.NewReader("comment=hi&csrf_token=" + tok) }
	const formCT = "Content-Type: application/x-www-form-urlencoded"

	t.Run("layer 1", func(t *testing.T) {
		a := newApp(t, Config{TrustedOrigins: []string{"https://app.example.com"}, Bypass: []string{"/webhooks/"}}, false)
		post := func(fields ...string) func() int {
			return func() int { return a.do(nil, "POST", "/x", strings.NewReader("a=1"), fields...) }
		}
		a.expect("1 cross-site", 403, post("Sec-Fetch-Site: cross-site"))
		a.expect("2 same-site", 403, post("Sec-Fetch-Site: same-site"))
		a.expect("3 same-origin", 200, post("Sec-Fetch-Site: same-origin"))
		a.expect("4 none", 200, post("Sec-Fetch-Site: none"))
		a.expect("5 attacker origin", 403, post("Origin: https://attacker.example"))
		a.expect("6 origin null", 403, post("Origin: null"))
		a.expect("7 neither", 200, post())
		a.expect("own origin", 200, post("Origin: http://example.test"))
		a.expect("own origin, upper case", 200, post("Origin: http://EXAMPLE.test"))
		a.expect("own host with userinfo", 403, post("Origin: http://evil@example.test"))
		a.expect("own host with a path", 403, post("Origin: http://example.test/"))
		a.expect("8 trusted cross-site", 200, post("Sec-Fetch-Site: cross-site", "Origin: https://app.example.com"))
		a.expect("8 near match", 403, post("Sec-Fetch-Site: cross-site", "Origin: https://app.example.com.evil"))
		a.expect("8 near match, no SFS", 403, post("Origin: https://app.example.com.evil"))
		a.expect("8 other scheme", 403, post("Sec-Fetch-Site: cross-site", "Origin: http://app.example.com"))
		changes := a.changes
		for _, m := range []string{"GET", "HEAD", "OPTIONS"} {
			a.expect("9 "+m+" cross-site", 200, func() int {
				return a.do(nil, m, "/x", nil, "Sec-Fetch-Site: cross-site", "Origin: https://attacker.example")
			})
		}
		if a.changes != changes {
			t.Error("9: a safe method changed state")
		}
		cross := func(path string) func() int {
			return func() int { return a.do(nil, "POST", path, nil, "Sec-Fetch-Site: cross-site") }
		}
		a.expect("15 under the bypass", 200, cross("/webhooks/x"))
		a.expect("15 the bypass itself", 200, cross("/webhooks/"))
		a.expect("15 without the slash", 403, cross("/webhooks"))
		a.expect("15 a longer name", 403, cross("/webhooksX"))
		a.expect("15 dot segments out of it", 403, cross("/webhooks/../admin"))
		a.expect("15 escaped dot segments", 403, cross("/webhooks/%2e%2e/admin"))
		a.expect("15 repeated slashes in it", 200, cross("//webhooks//x"))
		a.expect("15 an escape in it", 200, cross("/web%68ooks/x"))
		for _, m := range []string{"PUT", "DELETE", "PATCH"} {
			a.expect(m+" cross-site", 403, func() int { return a.do(nil, m, "/x", nil, "Sec-Fetch-Site: cross-site") })
		}
		r := webtest.NewRequest("POST", "/x", nil, "Sec-Fetch-Site: cross-site", "Origin: https://attacker.example")
		err := a.h.ServeHTTP(webtest.NewRecorder(), r)
		if web.StatusOf(err) != 403 || !strings.Contains(err.Error(), `Sec-Fetch-Site "cross-site", Origin "https://attacker.example"`) {
			t.Errorf("the refusal's reason, for the server's log line: %v", err)
		}
	})

	t.Run("synchronizer tokens", func(t *testing.T) {
		a := newApp(t, Config{Tokens: TokensSession, Bypass: []string{"/webhooks/"}}, true)
		alice := newClient()
		a.visit(alice)
		a.login(alice, "alice")
		same := "Sec-Fetch-Site: same-origin"
		sent := alice.token
		a.expect("3 valid token (field)", 200, func() int { return a.do(alice, "POST", "/x", form(sent), same, formCT) })
		if a.body != "comment=hi&csrf_token="+sent {
			t.Errorf("3: the body reached the backend as %q", a.body)
		}
		a.expect("3 valid token (header)", 200, func() int {
			return a.do(alice, "POST", "/x", strings.NewReader("{}"), same, "X-CSRF-Token: "+alice.token)
		})
		a.expect("3 token missing", 403, func() int { return a.do(alice, "POST", "/x", strings.NewReader("comment=hi"), same, formCT) })
		a.expect("7 no SFS/Origin, cookie, no token", 403, func() int { return a.do(alice, "POST", "/x", strings.NewReader("a=1"), formCT) })
		a.expect("7 no SFS/Origin, no cookie", 200, func() int { return a.do(nil, "POST", "/x", strings.NewReader("a=1"), formCT) })
		a.expect("7 no cookie, a bearer token", 200, func() int {
			return a.do(nil, "POST", "/x", strings.NewReader("a=1"), formCT, "Authorization: Bearer abc")
		})
		a.expect("7 no cookie, Basic credentials the browser keeps", 403, func() int {
			return a.do(nil, "POST", "/x", strings.NewReader("a=1"), formCT, "Authorization: Basic YTpi")
		})
		a.expect("1 cross-site with a valid token", 403, func() int {
			return a.do(alice, "POST", "/x", form(alice.token), "Sec-Fetch-Site: cross-site", formCT)
		})

		bob := newClient()
		a.visit(bob)
		a.login(bob, "bob")
		a.expect("10 A's token with B's cookie", 403, func() int { return a.do(bob, "POST", "/x", form(alice.token), same, formCT) })

		carol := newClient()
		a.visit(carol)
		before := carol.token
		a.login(carol, "carol")
		a.expect("11 token from before the login", 403, func() int { return a.do(carol, "POST", "/x", form(before), same, formCT) })
		a.expect("11 token from after the login", 200, func() int { return a.do(carol, "POST", "/x", form(carol.token), same, formCT) })

		raw, _ := base64.RawURLEncoding.DecodeString(alice.token)
		flipped := bytes.Clone(raw)
		flipped[40] ^= 1
		for name, tok := range map[string]string{
			"bit flipped":  base64.RawURLEncoding.EncodeToString(flipped),
			"truncated":    alice.token[:len(alice.token)-1],
			"one more":     alice.token + "A",
			"bad base64":   "!" + alice.token[1:],
			"padded":       alice.token + "==",
			"empty":        "",
			"unmasked":     base64.RawURLEncoding.EncodeToString(raw[32:]),
			"zeroes":       strings.Repeat("A", MaskedLen),
			"another mask": base64.RawURLEncoding.EncodeToString(append(make([]byte, 32), raw[32:]...)),
		} {
			a.expect("12 "+name, 403, func() int {
				return a.do(alice, "POST", "/x", strings.NewReader("x"), same, "X-CSRF-Token: "+tok)
			})
		}
		a.expect("12 the real token still works", 200, func() int {
			return a.do(alice, "POST", "/x", strings.NewReader("x"), same, "X-CSRF-Token: "+alice.token)
		})
		// Every response masks the token anew; each mask is valid.
		t1 := alice.token
		a.visit(alice)
		if alice.token == t1 {
			t.Error("two responses carried the same masked token")
		}
		a.expect("a token of an earlier response", 200, func() int {
			return a.do(alice, "POST", "/x", strings.NewReader("x"), same, "X-CSRF-Token: "+t1)
		})

		// 14: the client's X-CSRF-Token and X_CSRF_Token never reach the
		// backend; gatehouse's own does.
		a.expect("14 smuggled tokens", 200, func() int {
			return a.do(nil, "GET", "/x", nil, "X-CSRF-Token: x", "X_CSRF_Token: y", "X-Forwarded-User: admin", "X_Forwarded_User: admin")
		})
		for n, v := range a.seen.Header.All() {
			if (strings.EqualFold(string(n), "X-CSRF-Token") || strings.EqualFold(string(n), "X_CSRF_Token")) && (string(v) == "x" || string(v) == "y") ||
				strings.Contains(strings.ToLower(string(n)), "forwarded") {
				t.Errorf("14: %s: %s reached the backend", n, v)
			}
		}
		if tok := a.seen.Header.Get("X-CSRF-Token"); len(tok) != MaskedLen {
			t.Errorf("14: the backend's token is %q", tok)
		}
		var vars []string
		for n, v := range a.seen.PassedVars() {
			vars = append(vars, string(n)+"="+string(v))
		}
		if len(vars) != 1 || vars[0] != Var+"="+a.seen.Header.Get("X-CSRF-Token") {
			t.Errorf("14: variables %q", vars)
		}

		a.expect("15 webhook without a token", 200, func() int {
			return a.do(alice, "POST", "/webhooks/x", strings.NewReader("a=1"), "Sec-Fetch-Site: cross-site", formCT)
		})
		big := strings.Repeat("a", DefaultMaxForm) + "&csrf_token=" + alice.token
		a.expect("15 the token past the form limit", 413, func() int { return a.do(alice, "POST", "/x", strings.NewReader(big), same, formCT) })
		a.expect("15 the token past the form limit, in the header", 200, func() int {
			return a.do(alice, "POST", "/x", strings.NewReader(big), same, formCT, "X-CSRF-Token: "+alice.token)
		})
		if len(a.body) != len(big) {
			t.Errorf("the large body reached the backend with %d bytes", len(a.body))
		}
	})

	t.Run("double-submit", func(t *testing.T) {
		a := newApp(t, Config{Tokens: TokensDoubleSubmit}, false)
		victim := newClient()
		a.visit(victim)
		if _, ok := victim.cookies[DefaultCookieName]; !ok {
			t.Fatalf("no %s cookie: %v", DefaultCookieName, victim.cookies)
		}
		same := "Sec-Fetch-Site: same-origin"
		a.expect("3 valid", 200, func() int { return a.do(victim, "POST", "/x", form(victim.token), same, formCT) })
		a.expect("3 missing", 403, func() int { return a.do(victim, "POST", "/x", strings.NewReader("a=1"), same, formCT) })
		// 13: the attacker has a valid pair of its own (a visit of its
		// own), plants its cookie without the __Host- prefix through a
		// subdomain, and sends its token.
		attacker := newClient()
		a.visit(attacker)
		planted := newClient()
		planted.cookies = map[string]string{"gh_csrf": attacker.cookies[DefaultCookieName], DefaultCookieName: victim.cookies[DefaultCookieName]}
		a.expect("13 planted cookie", 403, func() int { return a.do(planted, "POST", "/x", form(attacker.token), formCT) })
		forged := newClient()
		forged.cookies = map[string]string{"gh_csrf": "x", DefaultCookieName: base64.RawURLEncoding.EncodeToString(make([]byte, 32))}
		a.expect("13 a cookie of its choosing", 403, func() int { return a.do(forged, "POST", "/x", form(victim.token), formCT) })
	})

	t.Run("double-submit bound to the session", func(t *testing.T) {
		a := newApp(t, Config{Tokens: TokensDoubleSubmit}, true)
		u := newClient()
		a.visit(u)
		before := u.token
		a.login(u, "alice")
		same := "Sec-Fetch-Site: same-origin"
		a.expect("11 token from before the login", 403, func() int { return a.do(u, "POST", "/x", form(before), same, formCT) })
		a.expect("after the login", 200, func() int { return a.do(u, "POST", "/x", form(u.token), same, formCT) })
		b := newClient()
		a.visit(b)
		a.login(b, "bob")
		b.cookies[DefaultCookieName] = u.cookies[DefaultCookieName]
		a.expect("10 A's token and cookie with B's session", 403, func() int { return a.do(b, "POST", "/x", form(u.token), same, formCT) })
	})
}

func multipartBody(t *testing.T, fields [][2]string, fileFirst int) (io.Reader, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if fileFirst > 0 {
		fw, _ := mw.CreateFormFile("upload", "big.bin")
		fw.Write(bytes.Repeat([]byte("x"), fileFirst))
	}
	for _, f := range fields {
		mw.WriteField(f[0], f[1])
	}
	mw.Close()
	return bytes.NewReader(b.Bytes()), "Content-Type: " + mw.FormDataContentType()
}

func TestMultipart(t *testing.T) {
	a := newApp(t, Config{Tokens: TokensSession, MaxForm: 64 << 10}, true)
	u := newClient()
	a.visit(u)
	same := "Sec-Fetch-Site: same-origin"
	body, ct := multipartBody(t, [][2]string{{"csrf_token", u.token}, {"comment", "hi"}}, 0)
	want, _ := io.ReadAll(body)
	body.(*bytes.Reader).Seek(0, 0)
	a.expect("token first", 200, func() int { return a.do(u, "POST", "/x", body, same, ct) })
	if a.body != string(want) {
		t.Errorf("the multipart body changed on its way")
	}
	body, ct = multipartBody(t, [][2]string{{"comment", "hi"}, {"csrf_token", u.token}}, 32<<10)
	a.expect("token after a file, within the limit", 200, func() int { return a.do(u, "POST", "/x", body, same, ct) })
	body, ct = multipartBody(t, [][2]string{{"csrf_token", u.token}}, 64<<10)
	a.expect("token after a file past the limit", 413, func() int { return a.do(u, "POST", "/x", body, same, ct) })
	body, ct = multipartBody(t, [][2]string{{"comment", "hi"}}, 0)
	a.expect("no token", 403, func() int { return a.do(u, "POST", "/x", body, same, ct) })
	body, ct = multipartBody(t, [][2]string{{"csrf_token", "bad"}}, 0)
	a.expect("a bad token", 403, func() int { return a.do(u, "POST", "/x", body, same, ct) })
	a.expect("no boundary", 403, func() int {
		return a.do(u, "POST", "/x", strings.NewReader("x"), same, "Content-Type: multipart/form-data")
	})
}

// formField at its limit and one past, for both encodings.
func TestFormFieldLimit(t *testing.T) {
	const max = 1000
	tok := strings.Repeat("T", MaskedLen)
	for _, c := range []struct {
		name string
		body string
		ct   string
		want string
		err  error
	}{
		{"url-encoded, field last, at the limit", strings.Repeat("a", max-len("&csrf_token=")-len(tok)) + "&csrf_token=" + tok, "application/x-www-form-urlencoded", tok, nil},
		{"url-encoded, field last, one past", strings.Repeat("a", max-len("&csrf_token=")-len(tok)+1) + "&csrf_token=" + tok, "application/x-www-form-urlencoded", "", ErrFormTooLarge},
		{"url-encoded, field first, long body", "csrf_token=" + tok + "&" + strings.Repeat("a", 10*max), "application/x-www-form-urlencoded", tok, nil},
		{"url-encoded, escaped name and value", "csrf%5Ftoken=" + strings.ReplaceAll(tok, "T", "%54"), "application/x-www-form-urlencoded; charset=utf-8", tok, nil},
		{"url-encoded, no field", "a=1&b=2", "application/x-www-form-urlencoded", "", errNoField},
		{"url-encoded, a longer name", "csrf_tokens=" + tok, "application/x-www-form-urlencoded", "", errNoField},
		{"url-encoded, empty", "", "application/x-www-form-urlencoded", "", errNoField},
		{"json", `{"csrf_token":"` + tok + `"}`, "application/json", "", errNoField},
		{"no media type", "csrf_token=" + tok, "", "", errNoField},
		{"bad media type", "csrf_token=" + tok, ";;", "", errNoField},
	} {
		t.Run(c.name, func(t *testing.T) {
			fields := []string{}
			if c.ct != "" {
				fields = append(fields, "Content-Type: "+c.ct)
			}
			r := webtest.NewRequest("POST", "/", strings.NewReader(c.body), fields...)
			v, err := formField(r, DefaultField, max)
			if err != c.err || string(v) != c.want {
				t.Fatalf("%.20q, %v; want %.20q, %v", v, err, c.want, c.err)
			}
			rest, _ := io.ReadAll(r.Body())
			if string(rest) != c.body {
				t.Fatalf("the body is not passed on unchanged: %d of %d bytes", len(rest), len(c.body))
			}
		})
	}
}

// FuzzFormField: whatever the body, formField never panics, never reads
// past its limit plus one byte, and the backend receives the body whole.
func FuzzFormField(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "a=1&csrf_token=abc&b=2", 100)
	f.Add("multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\nabc\r\n--X--\r\n", 100)
	f.Add("multipart/form-data; boundary=X", "--X\r\n\r\n", 5)
	f.Add("application/x-www-form-urlencoded", "%zz=1&csrf_token=%", 10)
	f.Fuzz(func(t *testing.T, ct, body string, max int) {
		if max < 0 || max > 1<<16 {
			return
		}
		src := &countReader{r: strings.NewReader(body)}
		r := webtest.NewRequest("POST", "/", strings.NewReader(""), "Content-Type: "+ct)
		r.SetBody(src, int64(len(body)))
		v, err := formField(r, DefaultField, int64(max))
		if src.n > int64(max)+1 && err != errNoField {
			t.Fatalf("read %d bytes past a limit of %d", src.n, max)
		}
		if err == nil && len(v) > len(body) {
			t.Fatalf("a value longer than the body")
		}
		rest, _ := io.ReadAll(r.Body())
		if string(rest) != body {
			t.Fatalf("body %q came out as %q", body, rest)
		}
	})
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestMask(t *testing.T) {
	tok := bytes.Repeat([]byte{0xab}, tokenLen)
	m1, m2 := mask(tok), mask(tok)
	if m1 == m2 || len(m1) != MaskedLen {
		t.Fatalf("%q %q", m1, m2)
	}
	var out [tokenLen]byte
	if !unmask([]byte(m1), &out) || !bytes.Equal(out[:], tok) {
		t.Fatal("unmask")
	}
	for _, bad := range []string{"", m1[:MaskedLen-1], m1 + "A", "*" + m1[1:]} {
		if unmask([]byte(bad), &out) {
			t.Errorf("%q unmasked", bad)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	for _, c := range []struct {
		c   Config
		err string
	}{
		{Config{TrustedOrigins: []string{"https://a.example/"}}, "not scheme://host"},
		{Config{TrustedOrigins: []string{"a.example"}}, "not scheme://host"},
		{Config{TrustedOrigins: []string{"ftp://a.example"}}, "not scheme://host"},
		{Config{TrustedOrigins: []string{"https://u@a.example"}}, "not scheme://host"},
		{Config{Bypass: []string{"webhooks/"}}, "not a clean absolute path"},
		{Config{Bypass: []string{"/a/../b"}}, "not a clean absolute path"},
		{Config{Bypass: []string{"/a//b"}}, "not a clean absolute path"},
		{Config{Header: "X-Token"}, "not a field only gatehouse may send"},
		{Config{Tokens: TokensDoubleSubmit}, "need keys"},
		{Config{Tokens: TokensDoubleSubmit, Keys: mustKeys(t), Insecure: true}, "__Host-"},
		{Config{TrustedOrigins: []string{"HTTPS://A.example:8443"}, Bypass: []string{"/hook", "/webhooks/"}}, ""},
	} {
		_, err := New(c.c)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%+v: %v, want %q", c.c, err, c.err)
		}
	}
	// Session tokens without a session middleware: a wiring mistake, 500.
	p, _ := New(Config{Tokens: TokensSession})
	w := webtest.NewRecorder()
	webtest.Serve(p.Wrap(web.HandlerFunc(func(web.ResponseWriter, *web.Request) error { return nil })), w, webtest.NewRequest("GET", "/", nil))
	if w.Code != 500 {
		t.Fatalf("%d", w.Code)
	}
}

func mustKeys(t *testing.T) *cookie.Keys {
	k, err := cookie.NewKeys(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Layer 1 allocates nothing, on a pass and on a refusal (research target:
// under 0.2 µs and no allocation).
func TestCheckAllocs(t *testing.T) {
	o, _ := NewOrigins([]string{"https://app.example.com"}, []string{"/webhooks/"})
	for _, fields := range [][]string{
		{"Sec-Fetch-Site: same-origin", "Origin: http://example.test"},
		{"Origin: http://example.test"},
		{"Sec-Fetch-Site: cross-site", "Origin: https://attacker.example"},
		{"Origin: https://app.example.com", "Sec-Fetch-Site: cross-site"},
	} {
		r := webtest.NewRequest("POST", "/comments", nil, fields...)
		if n := testing.AllocsPerRun(1000, func() { o.Check(r) }); n != 0 {
			t.Errorf("%q: %v allocations", fields, n)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	o, _ := NewOrigins(nil, nil)
	r := webtest.NewRequest("POST", "/comments", nil, "Accept: */*", "User-Agent: bench",
		"Sec-Fetch-Site: same-origin", "Origin: http://example.test", "Content-Type: application/x-www-form-urlencoded")
	b.ReportAllocs()
	for b.Loop() {
		if o.Check(r) != nil {
			b.Fatal("refused")
		}
	}
}

// FuzzUnmask: no input panics the token parser, and what it takes is a
// masked token of the right length that masks back to itself.
func FuzzUnmask(f *testing.F) {
	f.Add(mask(bytes.Repeat([]byte{1}, tokenLen)))
	f.Add("")
	f.Add(strings.Repeat("A", MaskedLen))
	f.Add(strings.Repeat("A", MaskedLen-1) + "=")
	f.Fuzz(func(t *testing.T, s string) {
		var out [tokenLen]byte
		if !unmask([]byte(s), &out) {
			return
		}
		if len(s) != MaskedLen {
			t.Fatalf("took %d bytes", len(s))
		}
		var again [tokenLen]byte
		if !unmask([]byte(mask(out[:])), &again) || again != out {
			t.Fatal("a token does not survive a new mask")
		}
	})
}

// A double-submit token signed before a key rotation still posts after it
// (the new key first in the file, the old one after it: every key verifies,
// the first signs); one signed under a key no longer in the file does not.
func TestDoubleSubmitKeyRotation(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, cookie.KeySize), bytes.Repeat([]byte{2}, cookie.KeySize)
	keys := func(secrets ...[]byte) *cookie.Keys {
		k, err := cookie.NewKeys(secrets...)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	before := newApp(t, Config{Tokens: TokensDoubleSubmit, Keys: keys(oldKey)}, false)
	u := newClient()
	before.visit(u) // the page, rendered with the old key's token
	same := "Sec-Fetch-Site: same-origin"
	form := func(tok string) io.Reader { return strings.NewReader("comment=hi&csrf_token=" + tok) }
	const formCT = "Content-Type: application/x-www-form-urlencoded"

	rotated := newApp(t, Config{Tokens: TokensDoubleSubmit, Keys: keys(newKey, oldKey)}, false)
	rotated.expect("after a rotation", 200, func() int { return rotated.do(u, "POST", "/x", form(u.token), same, formCT) })

	dropped := newApp(t, Config{Tokens: TokensDoubleSubmit, Keys: keys(newKey)}, false)
	v := newClient()
	before.visit(v)
	dropped.expect("old key dropped", 403, func() int { return dropped.do(v, "POST", "/x", form(v.token), same, formCT) })
}
