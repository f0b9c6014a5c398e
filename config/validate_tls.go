package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/sockaddr"
	"gatehouse/internal/tlsspec"
)

// minReloadInterval is the shortest reload_interval: a poll is two stats a
// certificate, but a certificate changes a few times a year.
const minReloadInterval = time.Second

// validateTLS checks the TLS keys of listener i, and redirect_https.
func (c *Config) validateTLS(i int, l Listen) Problems {
	var ps Problems
	bad := func(path, msg, hint string) { ps = append(ps, c.ProblemAt(path, msg, hint)) }
	p := fmt.Sprintf("listen[%d]", i)
	if l.RedirectHTTPS {
		switch {
		case l.TLS != nil:
			bad(p+".redirect_https", "listen.redirect_https on a TLS listener would redirect https to itself", "set it on the plain HTTP listener (port 80), or remove it")
		case l.Protocol == "uwsgi":
			bad(p+".redirect_https", "listen.redirect_https applies only to HTTP listeners", "remove it: nginx in front decides the scheme")
		default:
			if msg := c.redirectTarget(); msg != "" {
				bad(p+".redirect_https", "listen.redirect_https: "+msg, "add a [[listen]] with tls on a TCP port, such as addr = \":443\"")
			}
		}
	}
	if l.H2C && (l.TLS != nil || l.Protocol == "uwsgi" || l.RedirectHTTPS) {
		bad(p+".h2c", "listen.h2c applies only to plain HTTP listeners that serve sites",
			"a TLS listener offers HTTP/2 by ALPN already; remove h2c here")
	}
	t := l.TLS
	if t == nil {
		return ps
	}
	p += ".tls"
	if l.Protocol == "uwsgi" {
		bad(p, "listen.tls applies only to HTTP listeners", "remove it: uwsgi peers are local, behind nginx")
	}
	pair := func(path, cert, key string) {
		switch {
		case cert == "" && key == "":
			bad(path, "listen.tls: a certificate needs cert and key", `write { cert = "/etc/gatehouse/tls/example.com.pem", key = "/etc/gatehouse/tls/example.com.key" }`)
		case key == "":
			bad(path, "listen.tls: cert "+strconv.Quote(cert)+" without its key", "add key = \"...\": the file of its private key (PEM)")
		case cert == "":
			bad(path, "listen.tls: key "+strconv.Quote(key)+" without its cert", "add cert = \"...\": the certificate's file (PEM, the chain after it)")
		}
	}
	if t.Cert == "" && t.Key == "" {
		if len(t.Certs) == 0 && !t.ACME {
			bad(p, "listen.tls names no certificate", `write tls = { cert = "/etc/gatehouse/tls/example.com.pem", key = "/etc/gatehouse/tls/example.com.key" }`)
		}
	} else {
		pair(p, t.Cert, t.Key)
	}
	for j, cf := range t.Certs {
		pair(fmt.Sprintf("%s.certs[%d]", p, j), cf.Cert, cf.Key)
	}
	if t.MinVersion != "" {
		if _, ok := tlsspec.ParseVersion(t.MinVersion); !ok {
			bad(p+".min_version", fmt.Sprintf("listen.tls.min_version %q is not \"1.2\" or \"1.3\"", t.MinVersion),
				"TLS 1.0 and 1.1 are deprecated (RFC 8996); leave the key out for \"1.2\"")
		}
	}
	if t.Curves != nil {
		if len(t.Curves) == 0 {
			bad(p+".curves", "listen.tls.curves is empty: no key exchange could succeed", "leave the key out for Go's defaults")
		}
		seen := map[string]bool{}
		classic := false
		for k, name := range t.Curves {
			g, ok := tlsspec.ParseGroup(name)
			if !ok {
				bad(fmt.Sprintf("%s.curves[%d]", p, k), fmt.Sprintf("listen.tls.curves: unknown group %q", name),
					"known: "+strings.Join(tlsspec.GroupNames(), ", "))
				continue
			}
			if seen[g.Name] {
				bad(fmt.Sprintf("%s.curves[%d]", p, k), fmt.Sprintf("listen.tls.curves names %s twice", g.Name), "keep one")
			}
			seen[g.Name] = true
			classic = classic || !g.Hybrid
		}
		if len(seen) > 0 && !classic && t.MinVersion != "1.3" {
			bad(p+".curves", "listen.tls.curves has only post-quantum hybrids, which TLS 1.2 clients cannot use",
				"add \"x25519\" and \"secp256r1\", or set min_version = \"1.3\"")
		}
	}
	if d := t.ReloadInterval; d != nil && d.Duration > 0 && d.Duration < minReloadInterval {
		bad(p+".reload_interval", fmt.Sprintf("listen.tls.reload_interval %s is below %s", d.Duration, minReloadInterval),
			"a minute is plenty: certificates change a few times a year, and SIGHUP reloads at once")
	}
	return ps
}

