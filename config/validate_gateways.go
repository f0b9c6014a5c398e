package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"gatehouse/internal/sockaddr"
)

// ParsePrefix reads an allow-list entry: an address prefix ("10.0.0.0/8") or
// a single address ("192.0.2.7", "::1").
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// IsAddr reports whether a pass value is an address rather than the name of
// an [[upstream]]: addresses hold a colon ("unix:/path", "host:port").
func IsAddr(pass string) bool { return strings.Contains(pass, ":") }

func (c *Config) validateUpstreams() Problems {
	var ps Problems
	bad := func(path, msg, hint string) { ps = append(ps, c.ProblemAt(path, msg, hint)) }
	names := map[string]int{}
	for i, u := range c.Upstream {
		p := fmt.Sprintf("upstream[%d]", i)
		switch {
		case u.Name == "":
			bad(p, "upstream: name is missing", "write name = \"php\"; routes refer to it with pass = \"php\"")
		case IsAddr(u.Name) || strings.ContainsAny(u.Name, " /\t"):
			bad(p+".name", fmt.Sprintf("upstream.name %q cannot hold ':', '/' or spaces", u.Name), "names are words such as \"php\" or \"app-backend\"")
		default:
			if prev, dup := names[u.Name]; dup {
				bad(p+".name", fmt.Sprintf("upstream.name %q is already used by upstream[%d]", u.Name, prev), "give each upstream its own name")
			}
			names[u.Name] = i
		}
		if len(u.Addrs) == 0 {
			bad(p, "upstream: addrs is missing", "write addrs = [\"unix:/run/php/php-fpm.sock\"] or [\"127.0.0.1:9000\"]")
		}
		for k, a := range u.Addrs {
			if msg := checkAddr(a); msg != "" {
				bad(fmt.Sprintf("%s.addrs[%d]", p, k), fmt.Sprintf("upstream.addrs %q %s", a, msg), "write \"unix:/path\" or \"host:port\"")
			}
		}
		if u.MaxConns < 0 {
			bad(p+".max_conns", "upstream.max_conns cannot be negative", "leave it out for the default (32)")
		}
		if u.MaxIdle < -1 {
			bad(p+".max_idle", "upstream.max_idle must be -1 (keep none) or more", "leave it out to keep up to max_conns")
		}
		if u.MaxQueue < 0 {
			bad(p+".max_queue", "upstream.max_queue cannot be negative", "0 means no bound but queue_timeout")
		}
		for _, d := range []struct {
			name string
			v    *Duration
		}{{"dial_timeout", u.DialTimeout}, {"idle_timeout", u.IdleTimeout}, {"down_for", u.DownFor}} {
			if d.v != nil && d.v.Duration <= 0 {
				bad(p+"."+d.name, "upstream."+d.name+" must be positive", "leave the key out for the default")
			}
		}
	}
	return ps
}

// checkAddr returns why a dial address is unusable, or "".
func checkAddr(a string) string {
	switch err := sockaddr.CheckDial(a); {
	case errors.Is(err, sockaddr.ErrNoPath):
		return "names no socket path"
	case errors.Is(err, sockaddr.ErrNotHostPort):
		return "is not host:port"
	case errors.Is(err, sockaddr.ErrPort):
		return "has no port from 1 to 65535"
	}
	return ""
}

