package session

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"gatehouse/internal/testutil"
	"gatehouse/proto/cookie"
	"gatehouse/store"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

// env is a Manager over a memory store and a clock the test turns.
type env struct {
	t     *testing.T
	clk   *testutil.Clock
	store *store.Memory
	m     *Manager
	log   *testutil.LogBuffer
}

func newEnv(t *testing.T, c Config) *env {
	e := &env{t: t, clk: testutil.NewClock(time.Unix(1_700_000_000, 0)), log: &testutil.LogBuffer{}}
	if c.Store == nil && c.Keys == nil {
		e.store = store.NewMemory(store.MemoryConfig{Now: e.clk.Now, SweepInterval: time.Hour})
		t.Cleanup(func() { e.store.Close() })
		c.Store = e.store
	}
	c.Now, c.Logger = e.clk.Now, e.log.Logger()
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	return e
}

// result is one response: its status, the session cookie it set ("" for
// none, "-" for a deletion), what the backend saw.
type result struct {
	code   int
	cookie string
	rec    *webtest.Recorder
	seen   *web.Request // the request as the backend had it (cloned)
	sess   map[string]string
	isNew  bool
}

// do serves one request with the cookie value c ("" for none) through the
// middleware around h.
func (e *env) do(c string, h func(w web.ResponseWriter, r *web.Request, s *Session) error, fields ...string) result {
	e.t.Helper()
	if c != "" {
		fields = append(fields, "Cookie: "+e.m.CookieName()+"="+c)
	}
	r := webtest.NewRequest("GET", "/", nil, fields...)
	var res result
	inner := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		r.Inbound() // as the chain's last layer does
		res.seen = r.Clone()
		s := From(r)
		res.isNew = s.IsNew()
		res.sess = map[string]string{}
		s.Values(func(n, v string) { res.sess[n] = v })
		if h == nil {
			return nil
		}
		return h(w, r, s)
	})
	w := webtest.NewRecorder()
	webtest.Serve(e.m.Wrap(inner), w, r)
	res.code, res.rec = w.Code, w
	for v := range w.Head.Values("Set-Cookie") {
		name, rest, _ := strings.Cut(string(v), "=")
		if name != e.m.CookieName() {
			continue
		}
		val, attrs, _ := strings.Cut(rest, ";")
		res.cookie = val
		if strings.Contains(attrs, "Max-Age=0") {
			res.cookie = "-"
		}
	}
	return res
}

func setUser(name string) func(web.ResponseWriter, *web.Request, *Session) error {
	return func(w web.ResponseWriter, r *web.Request, s *Session) error {
		return s.Set("user", name)
	}
}

func TestNewSessionOnlyWhenUsed(t *testing.T) {
	e := newEnv(t, Config{})
	if r := e.do("", nil); r.cookie != "" || !r.isNew || e.store.Len() != 0 || r.rec.Head.Has("Vary") {
		t.Fatalf("an unused session was saved, or its response varies: %+v", r)
	}
	r := e.do("", setUser("alice"))
	if r.code != 200 || len(r.cookie) != 43 || e.store.Len() != 1 {
		t.Fatalf("%d %q %d", r.code, r.cookie, e.store.Len())
	}
	sc := r.rec.Head.Get("Set-Cookie")
	if sc != "__Host-gh_session="+r.cookie+"; Path=/; Secure; HttpOnly; SameSite=Lax" {
		t.Fatalf("Set-Cookie: %s", sc)
	}
	if r.rec.Head.Get("Cache-Control") != "private, no-store" {
		t.Fatal("a response setting a session cookie may be cached")
	}
	r2 := e.do(r.cookie, nil)
	if r2.isNew || r2.sess["user"] != "alice" || r2.cookie != "" {
		t.Fatalf("not loaded: %+v", r2)
	}
}

