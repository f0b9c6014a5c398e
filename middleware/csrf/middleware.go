package csrf

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"

	"gatehouse/middleware/session"
	"gatehouse/proto/cookie"
	"gatehouse/web"
)

// Tokens is layer 2's kind of token.
type Tokens uint8

// The kinds of token.
const (
	// TokensOff: layer 1 alone.
	TokensOff Tokens = iota
	// TokensSession: synchronizer tokens kept in the session (a session
	// middleware must run before this one).
	TokensSession
	// TokensDoubleSubmit: signed double-submit tokens, for sites without
	// a session store (Keys required).
	TokensDoubleSubmit
)

// Config configures the middleware. The zero value of each field is its
// default.
type Config struct {
	// TrustedOrigins may post cross-origin: exact scheme://host[:port].
	TrustedOrigins []string
	// Bypass lists the paths layer 1 exempts: "/webhooks/" is everything
	// under /webhooks/, "/hook" that path only. Layer 2 exempts them too
	// (a webhook has no token).
	Bypass []string
	// Tokens turns layer 2 on.
	Tokens Tokens
	// Keys sign double-submit tokens.
	Keys *cookie.Keys
	// Header is the field a client sends the token in, and the one the
	// backend receives it in. Default X-CSRF-Token.
	Header string
	// Field is the form field the token is read from. Default csrf_token.
	Field string
	// MaxForm bounds the bytes of a form read to find the token field;
	// a form without it in that many bytes is refused with 413. Default
	// 1 MiB.
	MaxForm int64
	// CookieName is the double-submit cookie's name. Default
	// "__Host-gh_csrf": the __Host- prefix keeps a sibling subdomain from
	// planting one (research case 13).
	CookieName string
	// Insecure drops Secure from the double-submit cookie (see
	// session.Config.Insecure).
	Insecure bool
}

// Defaults.
const (
	DefaultHeader     = "X-CSRF-Token"
	DefaultField      = "csrf_token"
	DefaultMaxForm    = 1 << 20
	DefaultCookieName = "__Host-gh_csrf"
	// Var is the variable the gateways pass the token in.
	Var = "GATEHOUSE_CSRF_TOKEN"
)

// Refusals of layer 2 (403).
var (
	ErrNoToken   = &web.Error{Status: 403, Err: errors.New("csrf: no token in the request")}
	ErrBadToken  = &web.Error{Status: 403, Err: errors.New("csrf: the token does not match")}
	ErrNoSession = errors.New("csrf: session tokens need a session middleware before this one")
)

// Protect is the middleware, built from a Config.
type Protect struct {
	c       Config
	origins *Origins
	cookie  cookie.Cookie
}

// New checks c and returns its middleware.
func New(c Config) (*Protect, error) {
	o, err := NewOrigins(c.TrustedOrigins, c.Bypass)
	if err != nil {
		return nil, err
	}
	if c.Header == "" {
		c.Header = DefaultHeader
	}
	if !web.ReservedField([]byte(c.Header)) {
		return nil, &FieldError{"header", fmt.Errorf("csrf: header %q is not a field only gatehouse may send (X-CSRF-Token, or X-Session-*/Gatehouse-*): a client's copy would reach the backend", c.Header)}
	}
	if c.Field == "" {
		c.Field = DefaultField
	}
	if c.MaxForm <= 0 {
		c.MaxForm = DefaultMaxForm
	}
	if c.CookieName == "" {
		c.CookieName = DefaultCookieName
	}
	p := &Protect{c: c, origins: o}
	if c.Tokens == TokensDoubleSubmit {
		if c.Keys == nil {
			return nil, errors.New("csrf: double-submit tokens need keys (a key file: gatehouse keygen)")
		}
		p.cookie = cookie.New(c.CookieName, "")
		p.cookie.Secure = !c.Insecure
		p.cookie.Value = base64.RawURLEncoding.EncodeToString(make([]byte, tokenLen))
		if err := p.cookie.Check(); err != nil {
			return nil, &FieldError{"cookie", fmt.Errorf("csrf cookie %q: %w", c.CookieName, err)}
		}
	}
	return p, nil
}

// Check is layer 1 (Origins.Check).
func (p *Protect) Check(r *web.Request) error { return p.origins.Check(r) }

