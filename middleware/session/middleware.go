package session

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/proto/cookie"
	"gatehouse/store"
	"gatehouse/web"
)

// Config configures sessions. The zero value of each field is its default.
type Config struct {
	// Store keeps sessions on the server (store.Memory for one instance,
	// store.Redis for several): the cookie holds only a random 32-byte ID.
	// Nil keeps the whole session in the cookie instead, sealed with Keys:
	// no server state, but a session cannot be revoked before it expires,
	// and it holds at most about 2.9 KB.
	Store store.Store
	// Keys seal cookie-only sessions (required without a Store).
	Keys *cookie.Keys
	// CookieName is the session cookie's name. Default "__Host-gh_session":
	// the __Host- prefix keeps a sibling subdomain from setting it.
	CookieName string
	// Insecure drops the Secure attribute, for a site served over plain
	// http to other hosts than localhost (browsers keep Secure cookies
	// from http://localhost). The name must then have no __Host- or
	// __Secure- prefix. Default false.
	Insecure bool
	// SameSite is the cookie's SameSite. Default Lax: the cookie goes with
	// top-level navigations from other sites (links work) but not with
	// their POSTs, images or frames.
	SameSite cookie.SameSite
	// Lifetime is the absolute lifetime, from the session's start,
	// whatever its use. Default 24 hours.
	Lifetime time.Duration
	// IdleTimeout ends a session unused for this long. Default 30 minutes;
	// negative: none (the Lifetime alone).
	IdleTimeout time.Duration
	// Pass names the values a backend sees, as X-Session-<Name> request
	// fields, and may set back (see protocol.go). Default none.
	Pass []string
	// RenewOn names the values whose change renews the session's ID.
	// Default ["user"]; empty but not nil: none.
	RenewOn []string
	// Logger receives a line per store failure (rate-limited) and per
	// refused response field. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultCookieName  = "__Host-gh_session"
	DefaultLifetime    = 24 * time.Hour
	DefaultIdleTimeout = 30 * time.Minute
)

// Manager loads and saves the sessions of the routes it wraps.
type Manager struct {
	c       Config
	pass    []passed // the values passed to backends, with their fields
	cookie  cookie.Cookie
	failure lograte.Limiter
}

type passed struct{ name, field string }

// FieldError is a mistake in one field of a Config, named as the key of a
// configuration file's session table ("cookie", "pass"), so that a problem
// is reported at its line.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// ErrNoKeys reports cookie-only sessions without keys.
var ErrNoKeys = errors.New("session: cookie-only sessions need keys (a key file: gatehouse keygen)")

// New checks c and returns its Manager.
func New(c Config) (*Manager, error) {
	if c.CookieName == "" {
		c.CookieName = DefaultCookieName
	}
	if c.Store == nil && c.Keys == nil {
		return nil, ErrNoKeys
	}
	if c.SameSite == cookie.SameSiteDefault {
		c.SameSite = cookie.SameSiteLax
	}
	if c.Lifetime <= 0 {
		c.Lifetime = DefaultLifetime
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.RenewOn == nil {
		c.RenewOn = []string{"user"}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	m := &Manager{c: c}
	m.cookie = cookie.New(c.CookieName, "")
	m.cookie.Secure = !c.Insecure
	m.cookie.SameSite = c.SameSite
	if err := m.cookie.Check(); err != nil {
		return nil, &FieldError{"cookie", fmt.Errorf("session cookie %q: %w", c.CookieName, err)}
	}
	for _, n := range c.Pass {
		if !validName(n) {
			return nil, &FieldError{"pass", fmt.Errorf("session value %q: %w", n, ErrValueName)}
		}
		m.pass = append(m.pass, passed{n, fieldName(n)})
	}
	m.failure.Logger = c.Logger
	return m, nil
}

// CookieName returns the session cookie's name.
func (m *Manager) CookieName() string { return m.c.CookieName }

// ErrUnavailable is the error a request gets when its session's store
// cannot be reached: 503, never a new empty session (which would log the
// user out on this instance only) or a request without its session.
var ErrUnavailable = &web.Error{Status: 503, RetryAfter: 5, Err: store.ErrUnavailable}

// Wrap returns next with the session loaded before it and saved after it.
func (m *Manager) Wrap(next web.Handler) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		s, err := m.Load(r)
		if err != nil {
			return err
		}
		Key.Set(r, s)
		passed := false
		for _, p := range m.pass {
			if v, ok := s.Get(p.name); ok {
				r.PassField(p.field, v)
				passed = true
			}
		}
		sw := &writer{WriterWrapper: web.WriterWrapper{ResponseWriter: w}, m: m, s: s, r: r, vary: passed}
		err = next.ServeHTTP(sw, r)
		if err != nil {
			return err
		}
		if !sw.done {
			// Nothing written: the server sends the head after this
			// returns, with the cookie set here.
			if err := sw.commit(); err != nil {
				return err
			}
		}
		return sw.err
	})
}

// Load returns the request's session: the one its cookie names if the store
// (or the seal) knows it and it has not expired, else a new one with a new
// ID. A store that fails is ErrUnavailable, logged.
func (m *Manager) Load(r *web.Request) (*Session, error) {
	now := m.c.Now()
	raw, ok := r.Cookie(m.c.CookieName)
	if !ok || len(raw) == 0 {
		return m.fresh(now), nil
	}
	if m.c.Store == nil {
		return m.openCookie(raw, now), nil
	}
	var idBuf [tokenLen]byte
	if len(raw) != idLen {
		return m.fresh(now), nil // not an ID we issued: never used as one
	}
	if n, err := base64.RawURLEncoding.Strict().Decode(idBuf[:], raw); err != nil || n != tokenLen {
		return m.fresh(now), nil // not an ID we issued: never used as one
	}
	id := string(raw)
	b, err := m.c.Store.Get(r.Context(), id, m.idleTTL())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return m.fresh(now), nil
	case err != nil:
		return nil, m.unavailable(r, "load", err)
	}
	rec, err := parseRecord(b)
	if err != nil || m.expired(&rec, now) {
		// A record past its lifetime is deleted now, not left for its TTL.
		if err := m.c.Store.Delete(r.Context(), id); err != nil {
			return nil, m.unavailable(r, "delete", err)
		}
		return m.fresh(now), nil
	}
	return &Session{rec: rec, known: true, id: append([]byte(nil), idBuf[:]...), renewOn: m.c.RenewOn}, nil
}