// Research §3: never accept an ID the store does not know.
func TestUnknownIDNotTakenUp(t *testing.T) {
	e := newEnv(t, Config{})
	planted := strings.Repeat("A", 43) // a well-formed ID nobody issued
	r := e.do(planted, setUser("alice"))
	if !r.isNew || r.cookie == planted || len(r.cookie) != 43 {
		t.Fatalf("the planted ID was taken up: %+v", r)
	}
	for _, bad := range []string{"short", strings.Repeat("A", 44), strings.Repeat("!", 43), strings.Repeat("A", 42) + "="} {
		if r := e.do(bad, nil); !r.isNew {
			t.Fatalf("%q loaded a session", bad)
		}
	}
}

// Fixation: a change of "user" renews the ID; the old one is gone.
func TestRenewOnLogin(t *testing.T) {
	e := newEnv(t, Config{})
	anon := e.do("", func(w web.ResponseWriter, r *web.Request, s *Session) error {
		s.CSRFToken()
		return s.Set("cart", "3")
	})
	token := e.csrf(anon.cookie)
	login := e.do(anon.cookie, setUser("alice"))
	if login.cookie == "" || login.cookie == anon.cookie {
		t.Fatalf("login kept the ID: %q", login.cookie)
	}
	if r := e.do(anon.cookie, nil); !r.isNew {
		t.Fatal("the pre-login ID still opens the session")
	}
	after := e.do(login.cookie, nil)
	if after.sess["user"] != "alice" || after.sess["cart"] != "3" {
		t.Fatalf("values lost on renewal: %v", after.sess)
	}
	if bytes.Equal(e.csrf(login.cookie), token) {
		t.Fatal("the CSRF token survived the login (research case 11)")
	}
	// Setting the same user again is no privilege change.
	if r := e.do(login.cookie, setUser("alice")); r.cookie != "" {
		t.Fatal("an unchanged user renewed the ID")
	}
	// Another value changes without renewal.
	if r := e.do(login.cookie, func(w web.ResponseWriter, r *web.Request, s *Session) error { return s.Set("cart", "4") }); r.cookie != "" {
		t.Fatal("a cart change renewed the ID")
	}
	explicit := e.do(login.cookie, func(w web.ResponseWriter, r *web.Request, s *Session) error { s.Renew(); return nil })
	if explicit.cookie == "" || explicit.cookie == login.cookie {
		t.Fatal("Renew did not renew")
	}
}

// csrf returns the CSRF token of the session behind cookie c.
func (e *env) csrf(c string) []byte {
	var tok []byte
	e.do(c, func(w web.ResponseWriter, r *web.Request, s *Session) error {
		tok = append([]byte(nil), s.CSRFToken()...)
		return nil
	})
	return tok
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, Config{Lifetime: 2 * time.Hour, IdleTimeout: 30 * time.Minute})
	c := e.do("", setUser("alice")).cookie
	// Used every 20 minutes, it lives until its lifetime ends.
	for range 5 {
		e.clk.Advance(20 * time.Minute)
		if r := e.do(c, nil); r.isNew {
			t.Fatalf("ended while in use, at %v", e.clk.Now())
		}
	}
	e.clk.Advance(20 * time.Minute) // 2 hours since the start
	if r := e.do(c, nil); !r.isNew {
		t.Fatal("outlived its absolute lifetime")
	}
	if e.store.Len() != 0 {
		t.Fatal("the expired record was not deleted")
	}
	c = e.do("", setUser("bob")).cookie
	e.clk.Advance(30*time.Minute - time.Second)
	if r := e.do(c, nil); r.isNew {
		t.Fatal("ended before its idle timeout")
	}
	e.clk.Advance(30 * time.Minute)
	if r := e.do(c, nil); !r.isNew {
		t.Fatal("outlived its idle timeout")
	}
}

func TestDestroy(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.do("", setUser("alice")).cookie
	r := e.do(c, func(w web.ResponseWriter, r *web.Request, s *Session) error { s.Destroy(); return nil })
	if r.cookie != "-" || e.store.Len() != 0 {
		t.Fatalf("%q, %d held", r.cookie, e.store.Len())
	}
	if r := e.do(c, nil); !r.isNew {
		t.Fatal("a destroyed session loads")
	}
	if r := e.do("", func(w web.ResponseWriter, r *web.Request, s *Session) error { s.Destroy(); return nil }); r.cookie != "" {
		t.Fatal("destroying a new session sent a cookie")
	}
}

