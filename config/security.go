package config

import (
	"fmt"
	"strings"
)

// Session gives the requests of a site (or of one route) a session, kept
// in a store or sealed in a cookie. See docs/sessions.md.
type Session struct {
	// Store is where sessions live: "memory" (default; this process
	// only), "cookie" (sealed in the cookie itself, no server state;
	// needs key_file), or a Redis URL shared by every instance:
	// "redis://HOST:PORT/DB", "rediss://...", "unix:///path?db=N",
	// "redis://HOST:PORT/DB?master_name=M" (Sentinel),
	// "redis+cluster://HOST:PORT?addr=HOST2:PORT" (Cluster).
	Store string `toml:"store"`
	// KeyFile holds the keys that seal cookie-only sessions, one per
	// line, newest first (gatehouse keygen). Required with store =
	// "cookie".
	KeyFile string `toml:"key_file"`
	// Cookie is the cookie's name. Default "__Host-gh_session".
	Cookie string `toml:"cookie"`
	// Secure sends the cookie over https only. Default true (browsers keep
	// Secure cookies from http://localhost too); false for a plain-http
	// site on another host, with a cookie name without __Host-.
	Secure *bool `toml:"secure"`
	// SameSite is "lax" (default), "strict" or "none".
	SameSite string `toml:"same_site"`
	// Lifetime is the absolute lifetime. Default "24h".
	Lifetime *Duration `toml:"lifetime"`
	// IdleTimeout ends a session unused this long. Default "30m"; "0s":
	// none.
	IdleTimeout *Duration `toml:"idle_timeout"`
	// Pass names the values backends see as X-Session-<Name> fields and
	// may set back with X-Session-Set. Default none.
	Pass []string `toml:"pass"`
	// RenewOn names the values whose change gives the session a new ID.
	// Default ["user"].
	RenewOn []string `toml:"renew_on"`
	// Prefix starts the Redis keys. Default "gh:sess:".
	Prefix string `toml:"prefix"`
	// MaxSessions bounds a memory store. Default 100000.
	MaxSessions int `toml:"max_sessions"`
}

// CSRF refuses cross-site request forgery on a site (or one route). See
// docs/csrf.md. An empty table turns on layer 1 (Fetch Metadata and
// Origin); tokens adds layer 2.
type CSRF struct {
	// Tokens is layer 2: "off" (default), "session" (synchronizer tokens
	// in the session: a session must cover the same requests, from the
	// site or the same route) or "double-submit" (signed, in a cookie, for
	// sites without sessions; needs key_file).
	Tokens string `toml:"tokens"`
	// TrustedOrigins may send cross-origin requests: exact
	// "scheme://host[:port]".
	TrustedOrigins []string `toml:"trusted_origins"`
	// Bypass lists paths exempt from both layers: "/webhooks/" is every
	// path under it (not /webhooks itself), "/hook" that path only.
	Bypass []string `toml:"bypass"`
	// KeyFile holds the keys that sign double-submit tokens (gatehouse
	// keygen).
	KeyFile string `toml:"key_file"`
	// Header is the field the token travels in. Default "X-CSRF-Token".
	Header string `toml:"header"`
	// Field is the form field the token is read from. Default
	// "csrf_token".
	Field string `toml:"field"`
	// MaxForm bounds the bytes of a form read to find the field; a form
	// without it in that many is refused with 413. Default "1MiB".
	MaxForm *Size `toml:"max_form"`
	// Cookie is the double-submit cookie's name. Default "__Host-gh_csrf".
	Cookie string `toml:"cookie"`
	// Secure, as the session's. Default true.
	Secure *bool `toml:"secure"`
}

// SessionStoreKind returns "memory", "cookie" or "redis" for a store value,
// and false for one that is none of them.
func SessionStoreKind(store string) (string, bool) {
	switch {
	case store == "" || store == "memory":
		return "memory", true
	case store == "cookie":
		return "cookie", true
	}
	for _, p := range []string{"redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://"} {
		if strings.HasPrefix(store, p) {
			return "redis", true
		}
	}
	return "", false
}

// validateSecurity checks a site's or a route's session and csrf tables;
// siteSession and siteCSRF say whether the site has them (for a route).
func (c *Config) validateSecurity(p string, s *Session, x *CSRF, site bool, siteSession, siteCSRF bool) Problems {
	var ps Problems
	bad := func(path, msg, hint string) { ps = append(ps, c.ProblemAt(path, msg, hint)) }
	if s != nil {
		sp := p + ".session"
		if !site && siteSession {
			bad(sp, "this route's site has a session already, which covers the route", "remove one of them")
		}
		kind, ok := SessionStoreKind(s.Store)
		if !ok {
			bad(sp+".store", fmt.Sprintf("session.store %q is not memory, cookie or a Redis URL", s.Store),
				"use \"memory\", \"cookie\" (with key_file) or \"redis://127.0.0.1:6379/0\"")
		}
		if kind == "cookie" && s.KeyFile == "" {
			bad(sp, "session.store = \"cookie\" needs key_file", "make a key file with: gatehouse keygen > /etc/gatehouse/session.key")
		}
		if kind != "cookie" && s.KeyFile != "" {
			bad(sp+".key_file", "session.key_file applies to store = \"cookie\" only", "remove it: a stored session's cookie holds only a random ID")
		}
		if kind != "redis" && s.Prefix != "" {
			bad(sp+".prefix", "session.prefix applies to a Redis store only", "remove it")
		}
		if kind != "memory" && s.MaxSessions != 0 {
			bad(sp+".max_sessions", "session.max_sessions applies to store = \"memory\" only", "remove it")
		}
		if s.MaxSessions < 0 {
			bad(sp+".max_sessions", "session.max_sessions cannot be negative", "leave it out for 100000")
		}
		if s.SameSite != "" && !oneOfFold(s.SameSite, "lax", "strict", "none") {
			bad(sp+".same_site", fmt.Sprintf("session.same_site %q is not lax, strict or none", s.SameSite), "leave it out for lax")
		}
		if s.Lifetime != nil && s.Lifetime.Duration < 1e9 {
			bad(sp+".lifetime", "session.lifetime is under a second", "use a duration such as \"24h\"")
		}
	}
	if x != nil {
		xp := p + ".csrf"
		if !site && siteCSRF {
			bad(xp, "this route's site has csrf already, which covers the route", "remove one of them")
		}
		switch x.Tokens {
		case "", "off":
		case "session":
			if site && s == nil || !site && s == nil && !siteSession {
				bad(xp+".tokens", "csrf.tokens = \"session\" needs a session for the same requests", "add a [site.session] table, or use tokens = \"double-submit\" with key_file")
			}
		case "double-submit":
			if x.KeyFile == "" {
				bad(xp, "csrf.tokens = \"double-submit\" needs key_file", "make a key file with: gatehouse keygen > /etc/gatehouse/csrf.key")
			}
		default:
			bad(xp+".tokens", fmt.Sprintf("csrf.tokens %q is not off, session or double-submit", x.Tokens), "leave it out for off (layer 1 alone)")
		}
		if x.Tokens != "double-submit" && x.KeyFile != "" {
			bad(xp+".key_file", "csrf.key_file applies to tokens = \"double-submit\" only", "remove it")
		}
		if x.MaxForm != nil && x.MaxForm.Bytes < 1024 {
			bad(xp+".max_form", "csrf.max_form is under 1KiB", "leave it out for 1MiB")
		}
	}
	return ps
}

func oneOfFold(v string, allowed ...string) bool {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return true
		}
	}
	return false
}
