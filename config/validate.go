package config

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	"gatehouse/internal/httpspec"
	"gatehouse/internal/sockaddr"
)

// loc is set by Parse; Configs built from flags have none.
func (c *Config) lineOf(path string) int {
	if c.loc == nil {
		return 0
	}
	return c.loc.line(path)
}

// ProblemAt returns a problem at the line of a key path such as
// "site[0].route[2].static.root".
func (c *Config) ProblemAt(path, msg, hint string) Problem {
	return Problem{File: c.File, Line: c.lineOf(path), Msg: msg, Hint: hint}
}

func (c *Config) fillLines() {
	for i := range c.Listen {
		c.Listen[i].Line = c.lineOf(fmt.Sprintf("listen[%d]", i))
	}
	for i := range c.Upstream {
		c.Upstream[i].Line = c.lineOf(fmt.Sprintf("upstream[%d]", i))
	}
	for i := range c.Site {
		c.Site[i].Line = c.lineOf(fmt.Sprintf("site[%d]", i))
		for j := range c.Site[i].Route {
			c.Site[i].Route[j].Line = c.lineOf(fmt.Sprintf("site[%d].route[%d]", i, j))
		}
	}
}

// Validate checks everything that can be checked without the filesystem and
// returns the problems found (nil if none). Parse calls it; call it again after
// building a Config in code.
func (c *Config) Validate() error { return c.validate().Err() }

