package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gatehouse/backend/demo"
	"gatehouse/backend/redirect"
	"gatehouse/backend/respond"
	"gatehouse/backend/static"
	"gatehouse/backend/wsgi"
	"gatehouse/config"
	"gatehouse/listen"
	"gatehouse/middleware/accesslog"
	"gatehouse/middleware/buffer"
	"gatehouse/proto/http1"
	"gatehouse/route"
	shttp "gatehouse/serve/http1"
	suwsgi "gatehouse/serve/uwsgi"
	"gatehouse/upstream"
	"gatehouse/web"
)

// Built is a configuration turned into a server configuration, with the
// resources it holds (open directories, the access log file).
type Built struct {
	Config Config
	Logger *slog.Logger
	// Sites and Routes count what was built, for gatehouse check.
	Sites, Routes int

	closers   []func() error
	reloaders []func() error
	pools     map[string]*upstream.Pool // by [[upstream]] name
	spoolMax  int64                     // the gateways' bound on a chunked body they spool: [http] max_body
	tempDir   string                    // [http] temp_dir: every temporary file
	bufCfg    buffer.Config             // [http]'s buffer sizes
	buffers   map[[2]bool]*buffer.Buffer
}

// Reload restarts what can be restarted in place (the WSGI workers, one at a
// time, without dropping a request), as SIGHUP asks. A part that fails logs
// its own reason; the error joins them.
func (b *Built) Reload() error {
	var errs []error
	for _, r := range b.reloaders {
		errs = append(errs, r())
	}
	return errors.Join(errs...)
}

// Close releases what the build holds.
func (b *Built) Close() error {
	var errs []error
	for i := len(b.closers) - 1; i >= 0; i-- {
		errs = append(errs, b.closers[i]())
	}
	return errors.Join(errs...)
}

// BuildOptions adjust Build.
type BuildOptions struct {
	// Stderr receives the logs (and the access log when its path is "-").
	// Default os.Stderr.
	Stderr io.Writer
	// Check builds without side effects, for gatehouse check: the access log
	// file is not opened (only its directory checked).
	Check bool
}

