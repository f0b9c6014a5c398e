package server

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gatehouse/backend/demo"
	"gatehouse/backend/redirect"
	"gatehouse/backend/respond"
	"gatehouse/backend/static"
	"gatehouse/backend/wsgi"
	"gatehouse/config"
	"gatehouse/web"
)

// routeCtx is what a backend is built from: the route, its site (for CGI's
// local redirects) and the build's options.
type routeCtx struct {
	r    *config.Route
	site web.Handler
	opt  BuildOptions
}

// backendFunc builds a route's backend; every backend has this shape. A
// problem with a key of its own is a *routeProblem.
type backendFunc func(b *Built, rc *routeCtx) (web.Handler, error)

// backends builds each backend of config.Backends, by its key: an explicit
// table, no registry (TestBackendsCoverConfig holds the two lists together).
var backends = map[string]backendFunc{
	"static":   (*Built).static,
	"redirect": (*Built).redirect,
	"respond":  (*Built).respond,
	"demo":     func(*Built, *routeCtx) (web.Handler, error) { return demo.New(), nil },
	"wsgi":     (*Built).wsgi,
	"php":      (*Built).php,
	"fastcgi":  (*Built).fastCGI,
	"uwsgi":    (*Built).uwsgi,
	"cgi":      (*Built).cgi,
	"proxy":    (*Built).proxy,
}

// backend builds a route's backend.
func (b *Built) backend(r *config.Route, site web.Handler, opt BuildOptions) (web.Handler, error) {
	kind, ok := r.Backend()
	if !ok {
		return nil, errors.New("route has no backend, or more than one") // Validate refuses this
	}
	return backends[kind.Key](b, &routeCtx{r: r, site: site, opt: opt})
}

func (b *Built) static(rc *routeCtx) (web.Handler, error) {
	r := rc.r
	s := r.Static
	prefix := "/"
	if strings.HasSuffix(r.Path, "/") {
		prefix = r.Path // the route's path is stripped, as --static /prefix=DIR
	}
	sc := static.Config{
		Root: s.Root, Prefix: prefix, Index: s.Index, AllowDotfiles: s.Dotfiles,
		FollowSymlinks: s.FollowSymlinks, Listing: s.Listing, Precompressed: s.Precompressed,
		CacheControl: s.CacheControl, CacheValid: dur(s.CacheValid, -1), // "0s": no cache
	}
	h, err := static.New(sc)
	if err != nil {
		msg, hint := staticProblem(s.Root, err)
		return nil, &routeProblem{"static.root", hint, errors.New(msg)}
	}
	b.closers = append(b.closers, h.Close)
	return h, nil
}

// staticProblem words a static root that cannot be served, naming the root as
// the file does (not as an absolute path).
func staticProblem(root string, err error) (msg, hint string) {
	switch fi, serr := os.Stat(root); {
	case errors.Is(serr, os.ErrNotExist):
		return fmt.Sprintf("static.root %q does not exist", root), "create the directory, or fix the path"
	case serr == nil && !fi.IsDir():
		return fmt.Sprintf("static.root %q is not a directory", root), "give a directory; the route serves the files under it"
	case errors.Is(serr, os.ErrPermission):
		return fmt.Sprintf("static.root %q cannot be read", root), "check its permissions for the user gatehouse runs as"
	}
	return "static.root " + strconv.Quote(root) + ": " + err.Error(), ""
}

func (b *Built) redirect(rc *routeCtx) (web.Handler, error) {
	x := rc.r.Redirect
	return &redirect.Handler{To: x.To, Status: x.Status, KeepQuery: x.KeepQuery}, nil
}

func (b *Built) respond(rc *routeCtx) (web.Handler, error) {
	x := rc.r.Respond
	rs := &respond.Handler{Status: x.Status, Body: []byte(x.Body), ContentType: x.ContentType}
	names := make([]string, 0, len(x.Headers))
	for k := range x.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		rs.Headers = append(rs.Headers, [2]string{k, x.Headers[k]})
	}
	return rs, nil
}

