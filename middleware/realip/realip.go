// Package realip decides which peers are trusted proxies, and for a request
// from one takes the client's address and scheme from what that proxy
// reports (X-Forwarded-For right to left, X-Forwarded-Proto), so that the
// access log, every later layer and the gateways (REMOTE_ADDR,
// wsgi.url_scheme, HTTPS) see the client, as gunicorn's forwarded_allow_ips
// and nginx's set_real_ip_from do. It is the one place that decision is
// made.
//
// From a peer that is not trusted, the forwarding fields (X-Forwarded-For,
// -Proto, -Host, X-Real-IP, Forwarded, and the same names spelled with '_')
// are removed before anything else sees them: a client that writes
// "X-Forwarded-Proto: https" over plain HTTP must not make an application
// believe the request was secure, nor choose the address it is logged and
// rate-limited under (IP spoofing).
package realip

import (
	"fmt"
	"net/netip"

	"gatehouse/internal/sockaddr"
	"gatehouse/proto/forwarded"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// Trust is the set of trusted proxies. Its zero value trusts no one.
type Trust struct {
	// Prefixes are the trusted proxies' addresses.
	Prefixes []netip.Prefix
	// Unix trusts peers on Unix sockets (a proxy on the same machine).
	Unix bool
}

// PrivateRanges are the prefixes of "private_ranges": loopback, RFC 1918,
// RFC 6598 shared space, IPv6 unique local and link local.
var PrivateRanges = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("fe80::/10"),
}

// Parse reads a trusted_proxies list: addresses, CIDR ranges, and the
// words "private_ranges" (PrivateRanges) and "unix" (peers on Unix
// sockets).
func Parse(list []string) (Trust, error) {
	var t Trust
	for _, s := range list {
		switch s {
		case "unix":
			t.Unix = true
		case "private_ranges":
			t.Prefixes = append(t.Prefixes, PrivateRanges...)
		default:
			p, err := sockaddr.ParsePrefix(s)
			if err != nil {
				return Trust{}, fmt.Errorf("%w; or \"private_ranges\", \"unix\"", err)
			}
			t.Prefixes = append(t.Prefixes, p)
		}
	}
	return t, nil
}

// Addr reports whether a is a trusted proxy's address.
func (t *Trust) Addr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t.Prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Peer reports whether a request's peer is trusted: a TCP peer by address,
// a Unix socket's (invalid address) when Unix is set.
func (t *Trust) Peer(peer netip.AddrPort) bool {
	if !peer.IsValid() {
		return t.Unix
	}
	return t.Addr(peer.Addr())
}

// Middleware applies t: the client and scheme from a trusted peer's fields,
// the fields removed from anyone else's.
func (t *Trust) Middleware() web.Middleware {
	return func(next web.Handler) web.Handler {
		return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			t.Apply(r)
			return next.ServeHTTP(w, r)
		})
	}
}

// Apply is the middleware's work on r, for layers that call it directly.
func (t *Trust) Apply(r *web.Request) {
	if r.Relayed() {
		return // a uwsgi front server, let in by the listener's allow-list, has reported the client
	}
	if !t.Peer(r.Peer()) {
		Strip(&r.Header)
		return
	}
	var xffArr, protoArr [4][]byte // on the stack for the usual few fields
	xff, proto := xffArr[:0], protoArr[:0]
	for name, value := range r.Header.All() {
		switch {
		case http1.EqualFold(name, "x-forwarded-for"):
			xff = append(xff, value)
		case http1.EqualFold(name, "x-forwarded-proto"):
			proto = append(proto, value)
		}
	}
	var client netip.AddrPort
	if a, ok := forwarded.ClientIP(xff, t.Addr); ok {
		client = netip.AddrPortFrom(a, 0)
	}
	r.SetClient(client, forwarded.Proto(proto))
}

// forwardingFields are the fields a client must not set for itself.
var forwardingFields = []string{"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip", "forwarded"}

// Strip removes the forwarding fields from h, under either spelling ('-' or
// '_'): gateways turn both into the same CGI variable (HTTP_X_FORWARDED_FOR).
func Strip(h *web.Header) {
	for i := 0; i < h.Len(); i++ {
		name := h.At(i).Name
		if len(name) == 0 || (name[0]|0x20 != 'x' && name[0]|0x20 != 'f') {
			continue // the common case: one byte decides
		}
		if IsForwarding(name) {
			h.Del(string(name))
			i--
		}
	}
}

// IsForwarding reports whether name is a forwarding field, '-' or '_'.
func IsForwarding(name []byte) bool {
	for _, f := range forwardingFields {
		if len(name) != len(f) {
			continue
		}
		same := true
		for i := range len(f) {
			c := name[i] | 0x20
			if name[i] == '_' {
				c = '-'
			}
			if c != f[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}