// Build checks cfg against the filesystem and wires it: listeners, HTTP limits,
// logs and the handler tree (sites by host, routes by path, backends chosen by
// an explicit switch). It returns every problem found, as config.Problems.
func Build(cfg *config.Config, opt BuildOptions) (*Built, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opt.Stderr == nil {
		opt.Stderr = os.Stderr
	}
	b := &Built{}
	var ps config.Problems
	problem := func(path, msg, hint string) { ps = append(ps, cfg.ProblemAt(path, msg, hint)) }

	level := slog.LevelInfo
	if cfg.Log.Level != "" {
		level.UnmarshalText([]byte(cfg.Log.Level)) // validated
	}
	hopts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		b.Logger = slog.New(slog.NewJSONHandler(opt.Stderr, hopts))
	} else {
		b.Logger = slog.New(slog.NewTextHandler(opt.Stderr, hopts))
	}

	b.Config.HTTP = httpConfig(cfg.HTTP)
	b.Config.HTTP.Logger = b.Logger
	switch m := b.Config.HTTP.MaxBodyBytes; {
	case m > 0:
		b.spoolMax = m
	case m < 0:
		b.spoolMax = 1 << 62 // max_body = "0": no limit
	}
	b.bufCfg = bufferConfig(cfg.HTTP, b.spoolMax)
	b.bufCfg.Logger = b.Logger
	b.tempDir = cfg.HTTP.TempDir
	if d := b.tempDir; d != "" {
		if err := checkDir(d); err != nil {
			var rp *routeProblem
			errors.As(dirProblem("http.temp_dir", d, err), &rp)
			problem("http.temp_dir", rp.Error(), rp.hint)
		}
	}
	for _, l := range cfg.Listen {
		lc := listen.Config{Addr: l.Addr, Owner: l.Owner}
		if l.Mode != "" {
			m, _ := strconv.ParseUint(l.Mode, 8, 32) // validated
			lc.Mode = os.FileMode(m)
		}
		if l.Protocol != "uwsgi" {
			b.Config.Listeners = append(b.Config.Listeners, lc)
			continue
		}
		ul := UWSGIListener{Listen: lc}
		for _, a := range l.Allow {
			p, _ := config.ParsePrefix(a) // validated
			ul.Allow = append(ul.Allow, p)
		}
		if l.Allow != nil && len(l.Allow) == 0 {
			ul.Allow = []netip.Prefix{} // allow = []: no TCP peer
		}
		b.Config.UWSGI = append(b.Config.UWSGI, ul)
	}
	b.Config.UWSGIServer = uwsgiServerConfig(b.Config.HTTP)
	b.Config.Logger = b.Logger
	b.Config.MaxConns = cfg.Server.MaxConns
	b.Config.Engine = cfg.Server.Engine
	b.Config.Accept = cfg.Server.Accept
	b.Config.ShutdownGrace = DefaultShutdownGrace
	if g := cfg.Server.Grace; g != nil {
		b.Config.ShutdownGrace = g.Duration
		if g.Duration == 0 {
			b.Config.ShutdownGrace = -1 // "0s": as long as it takes
		}
	}

	if al, err := b.accessLog(cfg, opt); err != nil {
		problem("access_log.path", err.Error(), "give a file in an existing directory, \"-\" for stderr or \"off\"")
	} else if al != nil {
		b.Config.HTTP.AccessLog = al
		b.Config.UWSGIServer.AccessLog = al
	}
	if err := b.upstreams(cfg); err != nil {
		problem("upstream", err.Error(), "")
	}

	var hosts route.Hosts
	for i, s := range cfg.Site {
		site := &route.Site{}
		sp := fmt.Sprintf("site[%d]", i)
		codes := make([]string, 0, len(s.ErrorPages))
		for code := range s.ErrorPages {
			codes = append(codes, code)
		}
		sort.Strings(codes) // problems in a stable order
		for _, code := range codes {
			file := s.ErrorPages[code]
			page, err := os.ReadFile(file)
			if err != nil {
				problem(sp+".error_pages."+code, fmt.Sprintf("error page for %s: %v", code, err), "give a readable HTML file")
				continue
			}
			if site.Pages == nil {
				site.Pages = web.ErrorPages{}
			}
			n, _ := strconv.Atoi(code)
			site.Pages[n] = page
		}
		for j, r := range s.Route {
			h, err := b.backend(r, site, opt)
			if err == nil && r.IsApplication() && r.PHP == nil {
				h = b.buffering(r).Wrap(h) // php buffers its scripts only (see php)
			}
			if err == nil && (r.XSendfile != nil || r.XAccel != nil) {
				h, err = b.sendfiles(r, h)
			}
			if err != nil {
				rp := fmt.Sprintf("%s.route[%d]", sp, j)
				msg, hint := err.Error(), ""
				switch {
				case r.Static != nil:
					rp += ".static.root"
					msg, hint = staticProblem(r.Static.Root, err)
				default:
					var rpe *routeProblem
					var wpe *wsgiProblem
					switch {
					case errors.As(err, &rpe):
						rp += "." + rpe.key
						hint = rpe.hint
					case errors.As(err, &wpe):
						rp += ".wsgi." + wpe.key
						hint = wpe.hint
					}
				}
				problem(rp, msg, hint)
				continue
			}
			if len(r.Methods) > 0 {
				h = web.Allow(h, r.Methods...)
			}
			site.Mux.Handle(r.Path, h)
			b.Routes++
		}
		for _, host := range s.Hosts {
			if err := hosts.Add(host, site); err != nil {
				problem(sp+".hosts", err.Error(), "")
			}
		}
		if len(s.Hosts) == 0 || s.Default {
			hosts.SetDefault(site)
		}
		b.Sites++
	}
	b.Config.Handler = &hosts
	if len(ps) > 0 {
		b.Close()
		return nil, ps.Err()
	}
	return b, nil
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

