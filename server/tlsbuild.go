package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"

	"gatehouse/config"
	"gatehouse/internal/tlsspec"
	"gatehouse/tlsconf"
)

// tlsGroup is the listeners that share one tls table, and so one
// tlsconf.Certs.
type tlsGroup struct {
	listeners []int // indices into config.Listen; the first names the table
	certs     *tlsconf.Certs
}

// tlsListeners loads every TLS listener's certificates and returns each
// listener's (nil for plain ones). Listeners whose tls tables are the same,
// as "0.0.0.0:443" and "[::]:443" usually are, share one tlsconf.Certs: one
// tls.Config, one load, one set of session-ticket keys, so that a client
// resumes its session on either. SIGHUP reloads every set (a reloader);
// reload_interval starts a watch, except for gatehouse check.
func (b *Built) tlsListeners(cfg *config.Config, opt BuildOptions, problem func(path, msg, hint string)) ([]*tlsconf.Certs, []tlsGroup) {
	out := make([]*tlsconf.Certs, len(cfg.Listen))
	var groups []tlsGroup
	for i, l := range cfg.Listen {
		if l.TLS == nil {
			continue
		}
		found := false
		for g := range groups {
			if sameCerts(cfg.Listen[groups[g].listeners[0]].TLS, l.TLS) {
				groups[g].listeners = append(groups[g].listeners, i)
				found = true
				break
			}
		}
		if !found {
			groups = append(groups, tlsGroup{listeners: []int{i}})
		}
	}
	var loaded []tlsGroup
	for _, g := range groups {
		t := cfg.Listen[g.listeners[0]].TLS
		var addrs []string
		for _, i := range g.listeners {
			addrs = append(addrs, cfg.Listen[i].Addr)
		}
		tc := tlsConfig(t, strings.Join(addrs, " "), b)
		if t.ACME {
			tc.Issuer = checkIssuer{} // gatehouse check: no manager, nothing ordered
			if b.acme != nil {
				tc.Issuer = b.acme
			}
		}
		certs, err := tlsconf.New(tc)
		if err != nil {
			path, hint := certProblem(fmt.Sprintf("listen[%d].tls", g.listeners[0]), err)
			problem(path, "listen.tls: "+err.Error(), hint)
			continue
		}
		g.certs = certs
		loaded = append(loaded, g)
		for _, i := range g.listeners {
			out[i] = certs
		}
		if opt.Check {
			continue
		}
		b.reloaders = append(b.reloaders, reloader{"reading the TLS certificates again", certs.Reload})
		if every := dur(t.ReloadInterval, -1); every > 0 {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				certs.Watch(ctx, every)
			}()
			b.closers = append(b.closers, func() error { cancel(); <-done; return nil })
		}
	}
	return out, loaded
}

// tlsConfig maps a validated tls table onto tlsconf.Config.
func tlsConfig(t *config.TLS, name string, b *Built) tlsconf.Config {
	c := tlsconf.Config{Name: name, Logger: b.Logger}
	if t.Cert != "" {
		c.Default = &tlsconf.Pair{Cert: t.Cert, Key: t.Key}
	}
	for _, p := range t.Certs {
		c.Certs = append(c.Certs, tlsconf.Pair{Cert: p.Cert, Key: p.Key})
	}
	c.MinVersion, _ = tlsspec.ParseVersion(t.MinVersion) // validated; "" is 0, the default
	for _, n := range t.Curves {
		g, _ := tlsspec.ParseGroup(n) // validated
		c.Curves = append(c.Curves, g.ID)
	}
	return c
}

// sameCerts reports whether two tls tables load the same certificates the
// same way (the handshake timeout is each endpoint's own).
func sameCerts(a, b *config.TLS) bool {
	x, y := *a, *b
	x.HandshakeTimeout, y.HandshakeTimeout = nil, nil
	return reflect.DeepEqual(x, y)
}

// certProblem places a certificate that cannot be served at the key that
// names its file, with a hint for what went wrong.
func certProblem(p string, err error) (path, hint string) {
	path = p
	var ce *tlsconf.CertError
	if errors.As(err, &ce) {
		path = certPath(p, ce.Index)
		if ce.KeyFile {
			path = strings.TrimSuffix(path, ".cert") + ".key"
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		hint = "give the path of a file gatehouse can read"
	case errors.Is(err, tlsconf.ErrExpired):
		hint = "renew it, or point cert and key at the renewed files"
	case errors.Is(err, tlsconf.ErrNotYetValid):
		hint = "check this machine's clock; a certificate is served from the time it names on"
	case errors.Is(err, tlsconf.ErrNoName):
		hint = "give it a DNS name (subject alternative name), or make it the default: cert and key at the top of tls"
	default:
		hint = "cert is the certificate (PEM, leaf first, then its chain) and key its private key (PEM)"
	}
	return path, hint
}

// certPath is the key path of certificate index (-1: the default) of a
// tls table at p.
func certPath(p string, index int) string {
	if index < 0 {
		return p + ".cert"
	}
	return fmt.Sprintf("%s.certs[%d].cert", p, index)
}

// certWarnings warns of certificates whose names no site serves: their
// clients would get 421 Misdirected Request. With a default site, every
// name is served.
func certWarnings(cfg *config.Config, groups []tlsGroup, warn func(path, msg, hint string)) {
	var hosts []string
	for _, s := range cfg.Site {
		if len(s.Hosts) == 0 || s.Default {
			return
		}
		hosts = append(hosts, s.Hosts...)
	}
	for _, g := range groups {
		p := fmt.Sprintf("listen[%d].tls", g.listeners[0])
		for _, c := range g.certs.Certificates() {
			if len(c.Names) == 0 || servesAny(hosts, c.Names) {
				continue
			}
			warn(certPath(p, c.Index), fmt.Sprintf("listen.tls: certificate %s is for %s, which no site serves",
				c.File, strings.Join(c.Names, ", ")), "add a name to a site's hosts, or remove the certificate")
		}
	}
}

// servesAny reports whether a site host serves one of a certificate's
// names: the same name; a site wildcard ("*.example.com", any name under
// it) over the name; or a certificate wildcard over a host one label
// below it.
func servesAny(hosts, names []string) bool {
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		for _, n := range names {
			switch {
			case h == n:
				return true
			case strings.HasPrefix(h, "*.") && strings.HasSuffix(n, h[1:]):
				return true
			case strings.HasPrefix(n, "*."):
				if label, ok := strings.CutSuffix(h, n[1:]); ok && label != "" && !strings.Contains(label, ".") {
					return true
				}
			}
		}
	}
	return false
}
