package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gatehouse/config"
	"gatehouse/middleware/csrf"
	"gatehouse/middleware/session"
	"gatehouse/proto/cookie"
	"gatehouse/store"
	"gatehouse/web"
)

// keygenHint is the hint of every problem with a key file.
const keygenHint = "make a key file with: gatehouse keygen > FILE (and keep it readable by gatehouse only)"

// loadKeys reads a key file (proto/cookie.ParseKeys), reporting a problem at
// key. A file others may read is logged: whoever reads it can forge
// sessions and tokens.
func (b *Built) loadKeys(file, key string) (*cookie.Keys, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, &routeProblem{key, keygenHint, fmt.Errorf("key file: %w", err)}
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 && !b.checkOnly {
		b.Logger.Warn("key file readable by others: whoever reads it can forge sessions and CSRF tokens",
			"file", file, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()), "hint", "chmod 600 "+file)
	}
	data, err := io.ReadAll(io.LimitReader(f, cookie.MaxKeyFile+1))
	if err != nil {
		return nil, &routeProblem{key, keygenHint, fmt.Errorf("key file %s: %w", file, err)}
	}
	k, err := cookie.ParseKeys(data)
	if err != nil {
		return nil, &routeProblem{key, keygenHint, fmt.Errorf("key file %s: %w", file, err)}
	}
	return k, nil
}

// sessionManager builds a session table (a site's or a route's) into its
// middleware, with its store.
func (b *Built) sessionManager(s *config.Session) (*session.Manager, error) {
	c := session.Config{
		CookieName:  s.Cookie,
		Insecure:    s.Secure != nil && !*s.Secure,
		Lifetime:    dur(s.Lifetime, 0),
		IdleTimeout: dur(s.IdleTimeout, -1),
		Pass:        s.Pass,
		RenewOn:     s.RenewOn,
		Logger:      b.Logger,
	}
	if s.SameSite != "" {
		c.SameSite, _ = cookie.ParseSameSite(s.SameSite) // validated
	}
	switch kind, _ := config.SessionStoreKind(s.Store); kind {
	case "cookie":
		k, err := b.loadKeys(s.KeyFile, "session.key_file")
		if err != nil {
			return nil, err
		}
		c.Keys = k
	case "redis", "memory":
		st, err := b.sessionStore(kind, s)
		if err != nil {
			return nil, err
		}
		c.Store = st
	}
	m, err := session.New(c)
	if err != nil {
		key := "session"
		var fe *session.FieldError
		if errors.As(err, &fe) {
			key += "." + fe.Field
		}
		return nil, &routeProblem{key, "see docs/sessions.md", err}
	}
	return m, nil
}

// sessionStore returns the store of a session table: one per distinct
// store, shared by every table that names it, so that two routes of a site
// with session tables of their own (one cookie name, Path=/) see the same
// sessions instead of each replacing the other's cookie with an ID it does
// not know, and one Redis gets one pool of connections.
func (b *Built) sessionStore(kind string, s *config.Session) (store.Store, error) {
	prefix := s.Prefix
	if prefix == "" {
		prefix = "gh:sess:"
	}
	url := s.Store // "" and "memory" are one memory store
	if kind != "redis" {
		url = ""
	}
	key := fmt.Sprintf("%s\x00%s\x00%s\x00%d", kind, url, prefix, s.MaxSessions)
	if st, ok := b.stores[key]; ok {
		return st, nil
	}
	var st store.Store
	if kind == "redis" {
		rs, err := store.NewRedis(store.RedisConfig{URL: s.Store, Prefix: prefix})
		if err != nil {
			return nil, &routeProblem{"session.store", "write redis://HOST:PORT/DB", err}
		}
		b.closers = append(b.closers, rs.Close)
		if !b.checkOnly {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if err := rs.Ping(ctx); err != nil {
				// Not fatal: Redis may come up after gatehouse; until it
				// does, session routes answer 503 and log it.
				b.Logger.Warn("session store does not answer yet", "store", redact(s.Store), "err", err)
			}
			cancel()
		}
		st = rs
	} else {
		ms := store.NewMemory(store.MemoryConfig{MaxEntries: s.MaxSessions})
		b.closers = append(b.closers, ms.Close)
		st = ms
	}
	if b.stores == nil {
		b.stores = map[string]store.Store{}
	}
	b.stores[key] = st
	return st, nil
}

// redact drops a password from a Redis URL, for the log.
func redact(u string) string {
	if at := strings.LastIndexByte(u, '@'); at >= 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "…" + u[at:]
		}
	}
	return u
}

// csrfProtect builds a csrf table into its middleware.
func (b *Built) csrfProtect(x *config.CSRF) (*csrf.Protect, error) {
	c := csrf.Config{
		TrustedOrigins: x.TrustedOrigins,
		Bypass:         x.Bypass,
		Header:         x.Header,
		Field:          x.Field,
		CookieName:     x.Cookie,
		Insecure:       x.Secure != nil && !*x.Secure,
	}
	if x.MaxForm != nil {
		c.MaxForm = x.MaxForm.Bytes
	}
	switch x.Tokens {
	case "session":
		c.Tokens = csrf.TokensSession
	case "double-submit":
		c.Tokens = csrf.TokensDoubleSubmit
		k, err := b.loadKeys(x.KeyFile, "csrf.key_file")
		if err != nil {
			return nil, err
		}
		c.Keys = k
	}
	p, err := csrf.New(c)
	if err != nil {
		key := "csrf"
		var fe *csrf.FieldError
		if errors.As(err, &fe) {
			key += "." + fe.Field
		}
		return nil, &routeProblem{key, "see docs/csrf.md", err}
	}
	return p, nil
}

// sessionLayer and csrfLayer are the chains' two layers, for sites and
// routes alike.
func (b *Built) sessionLayer(s *config.Session, next web.Handler) (web.Handler, error) {
	m, err := b.sessionManager(s)
	if err != nil {
		return nil, err
	}
	return m.Wrap(next), nil
}

func (b *Built) csrfLayer(x *config.CSRF, next web.Handler) (web.Handler, error) {
	p, err := b.csrfProtect(x)
	if err != nil {
		return nil, err
	}
	return p.Wrap(next), nil
}