func (c *Config) validate() Problems {
	var ps Problems
	bad := func(path, msg, hint string) { ps = append(ps, c.ProblemAt(path, msg, hint)) }
	oneOf := func(path, v string, allowed ...string) {
		if v == "" {
			return
		}
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(path, fmt.Sprintf("%s %q is not one of %s", path, v, strings.Join(allowed, ", ")),
			"use "+strconv.Quote(allowed[0])+", or leave the key out for the default")
	}

	oneOf("server.engine", c.Server.Engine, "epoll", "goroutine")
	oneOf("server.accept", c.Server.Accept, "shared", "reuseport")
	if c.Server.MaxConns < 0 {
		bad("server.max_conns", "server.max_conns cannot be negative", "0 means no limit")
	}
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")
	if f := c.AccessLog.Format; f != "" && f != "combined" && f != "json" {
		if _, ok := c.AccessLog.Formats[f]; !ok {
			bad("access_log.format", fmt.Sprintf("access_log.format %q is not combined, json or a name in access_log.formats", f),
				"use \"combined\" or \"json\", or define it: formats = { "+strconv.Quote(f)+" = \"$remote_addr ... $status\" }")
		}
	}
	for _, name := range sortedKeys(c.AccessLog.Formats) {
		if name == "combined" || name == "json" || name == "" {
			bad("access_log.formats", fmt.Sprintf("access_log.formats: %q is a built-in format's name", name), "give yours another name")
		}
	}
	c.validateHTTP(bad)
	c.validateRequestID(bad)
	if n := c.HTTP2.MaxConcurrentStreams; n != nil && (*n < 1 || *n > 1<<20) {
		bad("http2.max_concurrent_streams", fmt.Sprintf("http2.max_concurrent_streams %d is not from 1 to 1048576", *n), "leave it out for 250")
	}
	if f := c.HTTP2.MaxFrameSize; f != nil && (f.Bytes < 16<<10 || f.Bytes > 1<<24-1) {
		bad("http2.max_frame_size", fmt.Sprintf("http2.max_frame_size %d is not from 16 KiB to 16 MiB - 1 (RFC 9113 §6.5.2)", f.Bytes), "leave it out for 1 MiB")
	}

	if len(c.Listen) == 0 {
		ps = append(ps, Problem{File: c.File, Msg: "no [[listen]] section: gatehouse would not accept anything",
			Hint: "add one: [[listen]] addr = \"127.0.0.1:8000\""})
	}
	addrs := map[string]int{}
	for i, l := range c.Listen {
		p := fmt.Sprintf("listen[%d]", i)
		switch err := sockaddr.CheckListen(l.Addr); {
		case l.Addr == "":
			bad(p, "listen: addr is missing", "write addr = \":8000\" or addr = \"unix:/run/gatehouse.sock\"")
		case errors.Is(err, sockaddr.ErrNoPath):
			bad(p+".addr", "listen.addr "+strconv.Quote(l.Addr)+": a Unix socket needs a path", "write addr = \"unix:/run/gatehouse.sock\"")
		case errors.Is(err, sockaddr.ErrNotHostPort):
			bad(p+".addr", "listen.addr "+strconv.Quote(l.Addr)+" is not host:port", "write \"127.0.0.1:8000\", \":8000\", \"[::1]:8000\" or \"unix:/path\"")
		case errors.Is(err, sockaddr.ErrPort):
			bad(p+".addr", "listen.addr "+strconv.Quote(l.Addr)+": port must be 0-65535", "a port is a number from 0 to 65535")
		}
		if prev, dup := addrs[l.Addr]; dup && l.Addr != "" {
			bad(p+".addr", fmt.Sprintf("listen.addr %q is already used by listen[%d]", l.Addr, prev), "remove one of them")
		}
		addrs[l.Addr] = i
		if l.Mode != "" {
			if m, err := strconv.ParseUint(l.Mode, 8, 32); err != nil || m > 0o777 {
				bad(p+".mode", fmt.Sprintf("listen.mode %q is not an octal file mode", l.Mode), "write it like \"0660\"")
			} else if network, _ := sockaddr.Split(l.Addr); network != "unix" {
				bad(p+".mode", "listen.mode applies only to Unix sockets", "remove it, or use addr = \"unix:/path\"")
			}
		}
		if l.Owner != "" {
			if network, _ := sockaddr.Split(l.Addr); network != "unix" {
				bad(p+".owner", "listen.owner applies only to Unix sockets", "remove it, or use addr = \"unix:/path\"")
			}
		}
		if l.Protocol != "" && l.Protocol != "http" && l.Protocol != "uwsgi" {
			bad(p+".protocol", fmt.Sprintf("listen.protocol %q is not http or uwsgi", l.Protocol), "use \"uwsgi\" behind nginx's uwsgi_pass, or leave the key out for HTTP")
		}
		if len(l.Allow) > 0 && l.Protocol != "uwsgi" {
			bad(p+".allow", "listen.allow applies only to uwsgi listeners", "remove it, or set protocol = \"uwsgi\"")
		} else if network, _ := sockaddr.Split(l.Addr); len(l.Allow) > 0 && network == "unix" {
			bad(p+".allow", "listen.allow applies only to TCP listeners", "a Unix socket serves whoever may connect: use mode and owner")
		}
		for k, a := range l.Allow {
			if _, err := sockaddr.ParsePrefix(a); err != nil {
				bad(fmt.Sprintf("%s.allow[%d]", p, k), "listen.allow: "+err.Error(), "write \"10.0.0.0/8\" or \"192.0.2.7\"")
			}
		}
		c.validateProxy(p, l, bad)
		ps = append(ps, c.validateTLS(i, l)...)
	}

	ps = append(ps, c.validateUpstreams()...)
	ps = append(ps, c.validateACME()...)
	if len(c.Site) == 0 {
		ps = append(ps, Problem{File: c.File, Msg: "no [[site]] section: there is nothing to serve",
			Hint: "add one: [[site]] then [[site.route]] path = \"/\" with a backend such as static = { root = \"/srv/www\" }"})
	}
	hosts := map[string]int{}
	defaults := []int{}
	for i, s := range c.Site {
		p := fmt.Sprintf("site[%d]", i)
		if len(s.Hosts) == 0 || s.Default {
			defaults = append(defaults, i)
		}
		for j, h := range s.Hosts {
			hp := fmt.Sprintf("%s.hosts[%d]", p, j)
			norm := strings.ToLower(strings.TrimSuffix(h, "."))
			if msg, hint := checkHost(norm); msg != "" {
				if hint == "" {
					hint = "a host is a name such as \"example.com\", a wildcard such as \"*.example.com\", or an address"
				}
				bad(hp, fmt.Sprintf("site.hosts %q: %s", h, msg), hint)
				continue
			}
			if prev, dup := hosts[norm]; dup {
				bad(hp, fmt.Sprintf("site.hosts %q is also a host of site[%d]", h, prev), "a host belongs to one site")
			}
			hosts[norm] = i
		}
		if h := s.Headers; h != nil {
			c.validateHeaders(p+".headers", h, bad)
		}
		if s.HSTS != "" {
			if msg, hint := checkHSTS(s.HSTS); msg != "" {
				bad(p+".hsts", fmt.Sprintf("site.hsts %q: %s", s.HSTS, msg), hint)
			}
		}
		for _, code := range sortedKeys(s.ErrorPages) {
			file := s.ErrorPages[code]
			ep := p + ".error_pages." + code
			if n, err := strconv.Atoi(code); err != nil || n < 400 || n > 599 {
				bad(ep, fmt.Sprintf("site.error_pages %q is not an error status", code), "use a status from 400 to 599, such as \"404\"")
			}
			if file == "" {
				bad(ep, "site.error_pages."+code+" names no file", "give the path of an HTML file")
			}
		}
		if len(s.Route) == 0 {
			bad(p, "site has no routes", "add [[site.route]] with a path and a backend")
		}
		ps = append(ps, c.validateSecurity(p, s.Session, s.CSRF, true, false, false)...)
		paths := map[string]int{}
		for j, r := range s.Route {
			ps = append(ps, c.validateRoute(fmt.Sprintf("%s.route[%d]", p, j), r)...)
			ps = append(ps, c.validateSecurity(fmt.Sprintf("%s.route[%d]", p, j), r.Session, r.CSRF, false, s.Session != nil, s.CSRF != nil)...)
			if prev, dup := paths[r.Path]; dup && r.Path != "" {
				bad(fmt.Sprintf("%s.route[%d].path", p, j), fmt.Sprintf("route.path %q is already routed by route[%d]", r.Path, prev), "merge the two routes")
			}
			paths[r.Path] = j
		}
	}
	if len(defaults) > 1 {
		for _, i := range defaults[1:] {
			bad(fmt.Sprintf("site[%d]", i), fmt.Sprintf("more than one default site (site[%d] and site[%d])", defaults[0], i),
				"a site without hosts, or with default = true, is the default; keep one")
		}
	}
	return ps
}

