package server

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gatehouse/backend/cgi"
	"gatehouse/backend/fastcgi"
	"gatehouse/backend/static"
	"gatehouse/backend/uwsgi"
	"gatehouse/config"
	"gatehouse/middleware/xsendfile"
	"gatehouse/upstream"
	"gatehouse/web"
)

// DefaultPHPPass is php-fpm's socket on Debian and Ubuntu (the alternatives
// link to the installed version's pool), the default of php.pass and --php.
const DefaultPHPPass = "unix:/run/php/php-fpm.sock"

// routeProblem is a route whose backend cannot be built, with the key (below
// the route) to blame.
type routeProblem struct {
	key, hint string
	err       error
}

func (p *routeProblem) Error() string { return p.err.Error() }
func (p *routeProblem) Unwrap() error { return p.err }

// checkDir reports why dir is not a directory gatehouse can serve from.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil && !fi.IsDir() {
		return errNotDir
	}
	return err
}

var errNotDir = errors.New("not a directory")

// dirProblem words a directory key that cannot be used, naming the directory
// as the file does.
func dirProblem(key, dir string, err error) error {
	if cerr := checkDir(dir); cerr != nil {
		err = cerr
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &routeProblem{key, "create the directory, or fix the path", fmt.Errorf("%s %q does not exist", key, dir)}
	case errors.Is(err, errNotDir):
		return &routeProblem{key, "give a directory", fmt.Errorf("%s %q is not a directory", key, dir)}
	case errors.Is(err, os.ErrPermission):
		return &routeProblem{key, "check its permissions for the user gatehouse runs as", fmt.Errorf("%s %q cannot be read", key, dir)}
	}
	return &routeProblem{key, "", fmt.Errorf("%s %q: %w", key, dir, err)}
}

// upstreams builds the pools of the [[upstream]] tables, shared by the routes
// that pass to them. gatehouse check builds them without health checks: it
// has no side effects (host names are resolved, as nginx -t does).
// Each that cannot be built is reported through problem, at its addrs (the
// names that do not resolve, mostly).
func (b *Built) upstreams(cfg *config.Config, opt BuildOptions, problem func(path, msg, hint string)) {
	b.pools = map[string]*upstream.Pool{}
	for i, u := range cfg.Upstream {
		uc := UpstreamConfig(u)
		uc.Logger = b.Logger
		if opt.Check {
			uc.Health = nil
		}
		if u.Kind == "http" || u.Kind == "https" {
			if err := httpUpstream(u, &uc); err != nil {
				problem(fmt.Sprintf("upstream[%d].tls_ca", i), fmt.Sprintf("upstream %q: %v", u.Name, err),
					"give a PEM file of the CA certificates that sign the upstream's")
				continue
			}
		}
		p, err := upstream.New(uc)
		if err != nil {
			problem(fmt.Sprintf("upstream[%d].addrs", i), fmt.Sprintf("upstream %q: %v", u.Name, err),
				"check that each host name resolves here (/etc/hosts or DNS), or give IP addresses")
			continue
		}
		b.pools[u.Name] = p
		b.closers = append(b.closers, p.Close)
	}
}

// UpstreamConfig maps an [[upstream]] table onto upstream.Config. max_fails
// = 0 turns passive health off (negative MaxFails); weights, keyed by
// address, become Weights in the order of addrs.
func UpstreamConfig(u config.Upstream) upstream.Config {
	c := upstream.Config{Addrs: u.Addrs, MaxConns: u.MaxConns, MaxIdle: u.MaxIdle, MaxQueue: u.MaxQueue, Balance: u.Balance}
	durSet(&c.IdleTimeout, u.IdleTimeout)
	durSet(&c.DialTimeout, u.DialTimeout)
	durSet(&c.FailTimeout, u.DownFor) // fail_timeout's older name (validation refuses both)
	durSet(&c.FailTimeout, u.FailTimeout)
	c.QueueTimeout = dur(u.QueueTimeout, -1) // "0s": no waiting
	if u.MaxFails != nil {
		c.MaxFails = *u.MaxFails
		if c.MaxFails == 0 {
			c.MaxFails = -1
		}
	}
	if len(u.Weights) > 0 {
		c.Weights = make([]int, len(u.Addrs))
		for i, a := range u.Addrs {
			c.Weights[i] = u.Weights[a] // absent: 0, the default weight
		}
	}
	if h := u.Health; h != nil {
		hc := &upstream.HealthCheck{Kind: h.Kind, Path: h.Path, Host: h.Host, ExpectStatus: h.ExpectStatus,
			ExpectBody: h.ExpectBody, Send: h.Send, Expect: h.Expect, Rise: h.Rise, Fall: h.Fall}
		durSet(&hc.Interval, h.Interval)
		durSet(&hc.Timeout, h.Timeout)
		c.Health = hc
	}
	return c
}

