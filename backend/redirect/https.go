package redirect

import (
	"bytes"
	"strconv"
	"strings"

	"gatehouse/web"
)

// ACMEChallengePrefix is where an ACME CA asks for its HTTP-01 tokens
// (RFC 8555 §8.3), over plain HTTP on port 80: the one path an HTTPS
// redirect must not send to https.
const ACMEChallengePrefix = "/.well-known/acme-challenge/"

// HTTPS answers every request with a 308 redirect to the same host and
// target over https, as nginx's `return 308 https://$host$request_uri`:
// the plain HTTP listener in front of a TLS one. 308 (RFC 9110 §15.4.9)
// keeps the method and the body, where 301 lets clients turn a POST into
// a GET.
//
// The host is the request's (its Host field, or an absolute-form target's
// authority), without its port, which the HTTP parser has checked is a
// uri-host (RFC 9110 §7.2). It is checked again here for what would let it
// end the authority ('/', '\', '@', '?', '#', spaces, controls): a Location
// whose host is the client's own is no open redirect, but a host that
// could move the path would be.
type HTTPS struct {
	// Port of the TLS listener the redirect goes to. 443 (or 0) is left
	// out of the URL.
	Port int
	// Challenge answers ACMEChallengePrefix and everything under it.
	// nil: 404 (nothing issues certificates yet).
	Challenge web.Handler
}

var _ web.Handler = (*HTTPS)(nil)

func (h *HTTPS) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	path := r.RawPath()
	if bytes.HasPrefix(path, []byte(ACMEChallengePrefix)) {
		if h.Challenge == nil {
			return web.ErrNotFound
		}
		return h.Challenge.ServeHTTP(w, r)
	}
	host := hostOnly(r.Host())
	switch {
	case host == "":
		return web.Errorf(400, "redirect to https: the request names no host")
	case strings.ContainsAny(host, "/\\@?# \t") || strings.ContainsFunc(host, func(c rune) bool { return c < 0x20 || c == 0x7f }):
		return web.Errorf(400, "redirect to https: host %q cannot be put in a URL", host)
	case len(path) == 0 || path[0] != '/':
		// OPTIONS * and the like: there is no resource to send to https.
		return web.Errorf(400, "redirect to https: target %q is not a path", path)
	}
	var b strings.Builder
	b.Grow(len("https://") + len(host) + 6 + len(path) + 1 + len(r.RawQuery()))
	b.WriteString("https://")
	b.WriteString(host)
	if h.Port != 0 && h.Port != 443 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(h.Port))
	}
	b.Write(path)
	if q := r.RawQuery(); q != nil {
		b.WriteByte('?')
		b.Write(q)
	}
	w.Header().Set("Location", b.String())
	w.WriteHeader(308)
	return nil
}

// hostOnly is host without its port: "example.com:80" is "example.com",
// "[::1]:80" is "[::1]".
func hostOnly(host []byte) string {
	s := string(host)
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i > 0 {
			return s[:i+1]
		}
		return s
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[:i]
	}
	return s
}