func (c *Config) validateRoute(p string, r Route) Problems {
	var ps Problems
	bad := func(path, msg, hint string) { ps = append(ps, c.ProblemAt(path, msg, hint)) }
	switch {
	case r.Path == "":
		bad(p, "route: path is missing", "write path = \"/\" (a prefix ends with /) or path = \"/exact\"")
	case !strings.HasPrefix(r.Path, "/"):
		bad(p+".path", fmt.Sprintf("route.path %q does not start with /", r.Path), "write \"/"+r.Path+"\"")
	}
	for k, m := range r.Methods {
		if !httpspec.IsMethod(m) {
			bad(fmt.Sprintf("%s.methods[%d]", p, k), fmt.Sprintf("route.methods: unknown method %q", m), "methods are upper case, such as \"GET\"")
		}
	}
	n := 0
	for _, b := range Backends {
		if b.Set(&r) {
			n++
		}
	}
	switch {
	case n == 0:
		bad(p, "route "+strconv.Quote(r.Path)+" has no backend", "set one of "+backendKeys())
	case n > 1:
		bad(p, "route "+strconv.Quote(r.Path)+" has more than one backend", "keep one of "+backendKeys())
	}
	if s := r.Static; s != nil && s.Root == "" {
		bad(p+".static", "static: root is missing", "write static = { root = \"/srv/www\" }")
	}
	if rd := r.Redirect; rd != nil {
		if rd.To == "" {
			bad(p+".redirect", "redirect: to is missing", "write redirect = { to = \"https://example.com{uri}\" }")
		} else if !strings.HasPrefix(rd.To, "/") && !strings.HasPrefix(rd.To, "{") && !strings.Contains(rd.To, "://") {
			bad(p+".redirect.to", fmt.Sprintf("redirect.to %q is neither a URL nor a path", rd.To), "write \"https://host/path\" or \"/path\"")
		}
		switch rd.Status {
		case 0, 301, 302, 303, 307, 308:
		default:
			bad(p+".redirect.status", fmt.Sprintf("redirect.status %d is not a redirect", rd.Status), "use 301, 302, 303, 307 or 308")
		}
	}
	if w := r.WSGI; w != nil {
		ps = append(ps, c.validateWSGI(p+".wsgi", r.Path, w)...)
	}
	if !r.IsApplication() {
		for _, k := range []struct {
			key string
			set bool
		}{{"request_buffering", r.RequestBuffering != nil}, {"response_buffering", r.ResponseBuffering != nil}} {
			if k.set {
				bad(p+"."+k.key, "route."+k.key+" applies only to application backends", "remove it; it means something with wsgi, php, fastcgi, uwsgi or cgi")
			}
		}
	}
	ps = append(ps, c.validateGateways(p, r)...)
	if x := r.Compress; x != nil {
		c.validateCompress(p+".compress", x, bad)
	}
	if h := r.Headers; h != nil {
		c.validateHeaders(p+".headers", h, bad)
	}
	if l := r.Limits; l != nil {
		c.validateLimits(p+".limits", l, bad)
	}
	if rs := r.Respond; rs != nil {
		if rs.Status != 0 && (rs.Status < 200 || rs.Status > 599) {
			bad(p+".respond.status", fmt.Sprintf("respond.status %d is not a final status", rs.Status), "use a status from 200 to 599")
		}
		if (rs.Status == 204 || rs.Status == 304) && rs.Body != "" {
			bad(p+".respond.body", fmt.Sprintf("respond.status %d never has a body", rs.Status), "remove the body, or use another status")
		}
		for _, name := range sortedKeys(rs.Headers) {
			value := rs.Headers[name]
			if !httpspec.IsToken(name) {
				bad(p+".respond.headers", fmt.Sprintf("respond.headers: %q is not a field name", name), "field names are letters, digits and - (no spaces)")
			}
			if strings.ContainsAny(value, "\r\n\x00") {
				bad(p+".respond.headers."+name, fmt.Sprintf("respond.headers.%s holds a line break", name), "put the value on one line")
			}
		}
	}
	return ps
}