// The protocol with backends that have no session library.
func TestBackendProtocol(t *testing.T) {
	e := newEnv(t, Config{Pass: []string{"user", "role"}})
	login := e.do("", func(w web.ResponseWriter, r *web.Request, s *Session) error {
		h := w.Header()
		h.Add("X-Session-Set", "user=alice")
		h.Add("x-session-set", " Role = admin ")
		h.Add("X-Session-Set", "secret=1") // not passed: refused
		h.Add("X_Session_Set", "nonsense") // malformed: refused, and removed
		h.Add("Content-Type", "text/plain")
		_, err := w.WriteString("logged in")
		return err
	}, "X-Session-User: mallory", "X_Session_Role: admin")
	if login.seen.Header.Has("X-Session-User") || login.seen.Header.Has("X_Session_Role") {
		t.Fatal("the client's X-Session-* fields reached the backend")
	}
	for n := range login.rec.Head.All() {
		if isSessionField(n) {
			t.Fatalf("%s reached the client", n)
		}
	}
	if login.rec.Body.String() != "logged in" || login.cookie == "" {
		t.Fatalf("%q %q", login.rec.Body.String(), login.cookie)
	}
	if !strings.Contains(e.log.String(), "session: backend field refused") {
		t.Fatal("the refused field was not logged")
	}
	r := e.do(login.cookie, nil, "X-Session-User: mallory")
	if r.rec.Head.Get("Vary") != "Cookie" {
		t.Fatalf("a response built from session values does not vary by Cookie: %q", r.rec.Head.Get("Vary"))
	}
	if got := r.seen.Header.Get("X-Session-User"); got != "alice" {
		t.Fatalf("X-Session-User = %q", got)
	}
	if got := r.seen.Header.Get("X-Session-Role"); got != "admin" {
		t.Fatalf("X-Session-Role = %q", got)
	}
	if _, ok := r.sess["secret"]; ok {
		t.Fatal("a value the operator does not pass was set")
	}
	del := e.do(login.cookie, func(w web.ResponseWriter, r *web.Request, s *Session) error {
		w.Header().Set("X-Session-Delete", "role")
		return nil
	})
	if del.cookie != "" {
		t.Fatal("deleting role renewed the ID")
	}
	if r := e.do(login.cookie, nil); r.seen.Header.Has("X-Session-Role") {
		t.Fatal("role still passed")
	}
	out := e.do(login.cookie, func(w web.ResponseWriter, r *web.Request, s *Session) error {
		w.Header().Set("X-Session-Destroy", "1")
		w.WriteHeader(303)
		return nil
	})
	if out.cookie != "-" || out.code != 303 {
		t.Fatalf("logout: %q %d", out.cookie, out.code)
	}
	renew := e.do(e.do("", setUser("bob")).cookie, func(w web.ResponseWriter, r *web.Request, s *Session) error {
		w.Header().Set("X-Session-Renew", "1")
		return nil
	})
	if renew.cookie == "" {
		t.Fatal("X-Session-Renew did not renew")
	}
}

// A handler that fails does not save: its error page carries no cookie.
func TestErrorNotSaved(t *testing.T) {
	e := newEnv(t, Config{})
	r := e.do("", func(w web.ResponseWriter, r *web.Request, s *Session) error {
		s.Set("user", "alice")
		return web.ErrNotFound
	})
	if r.code != 404 || r.cookie != "" || e.store.Len() != 0 {
		t.Fatalf("%d %q %d", r.code, r.cookie, e.store.Len())
	}
}

