package csrf

import (
	"errors"
	"strings"

	"gatehouse/route"
	"gatehouse/web"
)

// Refusals of layer 1 (403).
var (
	ErrCrossOrigin = &web.Error{Status: 403, Err: errors.New("csrf: cross-origin request (Sec-Fetch-Site)")}
	ErrOrigin      = &web.Error{Status: 403, Err: errors.New("csrf: cross-origin request (Origin)")}
)

// Origins is layer 1's configuration: what is exempt.
type Origins struct {
	trusted []string // "scheme://host[:port]", lower case
	bypass  []string // cleaned paths; a trailing '/' is a subtree
}

// NewOrigins checks trusted origins and bypass patterns and returns them.
func NewOrigins(trusted, bypass []string) (*Origins, error) {
	o := &Origins{}
	for _, t := range trusted {
		if err := CheckOrigin(t); err != nil {
			return nil, err
		}
		o.trusted = append(o.trusted, strings.ToLower(t))
	}
	for _, p := range bypass {
		if err := CheckBypass(p); err != nil {
			return nil, err
		}
		o.bypass = append(o.bypass, p)
	}
	return o, nil
}

// CheckOrigin reports what is wrong with a trusted origin: it must be
// scheme://host[:port] (RFC 6454 §7), http or https, with nothing after.
func CheckOrigin(s string) error {
	scheme, rest, ok := strings.Cut(s, "://")
	scheme = strings.ToLower(scheme)
	if !ok || scheme != "http" && scheme != "https" || rest == "" || strings.ContainsAny(rest, "/?#@ \t\\") {
		return &FieldError{"trusted_origins", errors.New("csrf: trusted origin " + s + " is not scheme://host[:port] (such as https://app.example.com)")}
	}
	return nil
}

// CheckBypass reports what is wrong with a bypass pattern: an absolute,
// cleaned path ("/webhooks/" for a subtree, "/hook" exactly).
func CheckBypass(p string) error {
	if c, ok := route.Clean([]byte(p)); !ok || string(c) != p {
		return &FieldError{"bypass", errors.New("csrf: bypass pattern " + p + " is not a clean absolute path (such as /webhooks/)")}
	}
	return nil
}

// Check is layer 1: it returns nil for a request the browser says comes
// from the site itself (or that is safe or exempt), else ErrCrossOrigin
// or ErrOrigin. It does not allocate.
func (o *Origins) Check(r *web.Request) error {
	switch r.Method() {
	case web.MethodGet, web.MethodHead, web.MethodOptions:
		return nil
	}
	switch sfs := r.Header.Peek("Sec-Fetch-Site"); string(sfs) {
	case "":
	case "same-origin", "none":
		return nil
	default:
		if o.exempt(r) {
			return nil
		}
		return ErrCrossOrigin
	}
	origin := r.Header.Peek("Origin")
	if len(origin) == 0 {
		return nil // neither field: not a browser's request (or same-origin from a very old one)
	}
	if host, ok := originHost(origin); ok && equalFold(host, r.Host()) {
		return nil
	}
	if o.exempt(r) {
		return nil
	}
	return ErrOrigin
}

// originHost returns the host[:port] of an Origin value (scheme://host[:port]).
func originHost(o []byte) ([]byte, bool) {
	for i := 0; i+2 < len(o); i++ {
		if o[i] == ':' {
			if o[i+1] != '/' || o[i+2] != '/' || i == 0 {
				return nil, false
			}
			host := o[i+3:]
			for _, c := range host {
				switch c {
				case '/', '?', '#', '@', '\\':
					return nil, false
				}
			}
			return host, len(host) > 0
		}
	}
	return nil, false
}

// exempt: a trusted Origin, or a path under a bypass pattern.
func (o *Origins) exempt(r *web.Request) bool {
	if len(o.trusted) > 0 {
		if origin := r.Header.Peek("Origin"); len(origin) > 0 {
			for _, t := range o.trusted {
				if equalFold(origin, t) {
					return true
				}
			}
		}
	}
	return o.bypassed(r)
}

// bypassed reports whether the request's path, cleaned as routing cleans
// it, is under a bypass pattern.
func (o *Origins) bypassed(r *web.Request) bool {
	if len(o.bypass) == 0 {
		return false
	}
	path, ok := route.Clean(r.RawPath())
	if !ok {
		return false // dot segments or a bad escape: routing refuses it too
	}
	for _, p := range o.bypass {
		if p[len(p)-1] == '/' {
			if len(path) >= len(p) && string(path[:len(p)]) == p {
				return true
			}
		} else if string(path) == p {
			return true
		}
	}
	return false
}

func equalFold[T ~string | ~[]byte](a []byte, b T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