func (c *Config) validateHTTP(bad func(path, msg, hint string)) {
	h := c.HTTP
	sizes := []struct {
		name string
		v    *Size
		min  int64
	}{
		{"max_request_line", h.MaxRequestLine, 64}, {"max_header_bytes", h.MaxHeaderBytes, 256},
		{"max_field_bytes", h.MaxFieldBytes, 64}, {"max_body", h.MaxBody, 0},
		{"body_buffer", h.BodyBuffer, 1024}, {"response_buffer", h.ResponseBuffer, 1024},
		{"max_temp_file", h.MaxTempFile, 0},
	}
	for _, s := range sizes {
		if s.v != nil && s.v.Bytes < s.min {
			bad("http."+s.name, fmt.Sprintf("http.%s is below %d bytes", s.name, s.min), "raise it, or leave the key out for the default")
		}
	}
	if h.MaxFields != nil && *h.MaxFields < 1 {
		bad("http.max_fields", "http.max_fields must be at least 1", "the default is 100")
	}
	if h.MaxRequestsPerConn != nil && *h.MaxRequestsPerConn < 0 {
		bad("http.max_requests_per_conn", "http.max_requests_per_conn cannot be negative", "0 means no limit")
	}
	for _, t := range h.TrustedProxies {
		if t == "unix" || t == "private_ranges" {
			continue
		}
		if _, err := sockaddr.ParsePrefix(t); err != nil {
			bad("http.trusted_proxies", "http.trusted_proxies: "+err.Error(),
				`write addresses ("10.0.0.5"), ranges ("10.0.0.0/8"), "private_ranges" or "unix"`)
		}
	}
}