// wsgi starts a route's worker pool; in check mode it only checks that the
// interpreter and directory exist (importing the application runs its code).
func (b *Built) wsgi(rc *routeCtx) (web.Handler, error) {
	c := WSGIConfig(rc.r, b.bufCfg.MaxTempFile >= 0)
	c.Logger = b.Logger
	if c.Chdir != "" {
		if fi, err := os.Stat(c.Chdir); err != nil || !fi.IsDir() {
			return nil, &routeProblem{"wsgi.chdir", "give the directory holding the application's package",
				fmt.Errorf("wsgi.chdir %q is not a directory", c.Chdir)}
		}
	}
	py := c.Python
	if py == "" {
		py = wsgi.DefaultPython
		if c.Venv != "" {
			py = filepath.Join(c.Venv, "bin", "python")
		}
	}
	if _, err := exec.LookPath(py); err != nil {
		key, hint := "wsgi.python", "install Python 3, or give the interpreter's path"
		if c.Venv != "" {
			key, hint = "wsgi.venv", "give a virtual environment made with python3 -m venv"
		}
		return nil, &routeProblem{key, hint, fmt.Errorf("wsgi: no Python interpreter %q", py)}
	}
	if rc.opt.Check {
		return web.HandlerFunc(func(web.ResponseWriter, *web.Request) error { return nil }), nil
	}
	p, err := wsgi.Start(c)
	if err != nil {
		return nil, &routeProblem{"wsgi.app", "the module must import from chdir (or sys.path) with " + py + ", and the name after ':' must be its WSGI callable", err}
	}
	b.closers = append(b.closers, p.Close)
	b.reloaders = append(b.reloaders, reloader{"restarting the WSGI workers", p.Reload})
	return p, nil
}

// WSGIConfig maps a route's wsgi table onto backend/wsgi.Config: absent keys
// keep the defaults, "0s" turns the request timeout off. spill says whether
// responses past the memory buffer go to a temporary file ([http]
// max_temp_file is not "0"). A route whose responses are not buffered, or
// whose larger responses would wait in memory for the client, queues no
// request in a busy worker: the worker may be done with a response that
// gatehouse is still writing to a slow client, and go on to a request queued
// behind it that gatehouse still counts as waiting (its queue_timeout would
// answer 503 for a request that ran).
func WSGIConfig(r *config.Route, spill bool) wsgi.Config {
	routePath, w := r.Path, r.WSGI
	c := wsgi.Config{
		App: w.App, Python: w.Python, Venv: w.Venv, Chdir: w.Chdir,
		Workers: w.Workers, Threads: w.Threads,
		MaxRequests: w.MaxRequests, MaxRequestsJitter: w.MaxRequestsJitter,
		ScriptName: strings.TrimSuffix(routePath, "/"),
		Timeout:    dur(w.Timeout, -1),
	}
	if !strings.HasSuffix(routePath, "/") {
		c.ScriptName = "" // an exact route is not a mount point
	}
	if w.ScriptName != nil {
		c.ScriptName = *w.ScriptName
	}
	for _, k := range slices.Sorted(maps.Keys(w.Env)) {
		c.Env = append(c.Env, k+"="+w.Env[k])
	}
	if w.MaxRSS != nil {
		c.MaxRSS = w.MaxRSS.Bytes
	}
	durSet(&c.QueueTimeout, w.QueueTimeout)
	durSet(&c.StartTimeout, w.StartTimeout)
	durSet(&c.GracefulTimeout, w.GracefulTimeout)
	durSet(&c.StatsInterval, w.StatsInterval)
	if q := w.WorkerQueue; q != nil {
		c.WorkerQueue = *q
		if *q == 0 {
			c.WorkerQueue = -1 // off; wsgi's 0 is the default
		}
	}
	if r.ResponseBuffering != nil && !*r.ResponseBuffering || !spill {
		c.WorkerQueue = -1
	}
	return c
}