// backend builds a route's handler; an explicit switch, no registry.
func (b *Built) backend(r config.Route, site web.Handler, opt BuildOptions) (web.Handler, error) {
	switch {
	case r.Static != nil:
		s := r.Static
		prefix := "/"
		if strings.HasSuffix(r.Path, "/") {
			prefix = r.Path // the route's path is stripped, as --static /prefix=DIR
		}
		sc := static.Config{
			Root: s.Root, Prefix: prefix, Index: s.Index, AllowDotfiles: s.Dotfiles,
			FollowSymlinks: s.FollowSymlinks, Listing: s.Listing, Precompressed: s.Precompressed,
			CacheControl: s.CacheControl,
		}
		if s.CacheValid != nil {
			sc.CacheValid = s.CacheValid.Duration
			if sc.CacheValid == 0 {
				sc.CacheValid = -1 // "0s": no cache
			}
		}
		h, err := static.New(sc)
		if err != nil {
			return nil, err
		}
		b.closers = append(b.closers, h.Close)
		return h, nil
	case r.Redirect != nil:
		return &redirect.Handler{To: r.Redirect.To, Status: r.Redirect.Status, KeepQuery: r.Redirect.KeepQuery}, nil
	case r.Respond != nil:
		rs := &respond.Handler{Status: r.Respond.Status, Body: []byte(r.Respond.Body), ContentType: r.Respond.ContentType}
		names := make([]string, 0, len(r.Respond.Headers))
		for k := range r.Respond.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			rs.Headers = append(rs.Headers, [2]string{k, r.Respond.Headers[k]})
		}
		return rs, nil
	case r.Demo:
		return demo.New(), nil
	case r.WSGI != nil:
		return b.wsgi(r, opt)
	case r.PHP != nil:
		return b.php(r)
	case r.FastCGI != nil:
		return b.fastCGI(r)
	case r.UWSGI != nil:
		return b.uwsgi(r)
	case r.CGI != nil:
		return b.cgi(r, site)
	}
	return nil, errors.New("route has no backend") // Validate refuses this
}

func (b *Built) accessLog(cfg *config.Config, opt BuildOptions) (*accesslog.Logger, error) {
	a := cfg.AccessLog
	if a.Path == "off" {
		return nil, nil
	}
	format, _ := accesslog.ParseFormat(a.Format) // validated
	w := opt.Stderr
	if a.Path != "" && a.Path != "-" {
		if opt.Check {
			if fi, err := os.Stat(filepath.Dir(a.Path)); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("access log %s: no such directory", a.Path)
			}
			return nil, nil
		}
		f, err := os.OpenFile(a.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, fmt.Errorf("access log: %w", err)
		}
		b.closers = append(b.closers, f.Close)
		w = f
	}
	var buf int
	if a.Buffer != nil {
		buf = int(a.Buffer.Bytes)
	}
	al := accesslog.New(w, accesslog.Options{Format: format, Buffer: buf})
	b.closers = append(b.closers, al.Close)
	return al, nil
}

// httpConfig maps the file's [http] onto serve/http1.Config. Absent keys keep
// the defaults; a duration of "0s" turns that timeout off.
func httpConfig(h config.HTTP) shttp.Config {
	var c shttp.Config
	size := func(s *config.Size) int {
		if s == nil {
			return 0
		}
		return int(min(s.Bytes, 1<<31-1))
	}
	c.Limits = http1.Limits{
		MaxRequestLine: size(h.MaxRequestLine),
		MaxHeaderBytes: size(h.MaxHeaderBytes),
		MaxFieldBytes:  size(h.MaxFieldBytes),
	}
	if h.MaxFields != nil {
		c.Limits.MaxFields = *h.MaxFields
	}
	if h.MaxBody != nil {
		c.MaxBodyBytes = h.MaxBody.Bytes
		if c.MaxBodyBytes == 0 {
			c.MaxBodyBytes = -1 // "0": no limit
		}
	}
	dur := func(d *config.Duration) time.Duration {
		switch {
		case d == nil:
			return 0
		case d.Duration == 0:
			return -1
		}
		return d.Duration
	}
	c.ReadHeaderTimeout = dur(h.ReadHeaderTimeout)
	c.BodyReadTimeout = dur(h.BodyTimeout)
	c.WriteTimeout = dur(h.WriteTimeout)
	c.IdleTimeout = dur(h.IdleTimeout)
	if h.MaxRequestsPerConn != nil {
		c.MaxRequestsPerConn = *h.MaxRequestsPerConn
	}
	if h.ServerName != nil {
		c.ServerName = *h.ServerName
	}
	return c
}

