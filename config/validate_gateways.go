package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"

	"gatehouse/internal/httpspec"
	"gatehouse/internal/sockaddr"
	"gatehouse/internal/upstreamspec"
)

// Upstream kinds (Upstream.Kind).
var upstreamKinds = []string{"http", "https", "fastcgi", "uwsgi"}

// ProxyPass is a proxy route's pass, read.
type ProxyPass struct {
	// Upstream is the name of an [[upstream]]; the rest is then empty.
	Upstream string
	// Addr is "host:port" or "unix:/path".
	Addr string
	// TLS: an https:// address.
	TLS bool
}

// ParseProxyPass reads a proxy route's pass: "http://host[:port][/]",
// "https://host[:port][/]", "unix:/path", "host:port", or an [[upstream]]
// name. A URL with a path is refused: the request's own path is passed.
func ParseProxyPass(v string) (ProxyPass, error) {
	scheme, rest, hasScheme := strings.Cut(v, "://")
	if !hasScheme {
		if !IsAddr(v) {
			return ProxyPass{Upstream: v}, nil
		}
		if msg := checkAddr(v); msg != "" {
			return ProxyPass{}, errors.New(msg)
		}
		return ProxyPass{Addr: v}, nil
	}
	var pp ProxyPass
	port := "80"
	switch scheme {
	case "http":
	case "https":
		pp.TLS, port = true, "443"
	default:
		return ProxyPass{}, fmt.Errorf("has scheme %q: want http:// or https://", scheme)
	}
	host, path, _ := strings.Cut(rest, "/")
	if path != "" {
		return ProxyPass{}, errors.New("has a path: the request's own path is passed as it came")
	}
	if strings.ContainsAny(host, "@?#") || host == "" {
		return ProxyPass{}, errors.New("is not http://host:port")
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	if msg := checkAddr(host); msg != "" {
		return ProxyPass{}, errors.New(msg)
	}
	pp.Addr = host
	return pp, nil
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
		if u.Kind != "" && !slices.Contains(upstreamKinds, u.Kind) {
			bad(p+".kind", fmt.Sprintf("upstream.kind %q is not one of %s", u.Kind, strings.Join(upstreamKinds, ", ")),
				"leave it out to let the routes that pass to it decide")
		}
		if (u.TLSCA != "" || u.TLSServerName != "") && u.Kind != "https" {
			bad(p+".kind", "upstream.tls_ca and tls_server_name need kind = \"https\"", "write kind = \"https\" for servers that speak HTTP over TLS")
		}
		if u.TLSCA != "" {
			if _, err := os.Stat(u.TLSCA); err != nil {
				bad(p+".tls_ca", fmt.Sprintf("upstream.tls_ca %q cannot be read", u.TLSCA), "give a PEM file of the CA certificates")
			}
		}
		for _, d := range []struct {
			name string
			v    *Duration
		}{{"dial_timeout", u.DialTimeout}, {"idle_timeout", u.IdleTimeout}, {"down_for", u.DownFor}, {"fail_timeout", u.FailTimeout}} {
			if d.v != nil && d.v.Duration <= 0 {
				bad(p+"."+d.name, "upstream."+d.name+" must be positive", "leave the key out for the default")
			}
		}
		if u.DownFor != nil && u.FailTimeout != nil {
			bad(p+".down_for", "upstream: down_for and fail_timeout are set both", "down_for is fail_timeout's older name: keep fail_timeout")
		}
		if u.MaxFails != nil && *u.MaxFails < 0 {
			bad(p+".max_fails", "upstream.max_fails cannot be negative", "0 turns the counting of failures off; leave it out for the default (1)")
		}
		if u.Balance != "" && !upstreamspec.IsPolicy(u.Balance) {
			bad(p+".balance", fmt.Sprintf("upstream.balance %q is not a balancing policy", u.Balance), "write one of "+strings.Join(upstreamspec.Policies, ", "))
		}
		for _, a := range slices.Sorted(maps.Keys(u.Weights)) {
			w := u.Weights[a]
			switch {
			case !slices.Contains(u.Addrs, a):
				bad(p+".weights."+a, fmt.Sprintf("upstream.weights names %q, which is not in addrs", a), "key each weight by an address as addrs writes it")
			case w < 1 || w > upstreamspec.MaxWeight:
				bad(p+".weights."+a, fmt.Sprintf("upstream.weights: %d for %q is not from 1 to %d", w, a, upstreamspec.MaxWeight), "1 is every address's weight by default; 3 takes three requests for its one")
			}
		}
		if h := u.Health; h != nil {
			ps = append(ps, c.validateHealth(p+".health", h)...)
			if kind := c.gatewayPassingTo(u.Name); h.Kind == "http" && kind != "" {
				bad(p+".health.kind", fmt.Sprintf("upstream.health.kind \"http\" cannot check %q, which %s routes pass to: it does not speak HTTP", u.Name, kind),
					"write kind = \"tcp\": php-fpm speaks FastCGI, uWSGI's socket the uwsgi protocol")
			}
		}
	}
	return ps
}