// checkHost validates a site host: a DNS name, an IP address, or "*." and a name.
func checkHost(h string) (msg, hint string) {
	if h == "" {
		return "empty host", ""
	}
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") && net.ParseIP(h) == nil {
		return "hosts do not carry ports", "write the name alone; the site answers on every listener"
	}
	if strings.HasPrefix(h, "[") {
		if !strings.HasSuffix(h, "]") || net.ParseIP(h[1:len(h)-1]) == nil {
			return "not an IPv6 address in brackets", ""
		}
		return "", ""
	}
	name := strings.TrimPrefix(h, "*.")
	if strings.Contains(name, "*") {
		return "a wildcard is only allowed as a leading \"*.\"", "write \"*.example.com\""
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return "not a valid host name", ""
		}
		for _, ch := range label {
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
				return fmt.Sprintf("not a valid host name (%q)", ch), ""
			}
		}
	}
	return "", ""
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *Config) validateWSGI(p, routePath string, w *WSGI) Problems {
	var ps Problems
	bad := func(path, msg, hint string) { ps = append(ps, c.ProblemAt(path, msg, hint)) }
	if w.App == "" {
		bad(p, "wsgi: app is missing", "write wsgi = { app = \"myproject.wsgi:application\" }")
	} else if !validAppSpec(w.App) {
		bad(p+".app", fmt.Sprintf("wsgi.app %q is not module:callable", w.App), "write it as gunicorn does: \"package.module:app\"")
	}
	if w.Python != "" && w.Venv != "" {
		bad(p+".python", "wsgi: python and venv both name an interpreter", "keep one: venv uses its bin/python")
	}
	for _, name := range sortedKeys(w.Env) {
		if name == "" || strings.ContainsAny(name, "=\x00") || strings.ContainsRune(w.Env[name], 0) {
			bad(p+".env", fmt.Sprintf("wsgi.env: %q is not a variable name", name), "names are letters, digits and _")
		}
	}
	ints := []struct {
		name string
		v    int
	}{{"workers", w.Workers}, {"threads", w.Threads}, {"max_requests", w.MaxRequests}, {"max_requests_jitter", w.MaxRequestsJitter}}
	for _, n := range ints {
		if n.v < 0 {
			bad(p+"."+n.name, fmt.Sprintf("wsgi.%s cannot be negative", n.name), "leave the key out for the default")
		}
	}
	if w.Threads > 256 {
		bad(p+".threads", fmt.Sprintf("wsgi.threads %d is more than 256", w.Threads), "add workers instead: Python runs one thread at a time")
	}
	if q := w.WorkerQueue; q != nil && (*q < 0 || *q > 7) {
		bad(p+".worker_queue", fmt.Sprintf("wsgi.worker_queue %d is not between 0 and 7", *q), "0 turns the queue off; 7 is the default")
	}
	if w.MaxRequestsJitter > 0 && w.MaxRequests == 0 {
		bad(p+".max_requests_jitter", "wsgi.max_requests_jitter without max_requests", "set max_requests too, or remove the jitter")
	}
	for _, d := range []struct {
		name string
		v    *Duration
	}{{"queue_timeout", w.QueueTimeout}, {"start_timeout", w.StartTimeout}, {"graceful_timeout", w.GracefulTimeout}} {
		if d.v != nil && d.v.Duration <= 0 {
			bad(p+"."+d.name, "wsgi."+d.name+" must be positive", "leave the key out for the default")
		}
	}
	if sn := w.ScriptName; sn != nil && *sn != "" {
		switch {
		case !strings.HasPrefix(*sn, "/") || strings.HasSuffix(*sn, "/"):
			bad(p+".script_name", fmt.Sprintf("wsgi.script_name %q must start with / and not end with one", *sn), "write \"/app\", or \"\" for the root")
		case !strings.HasPrefix(strings.TrimSuffix(routePath, "/")+"/", *sn+"/"):
			bad(p+".script_name", fmt.Sprintf("wsgi.script_name %q is not a prefix of the route's path %q", *sn, routePath), "requests outside the mount point would all be 404")
		}
	}
	return ps
}

// validAppSpec accepts "module", "pkg.module:obj" and "pkg.module:obj.attr".
func validAppSpec(s string) bool {
	module, attr, hasAttr := strings.Cut(s, ":")
	ok := func(dotted string) bool {
		for _, part := range strings.Split(dotted, ".") {
			if part == "" {
				return false
			}
			for i, r := range part {
				if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' || r > 127) {
					return false
				}
			}
		}
		return true
	}
	return ok(module) && (!hasAttr || ok(attr))
}