// redirectTarget explains why no listener can receive redirect_https's
// redirects, or returns "".
func (c *Config) redirectTarget() string {
	port, addr, ok := c.HTTPSPort()
	switch {
	case !ok:
		return "no TLS listener on a TCP port to redirect to"
	case port == 0:
		return "the TLS listener " + strconv.Quote(addr) + " has port 0 (chosen at start), which a redirect cannot name"
	}
	return ""
}

// HTTPSPort returns the port of the first TLS listener on TCP, and its
// address: where redirect_https sends clients. ok is false when there is
// none.
func (c *Config) HTTPSPort() (port int, addr string, ok bool) {
	for _, l := range c.Listen {
		if l.TLS == nil || l.Protocol == "uwsgi" {
			continue
		}
		network, rest := sockaddr.Split(l.Addr)
		if network != "tcp" {
			continue
		}
		_, p, err := net.SplitHostPort(rest)
		if err != nil {
			continue // reported as a bad address
		}
		n, _ := strconv.Atoi(p)
		return n, l.Addr, true
	}
	return 0, "", false
}

// checkHSTS checks a Strict-Transport-Security value (RFC 6797 §6.1):
// directives separated by ";", max-age required, none twice (a browser
// ignores a field that repeats one, §6.1 rule 2), and the preload list's
// own conditions when it asks for preload.
func checkHSTS(v string) (msg, hint string) {
	const known = "directives: max-age=SECONDS, includeSubDomains, preload"
	seen := map[string]bool{}
	maxAge := int64(-1)
	for _, d := range strings.Split(v, ";") {
		d = strings.Trim(d, " \t")
		if d == "" {
			continue
		}
		name, value, hasValue := strings.Cut(d, "=")
		name = strings.ToLower(strings.TrimRight(name, " \t"))
		value = strings.TrimLeft(value, " \t")
		if seen[name] {
			return fmt.Sprintf("%s appears twice (browsers then ignore the field)", name), "keep one"
		}
		seen[name] = true
		switch name {
		case "max-age":
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1] // quoted-string, §6.1.1
			}
			n, err := strconv.ParseInt(value, 10, 64)
			if !hasValue || err != nil || n < 0 || value[0] == '+' {
				return fmt.Sprintf("max-age %q is not a number of seconds", value), "write max-age=31536000 (a year)"
			}
			maxAge = n
		case "includesubdomains", "preload":
			if hasValue {
				return name + " takes no value", "write it alone, as in \"max-age=31536000; includeSubDomains\""
			}
		default:
			return fmt.Sprintf("unknown directive %q", name), known
		}
	}
	switch {
	case maxAge < 0:
		return "max-age is missing", "write \"max-age=31536000\" (a year); " + known
	case seen["preload"] && (!seen["includesubdomains"] || maxAge < 31536000):
		return "preload needs includeSubDomains and a max-age of at least a year (31536000): the preload list refuses it otherwise",
			"write \"max-age=63072000; includeSubDomains; preload\", or drop preload"
	}
	return "", ""
}

// validateACME checks [acme] and its use.
func (c *Config) validateACME() Problems {
	var ps Problems
	bad := func(path, msg, hint string) { ps = append(ps, c.ProblemAt(path, msg, hint)) }
	a := c.ACME
	set := len(a.Domains) > 0 || a.Email != "" || a.CA != "" || a.CARoot != "" || a.CacheDir != ""
	if !c.UsesACME() {
		if set {
			bad("acme", "[acme] is set, but no listener takes its certificates", `add tls = { acme = true } to the [[listen]] that serves HTTPS`)
		}
		return ps
	}
	domains := c.ACMEDomains()
	if len(domains) == 0 {
		bad("acme", "tls.acme: no names to obtain certificates for", `give the sites hosts = ["example.com"], or [acme] domains = ["example.com"]`)
	}
	for k, d := range a.Domains {
		h := strings.ToLower(strings.TrimSuffix(d, "."))
		if h == "" || strings.Contains(h, "*") || net.ParseIP(strings.Trim(h, "[]")) != nil {
			bad(fmt.Sprintf("acme.domains[%d]", k), fmt.Sprintf("acme.domains %q is not a host name", d),
				"a name such as \"example.com\": wildcards need the DNS-01 challenge, which is not served, and a CA issues no certificate for an address")
		}
	}
	if a.CA != "" && !strings.HasPrefix(a.CA, "https://") {
		bad("acme.ca", fmt.Sprintf("acme.ca %q is not an https:// URL", a.CA), "the CA's directory URL, such as https://acme-staging-v02.api.letsencrypt.org/directory")
	}
	if a.Email != "" && !strings.Contains(a.Email, "@") {
		bad("acme.email", fmt.Sprintf("acme.email %q is not an address", a.Email), "write \"ops@example.com\"")
	}
	return ps
}
