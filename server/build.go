package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"gatehouse/internal/sockaddr"
	"gatehouse/middleware/realip"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"gatehouse/backend/redirect"
	"gatehouse/config"
	"gatehouse/internal/logfile"
	"gatehouse/listen"
	"gatehouse/middleware/accesslog"
	"gatehouse/middleware/acme"
	"gatehouse/middleware/buffer"
	"gatehouse/middleware/encode"
	"gatehouse/middleware/requestid"
	"gatehouse/proto/http1"
	"gatehouse/route"
	shttp "gatehouse/serve/http1"
	suwsgi "gatehouse/serve/uwsgi"
	"gatehouse/store"
	"gatehouse/tlsconf"
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
	// Warnings are problems that do not stop the configuration from
	// working (a certificate no site needs): check prints them, serve logs
	// them.
	Warnings config.Problems

	closers        []func() error
	reloaders      []reloader
	pools          map[string]*upstream.Pool // by [[upstream]] name
	spoolMax       int64                     // the gateways' bound on a chunked body they spool: [http] max_body
	tempDir        string                    // [http] temp_dir: every temporary file
	bufCfg         buffer.Config             // [http]'s buffer sizes
	buffers        map[[2]bool]*buffer.Buffer
	encoders       map[string]*encode.Encoder // by configuration: routes that agree share one
	requestID      *requestid.Config          // [request_id]; nil: no IDs
	logFiles       []*logfile.File            // reopened by Reopen
	accessLogger   *accesslog.Logger
	upstreamTiming bool          // the access log reports $upstream_*: application routes measure them
	acme           *acme.Manager // [acme], when a listener takes its certificates
	acmeConfigs    map[*tlsconf.Certs]*tls.Config
	trust          realip.Trust           // [http] trusted_proxies
	stores         map[string]store.Store // session stores, by what they are: shared by the tables that name one
	checkOnly      bool                   // gatehouse check: nothing dialled
}

// Reload restarts what can be restarted in place, as SIGHUP asks: the WSGI
// workers, one at a time, without dropping a request, and every TLS
// listener's certificates, read again from their files. A part that fails
// logs its own reason and keeps what it had; the error joins them.
func (b *Built) Reload() error {
	var errs []error
	for _, r := range b.reloaders {
		errs = append(errs, r.fn())
	}
	return errors.Join(errs...)
}

// reloader is one part Reload restarts, and what it does in words.
type reloader struct {
	what string // "restarting the WSGI workers"
	fn   func() error
}

