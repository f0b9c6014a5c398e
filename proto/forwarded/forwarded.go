// Package forwarded reads what proxies in front report of a request's client
// (X-Forwarded-For, X-Forwarded-Proto) and writes what gatehouse reports to
// the upstreams behind it (X-Forwarded-For, RFC 7239 Forwarded). It is pure:
// bytes in, addresses out, no I/O, no trust decisions of its own (the caller
// says which addresses are trusted proxies).
//
// The client is found right to left: each proxy appends the address it got
// the request from, so only the entries a trusted proxy appended are
// trustworthy, and the first address, from the right, that is not a
// trusted proxy is the client. The leftmost entry is whatever the client
// chose to send (IP spoofing); it is never taken for that reason.
package forwarded

import (
	"bytes"
	"gatehouse/internal/httpspec"
	"net/netip"
	"strconv"

	"gatehouse/internal/bytesconv"
)

// MaxEntries bounds how many X-Forwarded-For entries are read, right to
// left; a longer chain is cut there (a client can send any number).
const MaxEntries = 32

// ClientIP returns the client's address from the X-Forwarded-For values
// (each a comma list; several fields in order) of a request whose peer is a
// trusted proxy: right to left, the first entry that is not trusted. When
// every entry is trusted, the leftmost one. An entry that does not parse
// ends the walk: the address before it (to the right) is the last one that
// can be believed, and is returned. ok is false when no entry parses.
func ClientIP(values [][]byte, trusted func(netip.Addr) bool) (addr netip.Addr, ok bool) {
	seen := 0
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for len(v) > 0 && seen < MaxEntries {
			j := bytes.LastIndexByte(v, ',')
			entry := httpspec.TrimOWS(v[j+1:])
			if j < 0 {
				v = nil
			} else {
				v = v[:j]
			}
			if len(entry) == 0 {
				continue
			}
			seen++
			a, good := parseEntry(entry)
			if !good {
				return addr, ok
			}
			addr, ok = a, true
			if !trusted(a) {
				return addr, true
			}
		}
	}
	return addr, ok
}

// parseEntry reads one X-Forwarded-For entry: an IPv4 or IPv6 address, or
// one with a port ("192.0.2.1:1234", "[2001:db8::1]:1234"), which some
// proxies write.
func parseEntry(b []byte) (netip.Addr, bool) {
	s := bytesconv.String(b) // read only here: no copy for every request behind a proxy
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), a.Zone() == ""
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), ap.Addr().Zone() == ""
	}
	return netip.Addr{}, false
}

// Proto reads X-Forwarded-Proto: "https" or "http" from the last (the
// nearest proxy's) value, "" when it says neither.
func Proto(values [][]byte) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	switch v = httpspec.TrimOWS(v); {
	case bytes.EqualFold(v, []byte("https")):
		return "https"
	case bytes.EqualFold(v, []byte("http")):
		return "http"
	}
	return ""
}

// AppendFor appends a Forwarded "for" (or "by") value for addr (RFC 7239
// §6): an IPv4 address bare, an IPv6 one quoted in brackets, with its port
// when known; "unknown" for an invalid address (a Unix socket's peer).
func AppendFor(dst []byte, addr netip.AddrPort) []byte {
	a := addr.Addr()
	switch {
	case !a.IsValid():
		return append(dst, "unknown"...)
	case a.Is4() && addr.Port() == 0:
		return a.AppendTo(dst)
	}
	dst = append(dst, '"')
	if a.Is6() {
		dst = append(dst, '[')
		dst = a.AppendTo(dst)
		dst = append(dst, ']')
	} else {
		dst = a.AppendTo(dst)
	}
	if addr.Port() != 0 {
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, uint64(addr.Port()), 10)
	}
	return append(dst, '"')
}