// pass resolves a route's pass: a shared pool for an [[upstream]] name, or the
// configuration of a pool of its own for an address. An [[upstream]] that
// could not be built was reported already: errReported.
func (b *Built) pass(v string) (*upstream.Pool, upstream.Config, error) {
	if config.IsAddr(v) {
		return nil, upstream.Config{Addrs: []string{v}}, nil
	}
	p := b.pools[v] // Validate checked the name
	if p == nil {
		return nil, upstream.Config{}, errReported
	}
	return p, upstream.Config{}, nil
}

// errReported is a route's failure already reported elsewhere (the
// [[upstream]] it passes to): Build adds no problem of its own for it.
var errReported = errors.New("reported already")

// passProblem blames a route's pass for an address its pool cannot use (a
// host name that does not resolve), or returns nil.
func passProblem(kind string, err error) error {
	var ae *upstream.AddrError
	if !errors.As(err, &ae) {
		return nil
	}
	return &routeProblem{kind + ".pass", "check that the host name resolves here (/etc/hosts or DNS), or give an IP address", err}
}

// paramsHint is the hint for a FastCGI parameter that cannot be sent.
const paramsHint = `names are letters, digits and _; PHP_VALUE takes several settings one per line, "a=1\nb=2"`

func params(m map[string]string) [][2]string {
	var out [][2]string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, [2]string{k, m[k]})
	}
	return out
}

// php serves a PHP site: scripts through php-fpm, other files from the same
// root by the static backend, unknown paths through the front controller.
func (b *Built) php(rc *routeCtx) (web.Handler, error) {
	r := rc.r
	x := r.PHP
	pass := x.Pass
	if pass == "" {
		pass = DefaultPHPPass
	}
	pool, uc, err := b.pass(pass)
	if err != nil {
		return nil, err
	}
	fc, err := fastcgi.New(fastcgi.Config{
		Pool: pool, Upstream: uc, Prefix: r.Path, Root: x.Root, PHP: true,
		Index: x.Index, Fallback: x.Fallback, Params: params(x.Params),
		ReadTimeout: dur(x.ReadTimeout, 0), WriteTimeout: dur(x.WriteTimeout, 0), Timeout: dur(x.Timeout, -1),
		NoKeepConn: !x.KeepConn, MaxSpoolBytes: b.spoolMax, SpoolDir: b.tempDir, Logger: b.Logger,
	})
	if perr := passProblem("php", err); perr != nil {
		return nil, perr
	}
	if pe := (*fastcgi.ParamError)(nil); errors.As(err, &pe) {
		return nil, &routeProblem{"php.params", paramsHint, fmt.Errorf("php.params: %q %s", pe.Name, pe.Reason)}
	}
	if err != nil {
		return nil, dirProblem("php.root", x.Root, err)
	}
	b.closers = append(b.closers, fc.Close)
	files, err := static.New(static.Config{Root: x.Root, Prefix: r.Path, CacheControl: x.CacheControl})
	if err != nil {
		return nil, dirProblem("php.root", x.Root, err)
	}
	b.closers = append(b.closers, files.Close)
	return &phpSite{scripts: b.buffering(r).Wrap(fc), files: files}, nil
}

// phpSite tries the scripts first: the FastCGI handler returns web.ErrNotFound,
// having written nothing, exactly for an existing file that is not a script,
// which the files handler then sends.
type phpSite struct {
	scripts, files web.Handler
}

func (p *phpSite) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	err := p.scripts.ServeHTTP(w, r)
	if errors.Is(err, web.ErrNotFound) {
		return p.files.ServeHTTP(w, r)
	}
	return err
}

func (b *Built) fastCGI(rc *routeCtx) (web.Handler, error) {
	r := rc.r
	x := r.FastCGI
	pool, uc, err := b.pass(x.Pass)
	if err != nil {
		return nil, err
	}
	h, err := fastcgi.New(fastcgi.Config{
		Pool: pool, Upstream: uc, Prefix: prefixOf(r.Path), Root: x.Root, Script: x.Script,
		Params:      params(x.Params),
		ReadTimeout: dur(x.ReadTimeout, 0), WriteTimeout: dur(x.WriteTimeout, 0), Timeout: dur(x.Timeout, -1),
		NoKeepConn: !x.KeepConn, MaxSpoolBytes: b.spoolMax, SpoolDir: b.tempDir, Logger: b.Logger,
	})
	if perr := passProblem("fastcgi", err); perr != nil {
		return nil, perr
	}
	if pe := (*fastcgi.ParamError)(nil); errors.As(err, &pe) {
		return nil, &routeProblem{"fastcgi.params", paramsHint, fmt.Errorf("fastcgi.params: %q %s", pe.Name, pe.Reason)}
	}
	if err != nil {
		return nil, &routeProblem{"fastcgi", "", err}
	}
	b.closers = append(b.closers, h.Close)
	return h, nil
}