// Reloads says what Reload does, for the log: each kind of part once, in
// the order they were built; none when nothing restarts in place.
func (b *Built) Reloads() []string {
	var out []string
	for _, r := range b.reloaders {
		if !slices.Contains(out, r.what) {
			out = append(out, r.what)
		}
	}
	return out
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
	b := &Built{checkOnly: opt.Check}
	var ps, warnings config.Problems
	problem := func(path, msg, hint string) { ps = append(ps, cfg.ProblemAt(path, msg, hint)) }
	warn := func(path, msg, hint string) {
		p := cfg.ProblemAt(path, msg, hint)
		p.Warning = true
		warnings = append(warnings, p)
	}

	level := slog.LevelInfo
	if cfg.Log.Level != "" {
		level.UnmarshalText([]byte(cfg.Log.Level)) // validated
	}
	hopts := &slog.HandlerOptions{Level: level}
	errLog := opt.Stderr
	if w, err := b.logFile(cfg.Log.Path, opt); err != nil {
		problem("log.path", "error log "+err.Error(), "give a file in an existing directory, or \"-\" for stderr")
	} else if w != nil {
		errLog = w
	}
	if cfg.Log.Format == "json" {
		b.Logger = slog.New(slog.NewJSONHandler(errLog, hopts))
	} else {
		b.Logger = slog.New(slog.NewTextHandler(errLog, hopts))
	}

	b.Config.HTTP = httpConfig(cfg.HTTP)
	if n := cfg.HTTP2.MaxConcurrentStreams; n != nil {
		b.Config.HTTP2.MaxConcurrentStreams = *n
	}
	if f := cfg.HTTP2.MaxFrameSize; f != nil {
		b.Config.HTTP2.MaxReadFrameSize = int(f.Bytes)
	}
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
	b.trust, _ = realip.Parse(cfg.HTTP.TrustedProxies) // validated
	if d := b.tempDir; d != "" {
		if err := checkDir(d); err != nil {
			var rp *routeProblem
			errors.As(dirProblem("http.temp_dir", d, err), &rp)
			problem("http.temp_dir", rp.Error(), rp.hint)
		}
	}
	b.requestID = requestIDConfig(cfg.RequestID, &b.trust)
	b.acmeManager(cfg, opt, problem)
	tlsCerts, tlsGroups := b.tlsListeners(cfg, opt, problem)
	for i, l := range cfg.Listen {
		ep := Endpoint{Listen: listen.Config{Addr: l.Addr, Owner: l.Owner}, Protocol: ProtocolHTTP}
		if c := tlsCerts[i]; c != nil {
			ep.TLS = c.TLSConfig()
			if l.TLS.ACME && b.acme != nil {
				ep.TLS = b.acmeTLS(c)
			}
			ep.HandshakeTimeout = dur(l.TLS.HandshakeTimeout, -1)
		}
		ep.H2C = l.H2C
		if l.ProxyProtocol {
			ep.Proxy = proxyProtocol(l)
		}
		if l.RedirectHTTPS {
			port, _, _ := cfg.HTTPSPort() // validated
			rd := &redirect.HTTPS{Port: port}
			if b.acme != nil {
				rd.Challenge = b.acmeChallenge()
			}
			ep.Handler = rd
		}
		if l.Mode != "" {
			m, _ := strconv.ParseUint(l.Mode, 8, 32) // validated
			ep.Listen.Mode = os.FileMode(m)
		}
		if l.Protocol == "uwsgi" {
			ep.Protocol = ProtocolUWSGI
			for _, a := range l.Allow {
				p, _ := sockaddr.ParsePrefix(a) // validated
				ep.Allow = append(ep.Allow, p)
			}
			if l.Allow != nil && len(l.Allow) == 0 {
				ep.Allow = []netip.Prefix{} // allow = []: no TCP peer
			}
		}
		b.Config.Endpoints = append(b.Config.Endpoints, ep)
	}
	b.Config.UWSGI = uwsgiServerConfig(b.Config.HTTP)
	b.Config.Logger = b.Logger
	b.Config.MaxConns = cfg.Server.MaxConns
	b.Config.Engine = cfg.Server.Engine
	b.Config.Accept = cfg.Server.Accept
	b.Config.ShutdownGrace = DefaultShutdownGrace
	if g := dur(cfg.Server.Grace, -1); g != 0 {
		b.Config.ShutdownGrace = g // "0s": as long as it takes
	}

	if al, err := b.accessLog(cfg, opt); err != nil {
		var lp *routeProblem
		if errors.As(err, &lp) {
			problem("access_log."+lp.key, err.Error(), lp.hint)
		} else {
			problem("access_log.path", err.Error(), "give a file in an existing directory, \"-\" for stderr or \"off\"")
		}
	} else if al != nil {
		b.Config.HTTP.AccessLog = al
		b.Config.UWSGI.AccessLog = al
	}
	b.upstreams(cfg, opt, problem)

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
		for j := range s.Route {
			r := &s.Route[j]
			h, err := b.route(r, site, opt)
			if errors.Is(err, errReported) {
				continue
			}
			if err != nil {
				rp := fmt.Sprintf("%s.route[%d]", sp, j)
				msg, hint := err.Error(), ""
				var rpe *routeProblem
				if errors.As(err, &rpe) {
					rp += "." + rpe.key
					hint = rpe.hint
				}
				problem(rp, msg, hint)
				continue
			}
			site.Mux.Handle(r.Path, h)
			b.Routes++
		}
		sh, err := b.siteHandler(&cfg.Site[i], site)
		if err != nil {
			at, hint := sp, ""
			var rpe *routeProblem
			if errors.As(err, &rpe) {
				at, hint = sp+"."+rpe.key, rpe.hint
			}
			problem(at, err.Error(), hint)
			continue
		}
		for _, host := range s.Hosts {
			if err := hosts.Add(host, sh); err != nil {
				problem(sp+".hosts", err.Error(), "")
			}
		}
		if len(s.Hosts) == 0 || s.Default {
			hosts.SetDefault(sh)
		}
		b.Sites++
	}
	b.Config.Handler = b.front(&hosts)
	certWarnings(cfg, tlsGroups, warn)
	if len(ps) > 0 {
		b.Close()
		return nil, append(ps, warnings...).Err()
	}
	warnings.Sort()
	b.Warnings = warnings
	return b, nil
}