// gatewayPassingTo returns the kind of the first route that passes to the
// [[upstream]] named name over a protocol that is not HTTP ("php",
// "fastcgi", "uwsgi"), or "".
func (c *Config) gatewayPassingTo(name string) string {
	for _, s := range c.Site {
		for _, r := range s.Route {
			switch {
			case r.PHP != nil && r.PHP.Pass == name:
				return "php"
			case r.FastCGI != nil && r.FastCGI.Pass == name:
				return "fastcgi"
			case r.UWSGI != nil && r.UWSGI.Pass == name:
				return "uwsgi"
			}
		}
	}
	return ""
}

// validateHealth checks an [[upstream]]'s health table at path.
func (c *Config) validateHealth(path string, h *UpstreamHealth) Problems {
	var ps Problems
	bad := func(key, msg, hint string) { ps = append(ps, c.ProblemAt(path+key, msg, hint)) }
	switch h.Kind {
	case "":
		bad("", "upstream.health: kind is missing", "write kind = \"http\" (with path) or kind = \"tcp\"")
	case "http":
		if h.Path != "" && !upstreamspec.ValidPath(h.Path) {
			bad(".path", fmt.Sprintf("upstream.health.path %q is not a path", h.Path), "write a path such as \"/healthz\", percent-encoded")
		}
		if h.Host != "" && !httpspec.ValidHost(h.Host) {
			bad(".host", fmt.Sprintf("upstream.health.host %q is not a host name", h.Host), "write a name such as \"app.example.com\"")
		}
		if h.ExpectStatus != "" {
			if _, err := upstreamspec.ParseStatus(h.ExpectStatus); err != nil {
				bad(".expect_status", fmt.Sprintf("upstream.health.expect_status %q is %v", h.ExpectStatus, err), "write \"200\", or \"2xx\" for any success")
			}
		}
		if _, err := regexp.Compile(h.ExpectBody); err != nil {
			bad(".expect_body", "upstream.health.expect_body is not a regular expression: "+err.Error(), "RE2 syntax, as Go's regexp package reads it")
		}
		for _, k := range []struct{ name, v string }{{"send", h.Send}, {"expect", h.Expect}} {
			if k.v != "" {
				bad("."+k.name, "upstream.health."+k.name+" is for kind = \"tcp\"", "an http check sends its request and checks expect_status and expect_body")
			}
		}
	case "tcp":
		for _, k := range []struct{ name, v string }{{"path", h.Path}, {"host", h.Host}, {"expect_status", h.ExpectStatus}, {"expect_body", h.ExpectBody}} {
			if k.v != "" {
				bad("."+k.name, "upstream.health."+k.name+" is for kind = \"http\"", "a tcp check connects, sends send and waits for expect")
			}
		}
		if len(h.Expect) > upstreamspec.MaxCheckBytes {
			bad(".expect", "upstream.health.expect is longer than 64KiB", "expect a few bytes of a banner or an answer")
		}
	default:
		bad(".kind", fmt.Sprintf("upstream.health.kind %q is not a kind of check", h.Kind), "write \"http\" or \"tcp\"")
	}
	for _, d := range []struct {
		name string
		v    *Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}} {
		if d.v != nil && d.v.Duration <= 0 {
			bad("."+d.name, "upstream.health."+d.name+" must be positive", "leave the key out for the default")
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"rise", h.Rise}, {"fall", h.Fall}} {
		if n.v < 0 || n.v > upstreamspec.MaxRiseFall {
			bad("."+n.name, fmt.Sprintf("upstream.health.%s %d is not from 1 to %d", n.name, n.v, upstreamspec.MaxRiseFall), "leave it out for the default (rise 2, fall 3)")
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
					if u.Kind != "" && u.Kind != kind && !(kind == "php" && u.Kind == "fastcgi") {
						bad(kp+".pass", fmt.Sprintf("%s.pass %q names an upstream of kind %q", kind, v, u.Kind),
							"pass to an [[upstream]] that speaks "+kind)
					}
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
	if x := r.Proxy; x != nil {
		kp := p + ".proxy"
		switch pp, err := ParseProxyPass(x.Pass); {
		case x.Pass == "":
			bad(kp, "proxy: pass is missing", "write pass = \"http://127.0.0.1:3000\", \"unix:/run/app.sock\" or the name of an [[upstream]]")
		case err != nil:
			bad(kp+".pass", fmt.Sprintf("proxy.pass %q %s", x.Pass, err), "write \"http://host:port\", \"https://host:port\", \"unix:/path\" or the name of an [[upstream]]")
		case pp.Upstream != "":
			found := false
			for _, u := range c.Upstream {
				if u.Name == pp.Upstream {
					found = true
					if u.Kind != "" && u.Kind != "http" && u.Kind != "https" {
						bad(kp+".pass", fmt.Sprintf("proxy.pass %q names an upstream of kind %q", pp.Upstream, u.Kind),
							"pass to an [[upstream]] of kind \"http\" or \"https\"")
					}
				}
			}
			if !found {
				bad(kp+".pass", fmt.Sprintf("proxy.pass %q names no [[upstream]]", x.Pass), "define [[upstream]] name = \""+x.Pass+"\", or give an address (\"http://host:port\")")
			}
		}
		if x.Host != "" && !httpspec.ValidHost(x.Host) {
			bad(kp+".host", fmt.Sprintf("proxy.host %q is not a host name (with an optional port)", x.Host), "write host = \"app.internal\"")
		}
		for k, u := range x.Upgrade {
			if strings.EqualFold(u, "h2c") || u == "" || strings.ContainsAny(u, " \t,/;\"") {
				bad(fmt.Sprintf("%s.upgrade[%d]", kp, k), fmt.Sprintf("proxy.upgrade %q cannot be allowed", u),
					"list protocol names such as \"websocket\"; h2c never passes a proxy")
			}
		}
		positive(kp, dur{"read_timeout", x.ReadTimeout}, dur{"write_timeout", x.WriteTimeout},
			dur{"tunnel_idle", x.TunnelIdle}, dur{"retry_window", x.RetryWindow})
		if s := x.MaxResponseHeader; s != nil && (s.Bytes < 1024 || s.Bytes > 1<<20) {
			bad(kp+".max_response_header", "proxy.max_response_header must be from 1KiB to 1MiB", "leave it out for the default (64KiB)")
		}
		if x.Retries != nil && (*x.Retries < 0 || *x.Retries > 10) {
			bad(kp+".retries", fmt.Sprintf("proxy.retries %d is not 0-10", *x.Retries), "0 never retries; the default is 1")
		}
	}
	app := r.PHP != nil || r.FastCGI != nil || r.UWSGI != nil || r.CGI != nil || r.WSGI != nil || r.Proxy != nil
	if x := r.XSendfile; x != nil {
		switch {
		case !app:
			bad(p+".x_sendfile", "x_sendfile needs an application backend on the route", "use it with php, fastcgi, uwsgi, cgi, wsgi or proxy")
		case x.Dir == "":
			bad(p+".x_sendfile", "x_sendfile: dir is missing", "write x_sendfile = { dir = \"/srv/downloads\" }")
		}
	}
	if x := r.XAccel; x != nil {
		switch {
		case !app:
			bad(p+".x_accel", "x_accel needs an application backend on the route", "use it with php, fastcgi, uwsgi, cgi, wsgi or proxy")
		case x.Dir == "":
			bad(p+".x_accel", "x_accel: dir is missing", "write x_accel = { prefix = \"/protected/\", dir = \"/srv/protected\" }")
		case !strings.HasPrefix(x.Prefix, "/") || !strings.HasSuffix(x.Prefix, "/"):
			bad(p+".x_accel.prefix", fmt.Sprintf("x_accel.prefix %q must start and end with /", x.Prefix), "write prefix = \"/protected/\"")
		}
	}
	return ps
}
