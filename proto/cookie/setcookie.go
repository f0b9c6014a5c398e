package cookie

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/httpspec"
)

// MaxCookie is the longest name and value, together, a user agent keeps
// (RFC 6265bis §5.6, step 5): a longer cookie is ignored.
const MaxCookie = 4096

// MaxAttribute is the longest attribute value a user agent keeps (RFC
// 6265bis §5.6, step 11): a longer one is ignored.
const MaxAttribute = 1024

// MaxAge is the longest lifetime a user agent keeps (RFC 6265bis §5.6.1):
// 400 days. A longer Max-Age is sent as this.
const MaxAge = 400 * 24 * time.Hour

// Errors of Append.
var (
	ErrName      = errors.New("cookie: name is not a token")
	ErrValue     = errors.New("cookie: value holds a byte outside cookie-octet")
	ErrTooLong   = errors.New("cookie: name and value longer than 4096 bytes")
	ErrAttribute = errors.New("cookie: attribute value too long or holds ';' or a control character")
	ErrPrefix    = errors.New("cookie: __Host- needs Secure, Path=/ and no Domain; __Secure- needs Secure")
	ErrSameSite  = errors.New("cookie: SameSite=None needs Secure")
)

// SameSite is the SameSite attribute (RFC 6265bis §4.1.2.7).
type SameSite uint8

// The SameSite values. SameSiteDefault sends no attribute; browsers then
// treat the cookie as Lax.
const (
	SameSiteDefault SameSite = iota
	SameSiteLax
	SameSiteStrict
	SameSiteNone
)

// ParseSameSite maps "lax", "strict" and "none" (any case) to their value.
func ParseSameSite(s string) (SameSite, bool) {
	switch strings.ToLower(s) {
	case "lax":
		return SameSiteLax, true
	case "strict":
		return SameSiteStrict, true
	case "none":
		return SameSiteNone, true
	}
	return SameSiteDefault, false
}

// Prefix is a cookie name's prefix, which asks the user agent to hold the
// cookie to rules (RFC 6265bis §4.1.3).
type Prefix uint8

// The prefixes.
const (
	PrefixNone   Prefix = iota
	PrefixSecure        // __Secure-: Secure
	PrefixHost          // __Host-: Secure, Path=/, no Domain
)

// PrefixOf returns the prefix of name, matched without regard to case.
func PrefixOf(name string) Prefix {
	switch {
	case len(name) >= 7 && strings.EqualFold(name[:7], "__Host-"):
		return PrefixHost
	case len(name) >= 9 && strings.EqualFold(name[:9], "__Secure-"):
		return PrefixSecure
	}
	return PrefixNone
}

// Cookie is a Set-Cookie field to send.
type Cookie struct {
	Name  string // a token (RFC 9110 §5.6.2); required
	Value string // cookie-octets (RFC 6265 §4.1.1); may be empty
	// Path and Domain are sent when not empty. A __Host- cookie must have
	// Path "/" and no Domain.
	Path, Domain string
	// MaxAge is the lifetime: 0 sends none (a session cookie, gone when
	// the browser closes), a negative one sends Max-Age=0 (delete the
	// cookie now), more than MaxAge is sent as MaxAge. Whole seconds.
	MaxAge time.Duration
	// Secure, HttpOnly and Partitioned send their attributes.
	Secure, HttpOnly, Partitioned bool
	SameSite                      SameSite
}

// New returns the cookie gatehouse sends unless told otherwise: HttpOnly
// (scripts cannot read it, so an XSS cannot steal it), Secure (never over
// plain http, where a network attacker reads it; browsers treat
// http://localhost as secure too), SameSite=Lax (not sent on cross-site
// subrequests and POSTs, a first defence against CSRF) and Path=/.
func New(name, value string) Cookie {
	return Cookie{Name: name, Value: value, Path: "/", Secure: true, HttpOnly: true, SameSite: SameSiteLax}
}

// Check reports why c cannot be sent, or nil.
func (c *Cookie) Check() error {
	if !httpspec.IsToken(c.Name) {
		return ErrName
	}
	for i := 0; i < len(c.Value); i++ {
		if !octet[c.Value[i]] {
			return ErrValue
		}
	}
	if len(c.Name)+len(c.Value) > MaxCookie {
		return ErrTooLong
	}
	if !attrValue(c.Path) || !attrValue(c.Domain) {
		return ErrAttribute
	}
	switch PrefixOf(c.Name) {
	case PrefixHost:
		if !c.Secure || c.Path != "/" || c.Domain != "" {
			return ErrPrefix
		}
	case PrefixSecure:
		if !c.Secure {
			return ErrPrefix
		}
	}
	if c.SameSite == SameSiteNone && !c.Secure {
		return ErrSameSite
	}
	return nil
}

// Append appends c's Set-Cookie field value to dst, or returns dst and the
// reason it cannot be sent.
func (c *Cookie) Append(dst []byte) ([]byte, error) {
	if err := c.Check(); err != nil {
		return dst, err
	}
	dst = append(dst, c.Name...)
	dst = append(dst, '=')
	dst = append(dst, c.Value...)
	if c.Path != "" {
		dst = append(dst, "; Path="...)
		dst = append(dst, c.Path...)
	}
	if c.Domain != "" {
		dst = append(dst, "; Domain="...)
		dst = append(dst, c.Domain...)
	}
	switch {
	case c.MaxAge < 0:
		dst = append(dst, "; Max-Age=0"...)
	case c.MaxAge > 0:
		dst = append(dst, "; Max-Age="...)
		dst = strconv.AppendInt(dst, int64(min(c.MaxAge, MaxAge)/time.Second), 10)
	}
	if c.Secure {
		dst = append(dst, "; Secure"...)
	}
	if c.HttpOnly {
		dst = append(dst, "; HttpOnly"...)
	}
	switch c.SameSite {
	case SameSiteLax:
		dst = append(dst, "; SameSite=Lax"...)
	case SameSiteStrict:
		dst = append(dst, "; SameSite=Strict"...)
	case SameSiteNone:
		dst = append(dst, "; SameSite=None"...)
	}
	if c.Partitioned {
		dst = append(dst, "; Partitioned"...)
	}
	return dst, nil
}

// String returns the Set-Cookie field value, or "" when c cannot be sent.
func (c *Cookie) String() string {
	b, err := c.Append(nil)
	if err != nil {
		return ""
	}
	return string(b)
}

// attrValue: at most MaxAttribute bytes, no ';' (it would end the
// attribute and start another: attribute injection), no control bytes.
func attrValue(s string) bool {
	if len(s) > MaxAttribute {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == ';' {
			return false
		}
	}
	return true
}

// octet is RFC 6265 §4.1.1's cookie-octet, the strict set a server sends
// (no space, comma, quote, semicolon or backslash).
var octet = func() (o [256]bool) {
	for c := 0x21; c < 0x7f; c++ {
		b := byte(c)
		o[c] = b != '"' && b != ',' && b != ';' && b != '\\'
	}
	return o
}()