func (b *Built) accessLog(cfg *config.Config, opt BuildOptions) (*accesslog.Logger, error) {
	a := cfg.AccessLog
	if a.Path == "off" {
		return nil, nil
	}
	format, _ := accesslog.ParseFormat(a.Format) // validated: one of these, or a name in formats
	var layout *accesslog.Layout
	if f, ok := a.Formats[a.Format]; ok {
		l, err := accesslog.ParseLayout(f)
		if err != nil {
			return nil, &routeProblem{"formats", "variables are " + accesslog.VariableNames + "; write $$ for a dollar sign",
				fmt.Errorf("access_log.formats.%s: %w", a.Format, err)}
		}
		format, layout = accesslog.Custom, l
		b.upstreamTiming = l.Upstream
	}
	w := opt.Stderr
	if f, err := b.logFile(a.Path, opt); err != nil {
		if opt.Check {
			return nil, fmt.Errorf("access log %w", err) // "access log PATH: no such directory"
		}
		return nil, fmt.Errorf("access log: %w", err)
	} else if f != nil {
		w = f
	} else if opt.Check && a.Path != "" && a.Path != "-" {
		return nil, nil
	}
	var buf int
	if a.Buffer != nil {
		buf = int(a.Buffer.Bytes)
	}
	al := accesslog.New(w, accesslog.Options{Format: format, Layout: layout, Buffer: buf})
	b.closers = append(b.closers, al.Close)
	b.accessLogger = al
	return al, nil
}

// logFile opens a log's file, reopened by Reopen (SIGUSR1); nil for "" and
// "-" (stderr), and when checking (only its directory is checked then).
func (b *Built) logFile(path string, opt BuildOptions) (*logfile.File, error) {
	if path == "" || path == "-" {
		return nil, nil
	}
	if opt.Check {
		if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s: no such directory", path)
		}
		return nil, nil
	}
	f, err := logfile.Open(path, 0o640)
	if err != nil {
		return nil, err
	}
	b.closers = append(b.closers, f.Close)
	b.logFiles = append(b.logFiles, f)
	return f, nil
}

// Reopen opens the log files again under their paths, as SIGUSR1 asks
// after logrotate renamed them; the access log's buffer is written first,
// to the file it was meant for. A file that cannot be opened keeps the old
// one, and the error says which.
func (b *Built) Reopen() error {
	if b.accessLogger != nil {
		b.accessLogger.Flush()
	}
	var errs []error
	for _, f := range b.logFiles {
		if err := f.Reopen(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Path(), err))
		}
	}
	return errors.Join(errs...)
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
	c.ReadHeaderTimeout = dur(h.ReadHeaderTimeout, -1)
	c.BodyReadTimeout = dur(h.BodyTimeout, -1)
	c.WriteTimeout = dur(h.WriteTimeout, -1)
	c.IdleTimeout = dur(h.IdleTimeout, -1)
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