// prefixOf is the mount point of a route: its path when it is a prefix ("/app/"),
// the root for an exact path.
func prefixOf(path string) string {
	if strings.HasSuffix(path, "/") {
		return path
	}
	return "/"
}

func (b *Built) uwsgi(rc *routeCtx) (web.Handler, error) {
	r := rc.r
	x := r.UWSGI
	pool, uc, err := b.pass(x.Pass)
	if err != nil {
		return nil, err
	}
	c := uwsgi.Config{
		Pool: pool, Upstream: uc, Mount: strings.TrimSuffix(prefixOf(r.Path), "/"),
		Modifier1: uint8(x.Modifier1), Modifier2: uint8(x.Modifier2), Params: params(x.Params),
		ReadTimeout: dur(x.ReadTimeout, 0), WriteTimeout: dur(x.WriteTimeout, 0),
		MaxBodyBytes: b.spoolMax, SpoolDir: b.tempDir, Logger: b.Logger,
	}
	if x.MaxVarsSize != nil {
		c.MaxVarsBytes = int(x.MaxVarsSize.Bytes)
	}
	h, err := uwsgi.New(c)
	if perr := passProblem("uwsgi", err); perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, &routeProblem{"uwsgi", "", err}
	}
	b.closers = append(b.closers, h.Close)
	return h, nil
}

func (b *Built) cgi(rc *routeCtx) (web.Handler, error) {
	r, site := rc.r, rc.site
	x := r.CGI
	c := cgi.Config{
		Root: x.Root, Prefix: prefixOf(r.Path), WorkDir: x.WorkDir, Env: x.Env, Params: params(x.Params),
		Timeout: dur(x.Timeout, -1), NPH: x.NPH, LocalRedirect: site, MaxBodyBytes: b.spoolMax, SpoolDir: b.tempDir, Logger: b.Logger,
	}
	if x.WorkDir != "" {
		if err := checkDir(x.WorkDir); err != nil {
			return nil, dirProblem("cgi.workdir", x.WorkDir, err)
		}
	}
	if x.MaxHeaderBytes != nil {
		c.MaxHeaderBytes = int(x.MaxHeaderBytes.Bytes)
	}
	if x.Script != "" {
		// One program for the whole route: mounted at its path, exact or
		// a prefix ("/status" is SCRIPT_NAME "/status").
		c.Script, c.Prefix = x.Script, strings.TrimSuffix(r.Path, "/")+"/"
		h, err := cgi.New(c)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, &routeProblem{"cgi.script", "give the path of an executable file", fmt.Errorf("cgi.script %q does not exist", x.Script)}
		case errors.Is(err, cgi.ErrNotScript):
			return nil, &routeProblem{"cgi.script", "give the path of an executable file (chmod +x)", fmt.Errorf("cgi.script %q is not an executable file", x.Script)}
		case err != nil:
			return nil, &routeProblem{"cgi.script", "give the path of an executable file", err}
		}
		return h, nil
	}
	h, err := cgi.New(c)
	if err != nil {
		return nil, dirProblem("cgi.root", x.Root, err)
	}
	return h, nil
}

// sendfile wraps an application backend with X-Sendfile (prefix "") or
// X-Accel-Redirect for the files under dir.
func (b *Built) sendfile(key, dir, prefix string, keep []string, h web.Handler) (web.Handler, error) {
	if err := checkDir(dir); err != nil {
		return nil, dirProblem(key+".dir", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, dirProblem(key+".dir", dir, err)
	}
	dir = abs
	files, err := static.New(static.Config{Root: dir})
	if err != nil {
		return nil, dirProblem(key+".dir", dir, err)
	}
	b.closers = append(b.closers, files.Close)
	c := xsendfile.Config{Files: files, Keep: keep, Prefix: prefix}
	if prefix == "" {
		c.Dir = dir
	}
	mw, err := xsendfile.New(c)
	if err != nil {
		return nil, &routeProblem{key, "", err}
	}
	return mw(h), nil
}