func (c *Config) validateGateways(p string, r Route) Problems {
	var ps Problems
	bad := func(path, msg, hint string) { ps = append(ps, c.ProblemAt(path, msg, hint)) }
	pass := func(kp, kind, v string, required bool) {
		switch {
		case v == "":
			if required {
				bad(kp, kind+": pass is missing", "write pass = \"unix:/run/app.sock\", \"127.0.0.1:9000\" or the name of an [[upstream]]")
			}
		case IsAddr(v):
			if msg := checkAddr(v); msg != "" {
				bad(kp+".pass", fmt.Sprintf("%s.pass %q %s", kind, v, msg), "write \"unix:/path\", \"host:port\" or the name of an [[upstream]]")
			}
		default:
			for _, u := range c.Upstream {
				if u.Name == v {
					return
				}
			}
			bad(kp+".pass", fmt.Sprintf("%s.pass %q names no [[upstream]]", kind, v), "define [[upstream]] name = \""+v+"\", or give an address (\"unix:/path\", \"host:port\")")
		}
	}
	params := func(kp, kind string, m map[string]string) {
		for _, k := range sortedKeys(m) {
			switch v := m[k]; {
			case k == "" || strings.ContainsAny(k, "=\x00"):
				bad(kp+".params", fmt.Sprintf("%s.params: %q is not a variable name", kind, k), "names are letters, digits and _")
			case strings.ContainsRune(v, 0):
				bad(kp+".params", fmt.Sprintf("%s.params: %s's value holds a NUL byte", kind, k), "a variable's value is text")
			case (kind == "php" || kind == "fastcgi") && strings.ContainsRune(v, '\r'):
				bad(kp+".params", fmt.Sprintf("%s.params: %s's value holds a carriage return", kind, k),
					"php-fpm reads PHP_VALUE one setting per line: separate them with \\n alone, as \"a=1\\nb=2\"")
			}
		}
	}
	positive := func(kp string, ds ...struct {
		name string
		v    *Duration
	}) {
		kind := kp[strings.LastIndexByte(kp, '.')+1:]
		for _, d := range ds {
			if d.v != nil && d.v.Duration <= 0 {
				bad(kp+"."+d.name, kind+"."+d.name+" must be positive", "leave the key out for the default")
			}
		}
	}
	type dur = struct {
		name string
		v    *Duration
	}
	if x := r.PHP; x != nil {
		kp := p + ".php"
		if x.Root == "" {
			bad(kp, "php: root is missing", "write php = { root = \"/srv/www\" }")
		}
		pass(kp, "php", x.Pass, false)
		params(kp, "php", x.Params)
		if x.Index != "" && (strings.Contains(x.Index, "/") || !strings.HasSuffix(x.Index, ".php")) {
			bad(kp+".index", fmt.Sprintf("php.index %q is not the name of a .php script", x.Index), "write a file name, such as \"index.php\": it is looked up in each directory")
		}
		if f := x.Fallback; f != "" && f != "-" && (strings.HasPrefix(f, "/") || strings.Contains(f, "..") || !strings.HasSuffix(f, ".php")) {
			bad(kp+".fallback", fmt.Sprintf("php.fallback %q is not a .php script under root", f), "write a path relative to root, such as \"index.php\", or \"-\" for none")
		}
		positive(kp, dur{"read_timeout", x.ReadTimeout}, dur{"write_timeout", x.WriteTimeout})
		if !strings.HasSuffix(r.Path, "/") {
			bad(p+".path", fmt.Sprintf("a php route's path %q must end with /", r.Path), "a PHP site is a directory: write \""+r.Path+"/\"")
		}
	}
	if x := r.FastCGI; x != nil {
		kp := p + ".fastcgi"
		pass(kp, "fastcgi", x.Pass, true)
		params(kp, "fastcgi", x.Params)
		positive(kp, dur{"read_timeout", x.ReadTimeout}, dur{"write_timeout", x.WriteTimeout})
	}
	if x := r.UWSGI; x != nil {
		kp := p + ".uwsgi"
		pass(kp, "uwsgi", x.Pass, true)
		params(kp, "uwsgi", x.Params)
		for _, m := range []struct {
			name string
			v    int
		}{{"modifier1", x.Modifier1}, {"modifier2", x.Modifier2}} {
			if m.v < 0 || m.v > 255 {
				bad(kp+"."+m.name, fmt.Sprintf("uwsgi.%s %d is not 0-255", m.name, m.v), "a modifier is one byte; 0 is WSGI")
			}
		}
		if s := x.MaxVarsSize; s != nil && (s.Bytes < 512 || s.Bytes > 65535) {
			bad(kp+".max_vars_size", "uwsgi.max_vars_size must be from 512 to 65535 bytes", "the protocol's ceiling is 65535; uWSGI's default buffer is 4096")
		}
		positive(kp, dur{"read_timeout", x.ReadTimeout}, dur{"write_timeout", x.WriteTimeout})
	}
	if x := r.CGI; x != nil {
		kp := p + ".cgi"
		switch {
		case x.Root == "" && x.Script == "":
			bad(kp, "cgi: root is missing", "write cgi = { root = \"/srv/cgi-bin\" }, or cgi = { script = \"/usr/lib/cgit/cgit.cgi\" } for one program")
		case x.Root != "" && x.Script != "":
			bad(kp+".script", "cgi: root and script both set", "give root for a directory of scripts, or script for one program that serves the whole route")
		}
		params(kp, "cgi", x.Params)
		for k, e := range x.Env {
			if e == "" || strings.ContainsAny(e, "=\x00") {
				bad(fmt.Sprintf("%s.env[%d]", kp, k), fmt.Sprintf("cgi.env %q is not a variable name", e), "list names such as \"PATH\"")
			}
		}
		if s := x.MaxHeaderBytes; s != nil && s.Bytes < 256 {
			bad(kp+".max_header_bytes", "cgi.max_header_bytes is below 256 bytes", "leave it out for the default (32KiB)")
		}
	}
	app := r.PHP != nil || r.FastCGI != nil || r.UWSGI != nil || r.CGI != nil || r.WSGI != nil
	if x := r.XSendfile; x != nil {
		switch {
		case !app:
			bad(p+".x_sendfile", "x_sendfile needs an application backend on the route", "use it with php, fastcgi, uwsgi, cgi or wsgi")
		case x.Dir == "":
			bad(p+".x_sendfile", "x_sendfile: dir is missing", "write x_sendfile = { dir = \"/srv/downloads\" }")
		}
	}
	if x := r.XAccel; x != nil {
		switch {
		case !app:
			bad(p+".x_accel", "x_accel needs an application backend on the route", "use it with php, fastcgi, uwsgi, cgi or wsgi")
		case x.Dir == "":
			bad(p+".x_accel", "x_accel: dir is missing", "write x_accel = { prefix = \"/protected/\", dir = \"/srv/protected\" }")
		case !strings.HasPrefix(x.Prefix, "/") || !strings.HasSuffix(x.Prefix, "/"):
			bad(p+".x_accel.prefix", fmt.Sprintf("x_accel.prefix %q must start and end with /", x.Prefix), "write prefix = \"/protected/\"")
		}
	}
	return ps
}
