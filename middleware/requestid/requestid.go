// Package requestid gives every request an ID (X-Request-ID by default):
// generated here, or taken from the request when it came from a trusted
// proxy, which then already gave it one. The ID goes to the backends as a
// request field (HTTP_X_REQUEST_ID for CGI, FastCGI, uwsgi and WSGI
// applications), back to the client as a response field, into the access
// log ($request_id) and into header rules ({request_id}).
//
// An ID a client sends is replaced unless its peer is a trusted proxy: an
// ID is what ties log lines of several services to one request, and a
// client that chose its own could make its requests look like another's,
// or reuse one to hide among someone else's log lines. An ID that is kept
// must also look like one (1 to MaxLen characters of letters, digits and
// "-_.:+/="): it is logged and passed on, so it must not carry a line
// break, a quote or a log format's separators.
package requestid

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"

	"gatehouse/web"
)

// DefaultField is the field the ID travels in.
const DefaultField = "X-Request-ID"

// MaxLen bounds an ID taken from a trusted proxy; a longer one is replaced.
const MaxLen = 128

// Key holds the request's ID, once the middleware has run.
var Key = web.NewKey[*ID]("request id")

// ID is a request's ID. It is a pointer in its slot so that setting it does
// not box a string.
type ID struct{ Value string }

// Get returns r's ID, or "" when no ID was given.
func Get(r *web.Request) string {
	if id, ok := Key.Get(r); ok && id != nil {
		return id.Value
	}
	return ""
}

// Config says where the ID travels and whom to believe.
type Config struct {
	// Field is the request and response field. Default X-Request-ID.
	Field string
	// Trusted reports whether a request's peer (the socket's, not the
	// client a proxy reports) may give the ID: gatehouse's trusted proxies
	// ([http] trusted_proxies). Default nil: every ID is generated here.
	Trusted func(peer netip.AddrPort) bool
	// NoResponse leaves the ID off responses. Default false: responses
	// carry it, so a user can quote it.
	NoResponse bool
}

// Check reports whether v can be kept as an ID: 1 to MaxLen characters of
// [A-Za-z0-9-_.:+/=].
func Check(v []byte) bool {
	if len(v) == 0 || len(v) > MaxLen {
		return false
	}
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// New returns a fresh ID: 16 random bytes in hex, as nginx's $request_id.
func New() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Wrap returns next behind the IDs.
func Wrap(c Config, next web.Handler) web.Handler {
	if c.Field == "" {
		c.Field = DefaultField
	}
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		var v string
		if got := r.Header.Peek(c.Field); got != nil && c.Trusted != nil && c.Trusted(r.Peer()) && Check(got) {
			v = string(got)
		} else {
			v = New()
			r.Header.Del(c.Field)
			r.Header.Add(c.Field, v)
		}
		Key.Set(r, &ID{v})
		if c.NoResponse {
			return next.ServeHTTP(w, r)
		}
		w.Header().Set(c.Field, v)
		return web.WithHeader(next.ServeHTTP(w, r), c.Field, v)
	})
}
