package route

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gatehouse/web"
)

// Hosts sends each request to a site by its host (RFC 9112 §3.2.2: the
// absolute-form target's authority, otherwise the Host field; web.Request.Host
// gives whichever applies). Names match case-insensitively, without port or
// trailing dot; "*.example.com" matches every name ending in ".example.com",
// the longest such suffix winning; an exact name beats any wildcard. Requests
// for no known host go to the default site, or get 421 Misdirected Request.
type Hosts struct {
	exact map[string]web.Handler
	wild  []wildcard
	def   web.Handler
}

type wildcard struct {
	suffix string // ".example.com"
	h      web.Handler
}

var errMisdirected = &web.Error{Status: 421, Err: errors.New("route: no site for this host")}

// Add routes host ("example.com" or "*.example.com") to site.
func (hs *Hosts) Add(host string, site web.Handler) error {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if hs.exact == nil {
		hs.exact = map[string]web.Handler{}
	}
	if suffix, ok := strings.CutPrefix(host, "*"); ok {
		if !strings.HasPrefix(suffix, ".") || len(suffix) < 2 {
			return fmt.Errorf("route: bad wildcard %q", host)
		}
		for _, w := range hs.wild {
			if w.suffix == suffix {
				return fmt.Errorf("route: host %q added twice", host)
			}
		}
		hs.wild = append(hs.wild, wildcard{suffix: suffix, h: site})
		sort.SliceStable(hs.wild, func(i, j int) bool { return len(hs.wild[i].suffix) > len(hs.wild[j].suffix) })
		return nil
	}
	if _, dup := hs.exact[host]; dup {
		return fmt.Errorf("route: host %q added twice", host)
	}
	hs.exact[host] = site
	return nil
}

// SetDefault sets the site for hosts no site names.
func (hs *Hosts) SetDefault(site web.Handler) { hs.def = site }

// Site returns the site for a request host.
func (hs *Hosts) Site(host []byte) web.Handler {
	var buf [256]byte
	key := hostKey(host, &buf)
	if h, ok := hs.exact[string(key)]; ok { // no allocation: the compiler does not copy for a lookup
		return h
	}
	for _, w := range hs.wild {
		if len(key) > len(w.suffix) && string(key[len(key)-len(w.suffix):]) == w.suffix {
			return w.h
		}
	}
	return hs.def
}

// ServeHTTP dispatches r to its site.
func (hs *Hosts) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	site := hs.Site(r.Host())
	if site == nil {
		return errMisdirected
	}
	return site.ServeHTTP(w, r)
}

// hostKey lowercases host into buf without its port and trailing dot.
func hostKey(host []byte, buf *[256]byte) []byte {
	if len(host) > 0 && host[0] == '[' {
		if i := bytes.IndexByte(host, ']'); i > 0 {
			host = host[:i+1]
		}
	} else if i := bytes.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = bytes.TrimSuffix(host, []byte("."))
	if len(host) > len(buf) {
		return nil
	}
	n := copy(buf[:], host)
	for i := range n {
		if c := buf[i]; c >= 'A' && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	return buf[:n]
}