func TestSetRefuses(t *testing.T) {
	s := &Session{}
	for _, c := range []struct {
		name, value string
		err         error
	}{
		{"user", "alice", nil},
		{"", "x", ErrValueName},
		{"User", "x", ErrValueName},
		{"a_b", "x", ErrValueName},
		{strings.Repeat("a", MaxNameLen), "x", nil},
		{strings.Repeat("a", MaxNameLen+1), "x", ErrValueName},
		{"v", strings.Repeat("x", MaxValueLen), nil},
		{"v", strings.Repeat("x", MaxValueLen+1), ErrValueLen},
		{"v", "a\r\nSet-Cookie: x", ErrValueLen},
		{"v", "a\x00", ErrValueLen},
		{"v", "tab\tand café", nil},
	} {
		if err := s.Set(c.name, c.value); !errors.Is(err, c.err) {
			t.Errorf("Set(%q, %.20q) = %v, want %v", c.name, c.value, err, c.err)
		}
	}
	s = &Session{}
	for i := range MaxValues {
		if err := s.Set("v"+strings.Repeat("x", i), "1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Set("one-more", "1"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("value %d: %v", MaxValues+1, err)
	}
}

func keys(t testing.TB) *cookie.Keys {
	k, err := cookie.NewKeys(bytes.Repeat([]byte{7}, cookie.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCookieOnly(t *testing.T) {
	e := newEnv(t, Config{Keys: keys(t), IdleTimeout: 30 * time.Minute, Lifetime: 24 * time.Hour})
	r := e.do("", setUser("alice"))
	if r.cookie == "" || strings.Contains(r.cookie, "alice") {
		t.Fatalf("cookie %q", r.cookie)
	}
	if got := e.do(r.cookie, nil); got.isNew || got.sess["user"] != "alice" || got.cookie != "" {
		t.Fatalf("%+v", got)
	}
	// Tampered, truncated or from another key: a new session.
	raw := []byte(r.cookie)
	raw[len(raw)/2] ^= 1
	for _, bad := range []string{string(raw), r.cookie[:len(r.cookie)-1], "x"} {
		if got := e.do(bad, nil); !got.isNew {
			t.Fatalf("%q opened", bad)
		}
	}
	other := newEnv(t, Config{Keys: func() *cookie.Keys { k, _ := cookie.NewKeys(bytes.Repeat([]byte{8}, 32)); return k }()})
	if got := other.do(r.cookie, nil); !got.isNew {
		t.Fatal("another key opened it")
	}
	// The idle timeout slides once a minute, by a new cookie.
	e.clk.Advance(2 * time.Minute)
	slid := e.do(r.cookie, nil)
	if slid.cookie == "" || slid.isNew {
		t.Fatal("the idle timeout did not slide")
	}
	e.clk.Advance(31 * time.Minute)
	if got := e.do(slid.cookie, nil); !got.isNew {
		t.Fatal("outlived its idle timeout")
	}
	// Login renews the binding ID.
	c1 := e.do("", func(w web.ResponseWriter, r *web.Request, s *Session) error { return s.Set("cart", "1") })
	var id1, id2 []byte
	e.do(c1.cookie, func(w web.ResponseWriter, r *web.Request, s *Session) error {
		id1 = append([]byte(nil), s.BindingID()...)
		return s.Set("user", "alice")
	})
	c2 := e.do(c1.cookie, setUser("alice"))
	e.do(c2.cookie, func(w web.ResponseWriter, r *web.Request, s *Session) error {
		id2 = s.BindingID()
		return nil
	})
	if bytes.Equal(id1, id2) {
		t.Fatal("login kept the cookie-only session's ID")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		c    Config
		err  string
	}{
		{"no store and no keys", Config{}, "need keys"},
		{"__Host- but insecure", Config{Keys: keys(t), Insecure: true}, "__Host-"},
		{"a bad cookie name", Config{Keys: keys(t), CookieName: "a b"}, "not a token"},
		{"a bad value name", Config{Keys: keys(t), Pass: []string{"User"}}, "session value"},
		{"insecure, no prefix", Config{Keys: keys(t), Insecure: true, CookieName: "gh_session"}, ""},
	} {
		_, err := New(c.c)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
}

// A store that fails is 503 and a log line, on load and on save, and the
// backend's response is not sent.
func TestStoreDown(t *testing.T) {
	mr := miniredis.RunT(t)
	rs, err := store.NewRedis(store.RedisConfig{URL: "redis://" + mr.Addr() + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	e := newEnv(t, Config{Store: rs})
	c := e.do("", setUser("alice")).cookie
	if c == "" {
		t.Fatal("no session")
	}
	mr.SetError("ERR injected")
	calls := 0
	r := e.do(c, func(w web.ResponseWriter, r *web.Request, s *Session) error { calls++; return nil })
	if r.code != 503 || calls != 0 {
		t.Fatalf("load with the store down: %d, %d calls", r.code, calls)
	}
	if r.rec.Head.Get("Retry-After") != "5" {
		t.Fatal("no Retry-After")
	}
	if !strings.Contains(e.log.String(), "session store unavailable") {
		t.Fatalf("no log line: %s", e.log.String())
	}
	// Load works (no cookie), save fails: 503, and the body never went out.
	r = e.do("", func(w web.ResponseWriter, r *web.Request, s *Session) error {
		s.Set("user", "bob")
		_, err := w.WriteString("secret page")
		return err
	})
	if r.code != 503 || strings.Contains(r.rec.Body.String(), "secret page") {
		t.Fatalf("save with the store down: %d %q", r.code, r.rec.Body.String())
	}
}

func TestParseSet(t *testing.T) {
	for _, c := range []struct {
		in, name, value string
		ok              bool
	}{
		{"user=alice", "user", "alice", true},
		{" User = alice smith ", "user", "alice smith", true},
		{"user=a=b", "user", "a=b", true},
		{"user=", "user", "", true},
		{"user", "", "", false},
		{"=alice", "", "", false},
		{"us er=a", "", "", false},
		{"user_id=1", "", "", false},
		{"user=" + strings.Repeat("x", MaxValueLen), "user", strings.Repeat("x", MaxValueLen), true},
		{"user=" + strings.Repeat("x", MaxValueLen+1), "", "", false},
		{strings.Repeat("n", MaxNameLen) + "=1", strings.Repeat("n", MaxNameLen), "1", true},
		{strings.Repeat("n", MaxNameLen+1) + "=1", "", "", false},
		{"user=a\x00b", "", "", false},
	} {
		n, v, ok := ParseSet([]byte(c.in))
		if ok != c.ok || string(n) != c.name || string(v) != c.value {
			t.Errorf("ParseSet(%.30q) = %q %.20q %v", c.in, n, v, ok)
		}
	}
}

func FuzzParseSet(f *testing.F) {
	for _, s := range []string{"user=alice", " Role = x ", "a", "=", "a=b=c", "x\x00=1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, v, ok := ParseSet(b)
		if !ok {
			return
		}
		if !validName(string(n)) || !validValue(string(v)) {
			t.Fatalf("%q=%q taken", n, v)
		}
		s := &Session{}
		if err := s.Set(string(n), string(v)); err != nil {
			t.Fatalf("ParseSet took what Set refuses: %v", err)
		}
	})
}

func TestRecord(t *testing.T) {
	rec := record{created: 1_700_000_000, seen: 1_700_000_100, id: bytes.Repeat([]byte{1}, 32), csrf: bytes.Repeat([]byte{2}, 32),
		values: []value{{"user", "alice"}, {"cart", ""}, {"long", strings.Repeat("x", MaxValueLen)}}}
	b := rec.appendTo(nil)
	got, err := parseRecord(b)
	if err != nil || got.created != rec.created || got.seen != rec.seen || !bytes.Equal(got.id, rec.id) ||
		!bytes.Equal(got.csrf, rec.csrf) || len(got.values) != 3 || got.values[2] != rec.values[2] {
		t.Fatalf("%+v, %v", got, err)
	}
	empty := record{}
	if got, err := parseRecord(empty.appendTo(nil)); err != nil || got.id != nil || got.csrf != nil || got.values != nil {
		t.Fatalf("%+v, %v", got, err)
	}
	for i := range b {
		if _, err := parseRecord(b[:i]); err == nil {
			t.Fatalf("truncated to %d bytes, parsed", i)
		}
	}
	if _, err := parseRecord(append(bytes.Clone(b), 0)); err == nil {
		t.Fatal("a trailing byte parsed")
	}
	bad := bytes.Clone(b)
	bad[0] = 2
	if _, err := parseRecord(bad); err == nil {
		t.Fatal("version 2 parsed")
	}
	// Lengths that lie.
	for _, mutate := range []func([]byte){
		func(b []byte) { b[17] = 31 },                  // an ID of 31 bytes
		func(b []byte) { b[17+33] = 200 },              // a token longer than what is left
		func(b []byte) { b[17+33+33] = MaxValues + 1 }, // too many values
	} {
		m := bytes.Clone(b)
		mutate(m)
		if _, err := parseRecord(m); err == nil {
			t.Fatal("a lying length parsed")
		}
	}
	full := record{}
	for i := range MaxValues {
		full.values = append(full.values, value{strings.Repeat("n", MaxNameLen-2) + string(rune('a'+i/26)) + string(rune('a'+i%26)), strings.Repeat("v", MaxValueLen)})
	}
	full.id, full.csrf = rec.id, rec.csrf
	if _, err := parseRecord(full.appendTo(nil)); err != nil {
		t.Fatalf("the largest record: %v", err)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add((&record{created: 1, seen: 2, csrf: bytes.Repeat([]byte{2}, 32), values: []value{{"user", "alice"}}}).appendTo(nil))
	f.Add((&record{}).appendTo(nil))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := parseRecord(b)
		if err != nil {
			return
		}
		if again := rec.appendTo(nil); !bytes.Equal(again, b) {
			t.Fatalf("%x parsed, and writes back as %x", b, again)
		}
	})
}

// Both stores behind the same middleware, Redis a real redis-server: the
// session written through one Manager is read through another (two
// gatehouse instances share sessions this way).
func TestTwoManagersShareRedis(t *testing.T) {
	addr := testutil.StartRedis(t)
	open := func() *env {
		rs, err := store.NewRedis(store.RedisConfig{URL: "redis://" + addr + "/0", Prefix: "gh:sess:"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close() })
		return newEnv(t, Config{Store: rs, Pass: []string{"user"}})
	}
	a, b := open(), open()
	c := a.do("", setUser("alice")).cookie
	r := b.do(c, nil)
	if r.isNew || r.seen.Header.Get("X-Session-User") != "alice" {
		t.Fatalf("B does not see A's session: %+v", r.sess)
	}
	out := b.do(c, func(w web.ResponseWriter, r *web.Request, s *Session) error { s.Destroy(); return nil })
	if out.cookie != "-" {
		t.Fatal("no logout")
	}
	if r := a.do(c, nil); !r.isNew {
		t.Fatal("A still has the session B ended")
	}
	_ = context.Background
}

func BenchmarkLoadMemory(b *testing.B) {
	s := store.NewMemory(store.MemoryConfig{})
	defer s.Close()
	m, _ := New(Config{Store: s})
	r := webtest.NewRequest("GET", "/", nil)
	sess, _ := m.Load(r)
	sess.Set("user", "alice")
	sc, _ := m.Save(r, sess)
	val, _, _ := strings.Cut(strings.TrimPrefix(sc, m.CookieName()+"="), ";")
	r = webtest.NewRequest("GET", "/", nil, "Cookie: "+m.CookieName()+"="+val)
	b.ReportAllocs()
	for b.Loop() {
		if s, err := m.Load(r); err != nil || s.IsNew() {
			b.Fatal("not loaded")
		}
	}
}

// BenchmarkLoadRedis: a session load from a real redis-server on loopback
// (one GETEX round trip).
func BenchmarkLoadRedis(b *testing.B) {
	addr := testutil.StartRedis(b)
	s, err := store.NewRedis(store.RedisConfig{URL: "redis://" + addr + "/0"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m, _ := New(Config{Store: s})
	r := webtest.NewRequest("GET", "/", nil)
	sess, _ := m.Load(r)
	sess.Set("user", "alice")
	sc, err := m.Save(r, sess)
	if err != nil {
		b.Fatal(err)
	}
	val, _, _ := strings.Cut(strings.TrimPrefix(sc, m.CookieName()+"="), ";")
	r = webtest.NewRequest("GET", "/", nil, "Cookie: "+m.CookieName()+"="+val)
	b.ReportAllocs()
	for b.Loop() {
		if s, err := m.Load(r); err != nil || s.IsNew() {
			b.Fatal("not loaded", err)
		}
	}
}
