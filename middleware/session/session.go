package session

import (
	"crypto/rand"
	"errors"
	"strings"

	"gatehouse/web"
)

// Key is the request slot of the session: the middleware sets it, handlers
// after it (a Go backend, middleware/csrf) read it.
var Key = web.NewKey[*Session]("session")

// From returns the request's session, or nil when no session middleware runs
// for it.
func From(r *web.Request) *Session {
	s, _ := Key.Get(r)
	return s
}

// Session is one visitor's session, for the length of one request: read it,
// change it, and the middleware saves it before the response's head goes
// out. It is not safe for concurrent use; like the Request, it is valid
// until ServeHTTP returns.
type Session struct {
	rec     record
	known   bool   // loaded from the store or the cookie
	id      []byte // its ID: a store's key, or a cookie-only session's own
	dirty   bool   // a value or the token changed: save
	renew   bool   // a new ID before saving (login, privilege change)
	destroy bool   // remove it (logout)
	renewOn []string
}

// Errors of Set.
var (
	ErrValueName = errors.New("session: a value's name is 1-64 bytes of a-z, 0-9 and '-'")
	ErrValueLen  = errors.New("session: a value is at most 1024 bytes of visible ASCII, space, tab or UTF-8, no control bytes")
	ErrTooMany   = errors.New("session: at most 32 values")
)

// IsNew reports whether the session was started by this request (no
// session cookie, or one the store did not know).
func (s *Session) IsNew() bool { return !s.known }

// Get returns the value named name and whether the session has it.
func (s *Session) Get(name string) (string, bool) {
	for _, v := range s.rec.values {
		if v.name == name {
			return v.value, true
		}
	}
	return "", false
}

// Values calls f for every value, in the order they were first set.
func (s *Session) Values(f func(name, value string)) {
	for _, v := range s.rec.values {
		f(v.name, v.value)
	}
}

// Set sets the value named name; changing a value named in Config.RenewOn
// ("user") renews the session (Renew). Names are lower case (a-z, 0-9 and '-');
// values may travel as a request field, so they hold no control bytes.
func (s *Session) Set(name, val string) error {
	if !validName(name) {
		return ErrValueName
	}
	if !validValue(val) {
		return ErrValueLen
	}
	for i := range s.rec.values {
		if s.rec.values[i].name == name {
			if s.rec.values[i].value != val {
				s.rec.values[i].value = val
				s.changed(name)
			}
			return nil
		}
	}
	if len(s.rec.values) >= MaxValues {
		return ErrTooMany
	}
	s.rec.values = append(s.rec.values, value{name, val})
	s.changed(name)
	return nil
}

// changed marks the session for saving, and for a new ID when name is one
// whose change is a change of privilege (Config.RenewOn).
func (s *Session) changed(name string) {
	s.dirty = true
	for _, n := range s.renewOn {
		if n == name {
			s.Renew()
			return
		}
	}
}

// Delete removes the value named name.
func (s *Session) Delete(name string) {
	for i := range s.rec.values {
		if s.rec.values[i].name == name {
			s.rec.values = append(s.rec.values[:i], s.rec.values[i+1:]...)
			s.changed(name)
			return
		}
	}
}

// Renew gives the session a new ID (and a new CSRF token) when it is saved,
// and removes the old one: call it on login, logout and any change of
// privilege, so that an ID an attacker planted or learned before the change
// is worth nothing after it (session fixation, OWASP).
func (s *Session) Renew() {
	s.renew = true
	s.rec.csrf = nil
	s.dirty = true
}

// Destroy ends the session: its record is removed and its cookie cleared.
func (s *Session) Destroy() {
	s.destroy = true
}

// CSRFToken returns the session's CSRF token (32 random bytes), made on the
// first call and kept with the session; Renew replaces it. The caller must
// not change it.
func (s *Session) CSRFToken() []byte {
	if s.rec.csrf == nil {
		s.rec.csrf = random()
		s.dirty = true
	}
	return s.rec.csrf
}

// BindingID returns the session's ID, for tokens bound to it
// (middleware/csrf's signed double-submit). It changes when the session is
// renewed. The caller must not change it or let it leave gatehouse: for a
// store's session it is the key that opens the session.
func (s *Session) BindingID() []byte { return s.id }

// random returns 32 bytes from crypto/rand.
func random() []byte {
	b := make([]byte, tokenLen)
	rand.Read(b) // never fails (crypto/rand)
	return b
}

func validName(n string) bool {
	if n == "" || len(n) > MaxNameLen {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validValue(v string) bool {
	if len(v) > MaxValueLen {
		return false
	}
	return !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}