func (m *Manager) openCookie(raw []byte, now time.Time) *Session {
	var buf [512]byte
	plain, err := m.c.Keys.Open(buf[:0], m.c.CookieName, raw)
	if err != nil {
		return m.fresh(now)
	}
	rec, err := parseRecord(plain)
	if err != nil || len(rec.id) != tokenLen || m.expired(&rec, now) {
		return m.fresh(now)
	}
	s := &Session{rec: rec, known: true, id: rec.id, renewOn: m.c.RenewOn}
	// The idle timeout of a cookie slides only when the cookie is sent
	// again: once a minute at most, not on every response.
	if m.c.IdleTimeout > 0 && now.Unix()-rec.seen >= 60 {
		s.dirty = true
	}
	return s
}

// fresh is a new session: a new random ID, never one the client chose.
func (m *Manager) fresh(now time.Time) *Session {
	return &Session{id: random(), rec: record{created: now.Unix(), seen: now.Unix()}, renewOn: m.c.RenewOn}
}

func (m *Manager) expired(rec *record, now time.Time) bool {
	t := now.Unix()
	if t >= rec.created+int64(m.c.Lifetime/time.Second) || t < rec.created-60 {
		return true // past its lifetime, or from the future (a clock gone back a lot)
	}
	return m.c.Store == nil && m.c.IdleTimeout > 0 && t >= rec.seen+int64(m.c.IdleTimeout/time.Second)
}

// idleTTL is the time to live a load gives a stored session: the idle
// timeout, or none to change when there is none.
func (m *Manager) idleTTL() time.Duration {
	if m.c.IdleTimeout > 0 {
		return m.c.IdleTimeout
	}
	return 0
}

// ttl is the time to live of a stored session saved now: the idle timeout,
// or what is left of its lifetime when that is shorter.
func (m *Manager) ttl(rec *record, now time.Time) time.Duration {
	left := time.Unix(rec.created, 0).Add(m.c.Lifetime).Sub(now)
	if m.c.IdleTimeout > 0 && m.c.IdleTimeout < left {
		return m.c.IdleTimeout
	}
	return max(left, time.Second)
}

func (m *Manager) unavailable(r *web.Request, op string, err error) error {
	m.failure.Log(slog.LevelError, op, "session store unavailable: answering 503",
		"op", op, "err", err, "method", r.Method(), "target", string(r.Target()))
	return web.Logged(ErrUnavailable)
}

// Save stores s (or removes it) and returns the Set-Cookie value the
// response must carry, "" for none. A Go handler that answers without the
// middleware's writer (it hijacks the connection) calls it itself.
func (m *Manager) Save(r *web.Request, s *Session) (string, error) {
	now := m.c.Now()
	ctx := r.Context()
	c := m.cookie
	switch {
	case s.destroy:
		if !s.known {
			return "", nil
		}
		if m.c.Store != nil {
			if err := m.c.Store.Delete(ctx, string(m.encodeID(s.id))); err != nil {
				return "", m.unavailable(r, "delete", err)
			}
		}
		c.MaxAge = -1
		return c.String(), nil
	case !s.dirty && !s.renew:
		return "", nil
	}
	s.rec.seen = now.Unix()
	if m.c.Store == nil {
		if s.renew {
			s.id = random()
		}
		s.rec.id = s.id
		v, err := m.c.Keys.Seal(nil, m.c.CookieName, s.rec.appendTo(nil))
		if err != nil {
			return "", fmt.Errorf("session: %w", err)
		}
		c.Value = string(v)
		return c.String(), nil
	}
	rec := s.rec.appendTo(nil)
	ttl := m.ttl(&s.rec, now)
	if s.known && !s.renew {
		if err := m.c.Store.Set(ctx, string(m.encodeID(s.id)), rec, ttl); err != nil {
			return "", m.unavailable(r, "save", err)
		}
		return "", nil
	}
	old := s.id
	id := s.id // a new session keeps the ID it was made with
	if s.known || s.renew {
		id = random()
	}
	for try := 0; ; try++ {
		ok, err := m.c.Store.SetNX(ctx, string(m.encodeID(id)), rec, ttl)
		if err != nil {
			return "", m.unavailable(r, "save", err)
		}
		if ok {
			break
		}
		if try == 2 {
			return "", errors.New("session: three new IDs were all taken")
		}
		id = random() // taken (one chance in 2^256): another
	}
	s.id = id
	if s.known {
		// The old ID is removed at once: whoever held it (an attacker
		// who planted or stole it) holds nothing now.
		if err := m.c.Store.Delete(ctx, string(m.encodeID(old))); err != nil {
			return "", m.unavailable(r, "delete", err)
		}
	}
	c.Value = string(m.encodeID(s.id))
	return c.String(), nil
}

// idLen is the length of an ID in a cookie: 32 bytes in base64url.
const idLen = 43

func (m *Manager) encodeID(id []byte) []byte {
	return base64.RawURLEncoding.AppendEncode(make([]byte, 0, idLen), id)
}
