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
	"sort"
	"strconv"

	"gatehouse/backend/redirect"
	"gatehouse/config"
	"gatehouse/listen"
	"gatehouse/middleware/accesslog"
	"gatehouse/middleware/acme"
	"gatehouse/middleware/buffer"
	"gatehouse/proto/http1"
	"gatehouse/route"
	shttp "gatehouse/serve/http1"
	suwsgi "gatehouse/serve/uwsgi"
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

	closers     []func() error
	reloaders   []func() error
	pools       map[string]*upstream.Pool // by [[upstream]] name
	spoolMax    int64                     // the gateways' bound on a chunked body they spool: [http] max_body
	tempDir     string                    // [http] temp_dir: every temporary file
	bufCfg      buffer.Config             // [http]'s buffer sizes
	buffers     map[[2]bool]*buffer.Buffer
	trust       realip.Trust  // [http] trusted_proxies
	acme        *acme.Manager // [acme], when a listener takes its certificates
	acmeConfigs map[*tlsconf.Certs]*tls.Config
	checkOnly   bool // gatehouse check: nothing dialled
}

// Reload restarts what can be restarted in place, as SIGHUP asks: the WSGI
// workers, one at a time, without dropping a request, and every TLS
// listener's certificates, read again from their files. A part that fails
// logs its own reason and keeps what it had; the error joins them.
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
	if cfg.Log.Format == "json" {
		b.Logger = slog.New(slog.NewJSONHandler(opt.Stderr, hopts))
	} else {
		b.Logger = slog.New(slog.NewTextHandler(opt.Stderr, hopts))
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
		problem("access_log.path", err.Error(), "give a file in an existing directory, \"-\" for stderr or \"off\"")
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