// bufferConfig maps [http]'s buffer keys onto middleware/buffer.Config.
func bufferConfig(h config.HTTP, maxBody int64) buffer.Config {
	c := buffer.Config{TempDir: h.TempDir, MaxBody: maxBody}
	if h.BodyBuffer != nil {
		c.BodyMemory = int(min(h.BodyBuffer.Bytes, 1<<30))
	}
	if h.ResponseBuffer != nil {
		c.ResponseMemory = int(min(h.ResponseBuffer.Bytes, 1<<30))
	}
	if h.MaxTempFile != nil {
		c.MaxTempFile = h.MaxTempFile.Bytes
		if c.MaxTempFile == 0 {
			c.MaxTempFile = -1 // "0": no file
		}
	}
	return c
}

// buffering returns the buffering of an application route: request and
// response buffering unless the route turns them off. Routes that agree
// share one (and its pools of buffers).
func (b *Built) buffering(r config.Route) *buffer.Buffer {
	key := [2]bool{r.RequestBuffering != nil && !*r.RequestBuffering, r.ResponseBuffering != nil && !*r.ResponseBuffering}
	if bf := b.buffers[key]; bf != nil {
		return bf
	}
	c := b.bufCfg
	c.StreamRequests, c.StreamResponses = key[0], key[1]
	bf := buffer.New(c)
	if b.buffers == nil {
		b.buffers = map[[2]bool]*buffer.Buffer{}
	}
	b.buffers[key] = bf
	return bf
}

// uwsgiServerConfig gives the uwsgi listeners the HTTP server's body limit and
// timeouts, which mean the same there.
func uwsgiServerConfig(h shttp.Config) suwsgi.Config {
	return suwsgi.Config{
		MaxBodyBytes:      h.MaxBodyBytes,
		ReadHeaderTimeout: h.ReadHeaderTimeout,
		BodyReadTimeout:   h.BodyReadTimeout,
		WriteTimeout:      h.WriteTimeout,
		Logger:            h.Logger,
	}
}

// wsgiProblem is a WSGI route that cannot start, with the key to blame.
type wsgiProblem struct {
	key, hint string
	err       error
}

func (p *wsgiProblem) Error() string { return p.err.Error() }

// wsgi starts a route's worker pool; in check mode it only checks that the
// interpreter and directory exist (importing the application runs its code).
func (b *Built) wsgi(r config.Route, opt BuildOptions) (web.Handler, error) {
	c := WSGIConfig(r.Path, r.WSGI)
	c.Logger = b.Logger
	if c.Chdir != "" {
		if fi, err := os.Stat(c.Chdir); err != nil || !fi.IsDir() {
			return nil, &wsgiProblem{"chdir", "give the directory holding the application's package",
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
		key, hint := "python", "install Python 3, or give the interpreter's path"
		if c.Venv != "" {
			key, hint = "venv", "give a virtual environment made with python3 -m venv"
		}
		return nil, &wsgiProblem{key, hint, fmt.Errorf("wsgi: no Python interpreter %q", py)}
	}
	if opt.Check {
		return web.HandlerFunc(func(web.ResponseWriter, *web.Request) error { return nil }), nil
	}
	p, err := wsgi.Start(c)
	if err != nil {
		return nil, &wsgiProblem{"app", "the module must import from chdir (or sys.path) with " + py + ", and the name after ':' must be its WSGI callable", err}
	}
	b.closers = append(b.closers, p.Close)
	b.reloaders = append(b.reloaders, p.Reload)
	return p, nil
}

// WSGIConfig maps a route's wsgi table onto backend/wsgi.Config: absent keys
// keep the defaults, "0s" turns the request timeout off.
func WSGIConfig(routePath string, w *config.WSGI) wsgi.Config {
	c := wsgi.Config{
		App: w.App, Python: w.Python, Venv: w.Venv, Chdir: w.Chdir,
		Workers: w.Workers, Threads: w.Threads,
		MaxRequests: w.MaxRequests, MaxRequestsJitter: w.MaxRequestsJitter,
		ScriptName: strings.TrimSuffix(routePath, "/"),
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
	if w.Timeout != nil {
		c.Timeout = w.Timeout.Duration
		if c.Timeout == 0 {
			c.Timeout = -1
		}
	}
	set := func(dst *time.Duration, d *config.Duration) {
		if d != nil {
			*dst = d.Duration
		}
	}
	set(&c.QueueTimeout, w.QueueTimeout)
	set(&c.StartTimeout, w.StartTimeout)
	set(&c.GracefulTimeout, w.GracefulTimeout)
	set(&c.StatsInterval, w.StatsInterval)
	return c
}