// FieldError is a mistake in one field of a Config, named as the key of a
// configuration file's csrf table ("cookie", "header", "trusted_origins",
// "bypass"), so that a problem is reported at its line.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Wrap returns next behind both layers.
func (p *Protect) Wrap(next web.Handler) web.Handler {
	if p.c.Tokens == TokensOff {
		return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			if err := p.origins.Check(r); err != nil {
				return p.refuse(r, err)
			}
			return next.ServeHTTP(w, r)
		})
	}
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if err := p.origins.Check(r); err != nil {
			return p.refuse(r, err)
		}
		token, seed, err := p.token(w, r)
		if err != nil {
			return err
		}
		if unsafe(r.Method()) && ambient(r) && !p.origins.bypassed(r) {
			if err := p.verify(r, token, seed); err != nil {
				return p.refuse(r, err)
			}
		}
		m := mask(token)
		r.PassField(p.c.Header, m)
		r.PassVar(Var, m)
		return next.ServeHTTP(w, r)
	})
}

// token returns the request's token, making one (and the double-submit
// cookie) when there is none; with double-submit tokens, also the cookie's
// seed it is the MAC of.
func (p *Protect) token(w web.ResponseWriter, r *web.Request) (token, seed []byte, err error) {
	if p.c.Tokens == TokensSession {
		s := session.From(r)
		if s == nil {
			return nil, nil, ErrNoSession
		}
		return s.CSRFToken(), nil, nil
	}
	seed = make([]byte, tokenLen)
	raw, ok := r.Cookie(p.c.CookieName)
	if n, err := base64.RawURLEncoding.Strict().Decode(seed, raw); !ok || len(raw) != len(p.cookie.Value) || err != nil || n != tokenLen {
		rand.Read(seed) // never fails (crypto/rand)
		c := p.cookie
		c.Value = base64.RawURLEncoding.EncodeToString(seed)
		w.Header().Add("Set-Cookie", c.String())
	}
	return p.c.Keys.MAC(nil, doubleSubmit, p.binding(r), seed)[:tokenLen], seed, nil
}

// doubleSubmit is the purpose a double-submit token is signed for.
const doubleSubmit = "csrf double-submit"

// binding is what a double-submit token is bound to beside its cookie: the
// session's ID when a session middleware runs and the request has a
// session, so that a token from before a login does not serve after it
// (research case 11), and one user's token does not serve another's
// session (case 10).
func (p *Protect) binding(r *web.Request) []byte {
	if s := session.From(r); s != nil && !s.IsNew() {
		return s.BindingID()
	}
	return nil
}

// verify checks the token the request carries against want, in constant
// time; a double-submit token (seed set) against the MAC of seed under every
// key of the file, so that a page rendered before a key rotation still posts.
func (p *Protect) verify(r *web.Request, want, seed []byte) error {
	sent := r.Header.Peek(p.c.Header)
	if sent == nil {
		v, err := formField(r, p.c.Field, p.c.MaxForm)
		switch {
		case errors.Is(err, errNoField):
			return ErrNoToken
		case err != nil:
			return err
		}
		sent = v
	}
	var got [tokenLen]byte
	if !unmask(sent, &got) {
		return ErrBadToken
	}
	if seed != nil {
		if !p.c.Keys.VerifyMAC(got[:], doubleSubmit, p.binding(r), seed) {
			return ErrBadToken
		}
	} else if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return ErrBadToken
	}
	return nil
}

// refuse returns a refusal with what the request carried: the server
// answers its status and logs its one line, with this reason.
func (p *Protect) refuse(r *web.Request, err error) error {
	var we *web.Error
	if !errors.As(err, &we) || we.Status >= 500 {
		return err
	}
	return &web.Error{Status: we.Status, Err: fmt.Errorf("%w (Sec-Fetch-Site %q, Origin %q)", we.Err,
		r.Header.Peek("Sec-Fetch-Site"), r.Header.Peek("Origin"))}
}

func unsafe(m string) bool {
	switch m {
	case web.MethodGet, web.MethodHead, web.MethodOptions:
		return false
	}
	return true
}

// ambient reports whether the request carries what a browser sends by
// itself, which a forged request would ride on: cookies, or credentials
// the browser remembers after a 401 challenge (Basic, Digest, Negotiate,
// NTLM). A request without them (curl, an API client with a bearer token)
// cannot be forged by another site in a victim's name.
func ambient(r *web.Request) bool {
	if r.Header.Has("Cookie") {
		return true
	}
	auth := r.Header.Peek("Authorization")
	scheme, _, _ := bytes.Cut(auth, []byte(" "))
	for _, s := range [...]string{"basic", "digest", "negotiate", "ntlm"} {
		if equalFold(scheme, s) {
			return true
		}
	}
	return false
}
