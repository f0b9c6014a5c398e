package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"gatehouse/config"
	"gatehouse/internal/units"
	"gatehouse/internal/upstreamspec"
	"gatehouse/listen"
	"gatehouse/proto/cookie"
	shttp "gatehouse/serve/http1"
	"gatehouse/server"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise it
// comes from the module's build information.
var version = ""

// errHelp reports that help was asked for and printed: exit status 0.
var errHelp = errors.New("help requested")

const mainUsage = `gatehouse: an HTTP server and application gateway in one binary.

Usage:
  gatehouse serve [flags]     serve HTTP (see gatehouse serve --help)
  gatehouse check FILE        check a configuration file
  gatehouse keygen            print a new key for a key file (sessions, CSRF)
  gatehouse version           print the version
  gatehouse help              print this help

Examples:
  gatehouse serve --demo
  gatehouse serve --http :8000 --http unix:/run/gatehouse.sock --static /=./public
  gatehouse serve --https :443 --cert site.pem --key site.key --http :80 --redirect-https --wsgi app:app
  gatehouse serve --config /etc/gatehouse/gatehouse.toml
`

// Run is the whole command line: args without the program name.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return usagef("no command given")
	}
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "keygen":
		return runKeygen(args[1:], stdout, stderr)
	case "version":
		return runVersion(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, mainUsage)
		return errHelp
	}
	fmt.Fprint(stderr, mainUsage)
	return usagef("unknown command %q", args[0])
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: gatehouse version\n\nPrints the version and build information.")
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "gatehouse", buildVersion())
	return nil
}

func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}

// parseFlags parses args; -h/--help prints usage to stdout and returns errHelp.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	if err := parseOnly(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// parseOnly parses args, printing the usage once: to stdout for -h/--help
// (errHelp), to the flag set's output (stderr) for a mistake. The flag
// package prints it itself on both, to its output, so its own call is
// held back for this one.
func parseOnly(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return errHelp
	}
	if err != nil {
		fs.Usage()
		return &usageError{err.Error()}
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// serveOptions are the serve command's flags. Each flag sets the key of the
// configuration file it stands for (see toConfig), so that a flag and the file
// mean the same thing; only flags given on the command line are set.
type serveOptions struct {
	config                    string
	http                      stringList
	https                     stringList
	certs                     stringList // --cert, paired with --key in order
	keys                      stringList
	tls                       config.TLS // --https listeners' other keys
	redirect                  bool       // --redirect-https
	acmeDomains               stringList // --acme-domain
	h2c                       bool       // --h2c: every --http listener
	hsts                      string
	unixMode                  string
	unixOwner                 string
	statics                   stringList
	demo                      bool
	wsgi                      config.WSGI // --wsgi and the worker flags
	wsgiEnv                   stringList
	php                       string
	fcgiPass                  string
	uwsgiPass                 string
	proxyPass                 stringList // --proxy-pass, several: one pool
	proxyBalance, proxyHealth string     // --proxy-balance, --proxy-health: the pool's
	cgis                      stringList
	sockets                   stringList // uwsgi-protocol listeners
	sockAllow                 stringList
	xSendfile                 string
	xAccel                    string
	// request_buffering and response_buffering of every application route
	reqBuffering, respBuffering bool
	csrf, csrfTokens            bool // --csrf, --csrf-tokens
	sessionStore, sessionKey    string
	sessionPass                 stringList
	compress                    bool          // --compress: every route
	compressLevel               int           // --compress-level: gzip's
	cacheControl                string        // --cache-control: every --static route
	requestID                   bool          // --request-id: [request_id]
	proxyProtocol               bool          // --proxy-protocol: every --http and --https listener
	proxyFrom                   stringList    // --proxy-from
	cfg                         config.Config // keys set by the flags below
	fs                          *flag.FlagSet
}

// wsgiFlags are the flags that only mean something with --wsgi.
var wsgiFlags = []string{"workers", "threads", "chdir", "python", "venv", "env", "max-requests",
	"max-requests-jitter", "max-rss", "timeout", "queue-timeout", "stats-interval"}

const serveUsage = `Usage: gatehouse serve [flags]
       gatehouse serve --config FILE

Serves HTTP on every --http address until SIGINT or SIGTERM, then shuts down
gracefully: it stops accepting, lets in-flight requests finish within --grace,
closes idle connections and exits 0. A second signal closes everything at once.

What to serve (at least one), or a whole configuration with --config:
  --demo                 the built-in demo site at /
  --static /prefix=DIR   the files under DIR at /prefix (repeatable)
  --wsgi MODULE:APP      a Python WSGI application at / (Flask, Django, ...), run
                         in --workers processes that gatehouse supervises
  --php DIR              the PHP site in DIR at /, scripts run by php-fpm
                         (--fastcgi-pass), other files sent as files
  --fastcgi-pass ADDR    alone: the FastCGI application at ADDR serves /
  --uwsgi-pass ADDR      the uWSGI server at ADDR (uwsgi --socket) serves /
  --proxy-pass URL       the HTTP server at URL (http://host:port, https://...,
                         unix:/path) serves /; repeated, requests are balanced
                         over them and a failing one is skipped
  --proxy-balance POLICY round_robin (default), least_conn, ip_hash, first,
                         random or random_two
  --proxy-health PATH    check each --proxy-pass server with GET PATH
  --cgi /prefix=DIR      the CGI scripts in DIR at /prefix (repeatable); with a
                         FILE, that one script serves every path under /prefix
  --config FILE          a TOML configuration (see docs/config.md); no other flags

Where to listen: --http ADDR (HTTP), --https ADDR (HTTPS, with --cert and
--key) and --socket ADDR (the uwsgi protocol, for nginx's uwsgi_pass in front);
without any, 127.0.0.1:8000 for HTTP. --redirect-https makes the --http
listeners redirect every request to the first --https one.

SIGHUP restarts the WSGI workers one at a time without dropping a request, and
reloads the TLS certificates from their files (a broken file keeps the old
certificate, and the log says why). SIGUSR1 reopens the log files (logrotate).

Flags:
`

// Typed flag values that set config keys, and show the built-in default.
type sizeOpt struct {
	dst **config.Size
	def string
}

func (o sizeOpt) String() string {
	if o.dst == nil || *o.dst == nil {
		return o.def
	}
	return units.FormatSize((*o.dst).Bytes)
}

func (o sizeOpt) Set(v string) error {
	n, err := units.ParseSize(v)
	if err != nil {
		return err
	}
	*o.dst = &config.Size{Bytes: n}
	return nil
}

type durOpt struct {
	dst **config.Duration
	def string
}

func (o durOpt) String() string {
	if o.dst == nil || *o.dst == nil {
		return o.def
	}
	return (*o.dst).Duration.String()
}

func (o durOpt) Set(v string) error {
	d := new(config.Duration)
	if err := d.UnmarshalText([]byte(v)); err != nil {
		return err
	}
	*o.dst = d
	return nil
}

type intOpt struct {
	dst **int
	def string
}

func (o intOpt) String() string {
	if o.dst == nil || *o.dst == nil {
		return o.def
	}
	return strconv.Itoa(**o.dst)
}

func (o intOpt) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		return err
	}
	*o.dst = &n
	return nil
}

type strOpt struct {
	dst **string
	def string
}

func (o strOpt) String() string {
	if o.dst == nil || *o.dst == nil {
		return o.def
	}
	return **o.dst
}

func (o strOpt) Set(v string) error {
	*o.dst = &v
	return nil
}

func serveFlags(o *serveOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	o.fs = fs
	c := &o.cfg
	fs.StringVar(&o.config, "config", "", "serve the configuration in `FILE` (TOML); no other flags with it")
	fs.Var(&o.http, "http", "listen for HTTP on `ADDR`: host:port, :port, [::1]:port or unix:/path (repeatable; default 127.0.0.1:8000)")
	fs.Var(&o.https, "https", "listen for HTTPS on `ADDR`, as --http takes it, with the --cert certificates (repeatable)")
	fs.Var(&o.certs, "cert", "certificate `FILE` (PEM, leaf then chain) for --https, with the --key after it; the first is the default, others are chosen by the names they hold (repeatable)")
	fs.Var(&o.keys, "key", "private key `FILE` (PEM) of the --cert before it (repeatable)")
	fs.BoolVar(&o.h2c, "h2c", false, "also serve HTTP/2 without TLS on the --http listeners, to clients that start with its preface (prior knowledge)")
	fs.Var(intOpt{&c.HTTP2.MaxConcurrentStreams, "250"}, "http2-max-streams", "most HTTP/2 streams (so handlers) one connection has at once")
	fs.BoolVar(&o.redirect, "redirect-https", false, "make the --http listeners answer every request with a 308 redirect to the first --https listener")
	fs.StringVar(&o.hsts, "hsts", "", "send Strict-Transport-Security: `VALUE` on https responses, such as max-age=31536000")
	fs.Var(durOpt{&o.tls.HandshakeTimeout, "10s"}, "handshake-timeout", "time for a TLS handshake, from the connection on; then close (0s: none)")
	fs.Var(&o.acmeDomains, "acme-domain", "obtain the --https certificate for `NAME` from an ACME CA (Let's Encrypt by default), and renew it (repeatable)")
	fs.StringVar(&o.cfg.ACME.Email, "acme-email", "", "contact `ADDRESS` of the ACME account, for the CA's notices")
	fs.StringVar(&o.cfg.ACME.CA, "acme-ca", "", "ACME directory `URL` (default Let's Encrypt's)")
	fs.StringVar(&o.cfg.ACME.CARoot, "acme-ca-root", "", "PEM `FILE` of roots trusted for the ACME CA's own HTTPS (a private or test CA)")
	fs.StringVar(&o.cfg.ACME.CacheDir, "acme-cache", "", "`DIR` keeping the ACME account key and certificates (default /var/lib/gatehouse/acme for root)")
	fs.Var(durOpt{&o.tls.ReloadInterval, "0s"}, "cert-reload-interval", "check the certificate files this often and reload them when one changed (0s: only on SIGHUP)")
	fs.StringVar(&o.unixMode, "unix-mode", "0660", "file `MODE` of Unix sockets: who may connect")
	fs.StringVar(&o.unixOwner, "unix-owner", "", "`USER[:GROUP]` owning Unix sockets (default: this process's)")
	fs.Var(&o.sockets, "socket", "listen for the uwsgi protocol (nginx's uwsgi_pass) on `ADDR`: host:port or unix:/path (repeatable)")
	fs.Var(&o.sockAllow, "socket-allow", "serve uwsgi peers from this address or `PREFIX` (repeatable; default loopback; Unix sockets always)")
	fs.Var(&o.statics, "static", "serve the files under DIR at /prefix: `/prefix=DIR` (repeatable)")
	fs.StringVar(&o.php, "php", "", "serve the PHP site under `DIR` at / through php-fpm (see --fastcgi-pass)")
	fs.StringVar(&o.fcgiPass, "fastcgi-pass", "", "FastCGI server `ADDR` (unix:/path or host:port) for --php, or alone the application at / (--php default "+server.DefaultPHPPass+")")
	fs.Var(&o.proxyPass, "proxy-pass", "serve / by the HTTP server at `URL` (http://host:port, https://host:port or unix:/path); repeat it to balance over several")
	fs.StringVar(&o.proxyBalance, "proxy-balance", "", "how --proxy-pass balances: `POLICY` round_robin (default), least_conn, ip_hash, first, random or random_two")
	fs.StringVar(&o.proxyHealth, "proxy-health", "", "check each --proxy-pass server with a GET for `PATH` every 10 s; one that fails 3 in a row (or does not answer 2xx) gets no requests until it passes 2")
	fs.StringVar(&o.uwsgiPass, "uwsgi-pass", "", "serve / by the uWSGI server at `ADDR` (unix:/path or host:port)")
	fs.Var(&o.cgis, "cgi", "run the CGI scripts under DIR at /prefix: `/prefix=DIR`; or /prefix=FILE, one script for every path under /prefix (its PATH_INFO), as Apache's ScriptAlias (repeatable)")
	fs.StringVar(&o.xSendfile, "x-sendfile", "", "let the application at / answer X-Sendfile with a file under `DIR`")
	fs.StringVar(&o.xAccel, "x-accel", "", "let the application at / answer X-Accel-Redirect: /prefix/name with DIR/name: `/prefix/=DIR`")
	fs.BoolVar(&o.demo, "demo", false, "serve the built-in demo site at /")
	fs.BoolVar(&o.compress, "compress", false, "compress responses of text types (HTML, CSS, JavaScript, JSON, ...) with zstd, brotli or gzip, as each client accepts")
	fs.IntVar(&o.compressLevel, "compress-level", 0, "gzip `LEVEL` for --compress, 1 (fastest) to 9 (smallest) (default 5)")
	fs.BoolVar(&o.proxyProtocol, "proxy-protocol", false, "take the --http and --https connections from load balancers that start each with a PROXY protocol header (HAProxy's send-proxy, v1 or v2); others are refused")
	fs.Var(&o.proxyFrom, "proxy-from", "the load balancers' `ADDRESS` or prefix for --proxy-protocol (repeatable; default loopback only)")
	fs.BoolVar(&o.requestID, "request-id", false, "give every request an ID in X-Request-ID, passed to the applications, sent back and logged (one a client sends is replaced)")
	fs.StringVar(&o.cacheControl, "cache-control", "", "send Cache-Control: `VALUE` with the --static files, such as \"public, max-age=3600\"")
	w := &o.wsgi
	fs.StringVar(&w.App, "wsgi", "", "serve the WSGI application `MODULE:APP` at / (as gunicorn's argument)")
	fs.IntVar(&w.Workers, "workers", 0, "WSGI worker processes (default: the number of CPUs)")
	fs.IntVar(&w.Threads, "threads", 0, "requests one WSGI worker serves at once (default 1)")
	fs.StringVar(&w.Chdir, "chdir", "", "WSGI workers' working `DIR`, first on sys.path")
	fs.StringVar(&w.Python, "python", "", "Python `INTERPRETER` for WSGI workers (default python3)")
	fs.StringVar(&w.Venv, "venv", "", "virtual environment `DIR` whose Python runs the WSGI workers")
	fs.Var(&o.wsgiEnv, "env", "add `KEY=VALUE` to the WSGI workers' environment (repeatable)")
	fs.IntVar(&w.MaxRequests, "max-requests", 0, "recycle a WSGI worker after this many requests (0: never)")
	fs.IntVar(&w.MaxRequestsJitter, "max-requests-jitter", 0, "add up to this many to --max-requests, per worker")
	fs.Var(sizeOpt{&w.MaxRSS, "0"}, "max-rss", "recycle a WSGI worker whose resident memory exceeds `SIZE` (0: no limit)")
	fs.Var(durOpt{&w.Timeout, "30s"}, "timeout", "bound on one WSGI request; then 504, stacks logged, worker replaced (0s: none)")
	fs.Var(durOpt{&w.QueueTimeout, "10s"}, "queue-timeout", "how long a request may wait for a free WSGI worker; then 503")
	fs.Var(durOpt{&w.StatsInterval, "0s"}, "stats-interval", "log a line of WSGI worker states this often (0s: never)")
	fs.Var(intOpt{&w.WorkerQueue, "7"}, "worker-queue", "requests that may wait in a busy WSGI worker thread, behind a short one, when none is free (0-7; 0: none)")
	fs.StringVar(&c.AccessLog.Path, "access-log", "-", "access log `FILE`; - for stderr, off for none")
	fs.StringVar(&c.AccessLog.Format, "access-log-format", "combined", "access log `FORMAT`: combined, json, or a format of variables as nginx's log_format (\"$remote_addr $status $request_time $request_id\")")
	fs.Var(sizeOpt{&c.AccessLog.Buffer, "0"}, "access-log-buffer", "collect this many access-log `BYTES` before writing (flushed every second; 0 writes each line)")
	fs.StringVar(&c.Log.Level, "log-level", "info", "error log `LEVEL`: debug, info, warn or error")
	fs.StringVar(&c.Log.Format, "log-format", "text", "error log `FORMAT`: text or json")
	fs.StringVar(&c.Log.Path, "log-file", "", "error log `FILE` (default stderr); SIGUSR1 reopens it, and the access log's")
	fs.Var(durOpt{&c.Server.Grace, "30s"}, "grace", "how long in-flight requests may finish after a shutdown signal (0s: no limit)")
	fs.IntVar(&c.Server.MaxConns, "max-conns", 0, "refuse connections beyond this many open ones (0: no limit)")
	fs.StringVar(&c.Server.Engine, "engine", "", "connection `ENGINE`: epoll (event loops; default on Linux) or goroutine")
	fs.StringVar(&c.Server.Accept, "accept", "", "how epoll loops take TCP connections: `MODE` shared (one listening socket; default) or reuseport (one per loop)")
	h := &c.HTTP
	fs.Var(strOpt{&h.ServerName, shttp.DefaultServerName}, "server-name", "value of the Server response field; - sends none")
	fs.Var(sizeOpt{&h.MaxBody, "128MiB"}, "max-body", "largest request body (`SIZE`); larger: 413; 0: no limit")
	fs.Var(sizeOpt{&h.MaxRequestLine, "8KiB"}, "max-request-line", "longest request line (`SIZE`); longer: 414")
	fs.Var(sizeOpt{&h.MaxHeaderBytes, "32KiB"}, "max-header-bytes", "largest request head (`SIZE`); larger: 431")
	fs.Var(sizeOpt{&h.MaxFieldBytes, "8KiB"}, "max-field-bytes", "longest header field line (`SIZE`); longer: 431")
	fs.Var(intOpt{&h.MaxFields, "100"}, "max-fields", "most header fields; more: 431")
	fs.Var(durOpt{&h.ReadHeaderTimeout, "10s"}, "read-header-timeout", "time for a request head to arrive; then 408 and close, or just close if none began (0s: none)")
	fs.Var(durOpt{&h.BodyTimeout, "1m0s"}, "body-timeout", "time without progress reading a request body; then 408 (0s: none)")
	fs.Var(durOpt{&h.WriteTimeout, "1m0s"}, "write-timeout", "time without progress writing a response; then close (0s: none)")
	fs.Var(durOpt{&h.IdleTimeout, "1m15s"}, "idle-timeout", "how long a keep-alive connection may wait for its next request (0s: forever)")
	fs.Var(intOpt{&h.MaxRequestsPerConn, "0"}, "max-requests-per-conn", "close a connection after this many requests (0: no limit)")
	fs.BoolVar(&o.reqBuffering, "request-buffering", true, "read request bodies to their end before an application sees them (false: stream them; a slow uploader then holds a worker)")
	fs.BoolVar(&o.respBuffering, "response-buffering", true, "take applications' responses as fast as they come (false: pass them through; a slow reader then holds a worker)")
	fs.BoolVar(&o.csrf, "csrf", false, "refuse cross-site request forgery on every route: the browser's Sec-Fetch-Site and Origin (layer 1)")
	fs.BoolVar(&o.csrfTokens, "csrf-tokens", false, "also require a CSRF token on unsafe requests with cookies (layer 2): in the session with --session-store, else signed double-submit with --session-key; backends get it as X-CSRF-Token")
	fs.StringVar(&o.sessionStore, "session-store", "", "give every route a session, kept in `STORE`: memory, cookie (sealed with --session-key) or redis://HOST:PORT/DB (shared by instances)")
	fs.StringVar(&o.sessionKey, "session-key", "", "key `FILE` (gatehouse keygen) sealing --session-store cookie sessions and signing --csrf-tokens without a session store")
	fs.Var(&o.sessionPass, "session-pass", "pass the session value `NAME` to backends as X-Session-<Name>, and let them set it with X-Session-Set (repeatable)")
	fs.Var(sizeOpt{&h.BodyBuffer, "16KiB"}, "body-buffer", "request body `SIZE` kept in memory; the rest goes to a temporary file")
	fs.Var(sizeOpt{&h.ResponseBuffer, "64KiB"}, "response-buffer", "response `SIZE` kept in memory for a slow client; the rest goes to a temporary file")
	fs.Var(sizeOpt{&h.MaxTempFile, "1GiB"}, "max-temp-file", "most of one response waiting in its temporary file (`SIZE`); then the application waits (0: no file)")
	fs.Var((*stringList)(&h.TrustedProxies), "trusted-proxy", "believe X-Forwarded-For and X-Forwarded-Proto from peers at `ADDR` (an address, a CIDR range, \"private_ranges\" or \"unix\"; repeatable); from anyone else they are removed")
	fs.StringVar(&h.TempDir, "temp-dir", "", "`DIR` for the temporary files of request bodies and responses (default: the system's)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serveUsage)
		printDefaults(fs)
	}
	return fs
}

// printDefaults is flag.PrintDefaults with GNU-style "--name" (both forms parse).
func printDefaults(fs *flag.FlagSet) {
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" && f.DefValue != "0s" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// toConfig turns the flags into the configuration they stand for: one default
// site with a route per --static and / for --demo.
func (o *serveOptions) toConfig() (*config.Config, error) {
	if o.config != "" {
		var others []string
		o.fs.Visit(func(f *flag.Flag) {
			if f.Name != "config" {
				others = append(others, "--"+f.Name)
			}
		})
		if len(others) > 0 {
			return nil, usagef("--config takes no other flags (got %s): put them in the file", strings.Join(others, ", "))
		}
		return config.Load(o.config)
	}
	c := o.cfg
	mode, err := strconv.ParseUint(o.unixMode, 8, 32)
	if err != nil || mode > 0o777 {
		return nil, usagef("--unix-mode %q: want an octal mode such as 0660", o.unixMode)
	}
	addrs := o.http
	if len(addrs) == 0 && len(o.sockets) == 0 && len(o.https) == 0 {
		addrs = stringList{"127.0.0.1:8000"}
	}
	tlsTable, err := o.tlsTable()
	if err != nil {
		return nil, err
	}
	add := func(flag, a, protocol string) error {
		l := config.Listen{Addr: a, Protocol: protocol}
		switch flag {
		case "https":
			t := *tlsTable
			l.TLS = &t
		case "http":
			l.RedirectHTTPS = o.redirect
			l.H2C = o.h2c && !o.redirect
		}
		if flag != "socket" && o.proxyProtocol {
			l.ProxyProtocol, l.ProxyFrom = true, o.proxyFrom
		}
		if network, rest := listen.Network(a); network == "unix" {
			if rest == "" {
				return usagef("--%s %q: a Unix socket needs a path", flag, a)
			}
			l.Mode, l.Owner = o.unixMode, o.unixOwner
		} else if protocol == "uwsgi" {
			l.Allow = o.sockAllow
		}
		c.Listen = append(c.Listen, l)
		return nil
	}
	for _, a := range addrs {
		if err := add("http", a, ""); err != nil {
			return nil, err
		}
	}
	for _, a := range o.https {
		if err := add("https", a, ""); err != nil {
			return nil, err
		}
	}
	for _, a := range o.sockets {
		if err := add("socket", a, "uwsgi"); err != nil {
			return nil, err
		}
	}
	if len(o.proxyFrom) > 0 && !o.proxyProtocol {
		return nil, usagef("--proxy-from applies to --proxy-protocol: add it")
	}
	if len(o.sockAllow) > 0 && len(o.sockets) == 0 {
		return nil, usagef("--socket-allow applies to uwsgi listeners: add --socket ADDR")
	}
	site := config.Site{HSTS: o.hsts}
	if o.demo {
		site.Route = append(site.Route, config.Route{Path: "/", Demo: true})
	}
	for _, s := range o.statics {
		prefix, dir, err := prefixDir("static", s)
		if err != nil {
			return nil, err
		}
		site.Route = append(site.Route, config.Route{Path: prefix, Static: &config.Static{Root: dir}})
	}
	for _, s := range o.cgis {
		prefix, dir, err := prefixDir("cgi", s)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(dir); err == nil && fi.Mode().IsRegular() {
			// One program for every path under the prefix (ScriptAlias).
			site.Route = append(site.Route, config.Route{Path: prefix, CGI: &config.CGI{Script: dir}})
			continue
		}
		site.Route = append(site.Route, config.Route{Path: prefix, CGI: &config.CGI{Root: dir}})
	}
	var roots []string // what wants /
	for _, f := range []struct {
		name string
		set  bool
	}{{"--demo", o.demo}, {"--wsgi", o.wsgi.App != ""}, {"--php", o.php != ""},
		{"--fastcgi-pass", o.fcgiPass != "" && o.php == ""}, {"--uwsgi-pass", o.uwsgiPass != ""}, {"--proxy-pass", len(o.proxyPass) > 0}} {
		if f.set {
			roots = append(roots, f.name)
		}
	}
	if len(roots) > 1 {
		return nil, usagef("%s all want /: give one", strings.Join(roots, " and "))
	}
	var app *config.Route // the application at /, for --x-sendfile and --x-accel
	switch {
	case o.php != "":
		site.Route = append(site.Route, config.Route{Path: "/", PHP: &config.PHP{Root: o.php, Pass: o.fcgiPass}})
		app = &site.Route[len(site.Route)-1]
	case o.fcgiPass != "":
		site.Route = append(site.Route, config.Route{Path: "/", FastCGI: &config.FastCGI{Pass: o.fcgiPass}})
		app = &site.Route[len(site.Route)-1]
	case o.uwsgiPass != "":
		site.Route = append(site.Route, config.Route{Path: "/", UWSGI: &config.UWSGI{Pass: o.uwsgiPass}})
		app = &site.Route[len(site.Route)-1]
	case len(o.proxyPass) > 0:
		pass, err := o.proxyUpstream(&c)
		if err != nil {
			return nil, err
		}
		site.Route = append(site.Route, config.Route{Path: "/", Proxy: &config.Proxy{Pass: pass}})
		app = &site.Route[len(site.Route)-1]
	}
	if (o.proxyBalance != "" || o.proxyHealth != "") && len(o.proxyPass) == 0 {
		return nil, usagef("--proxy-balance and --proxy-health apply to --proxy-pass: add it")
	}
	if o.wsgi.App != "" {
		w := o.wsgi
		for _, kv := range o.wsgiEnv {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, usagef("--env %q: want KEY=VALUE", kv)
			}
			if w.Env == nil {
				w.Env = map[string]string{}
			}
			w.Env[k] = v
		}
		if s := w.StatsInterval; s != nil && s.Duration == 0 {
			w.StatsInterval = nil // "0s" is the default: never
		}
		site.Route = append(site.Route, config.Route{Path: "/", WSGI: &w})
		app = &site.Route[len(site.Route)-1]
	} else {
		var given []string
		o.fs.Visit(func(f *flag.Flag) {
			if slices.Contains(wsgiFlags, f.Name) {
				given = append(given, "--"+f.Name)
			}
		})
		if len(given) > 0 {
			return nil, usagef("%s only apply to a WSGI application: add --wsgi MODULE:APP", strings.Join(given, ", "))
		}
	}
	if o.xSendfile != "" || o.xAccel != "" {
		if app == nil {
			return nil, usagef("--x-sendfile and --x-accel apply to an application at /: add --php, --wsgi, --fastcgi-pass, --uwsgi-pass or --proxy-pass")
		}
		if o.xSendfile != "" {
			app.XSendfile = &config.XSendfile{Dir: o.xSendfile}
		}
		if o.xAccel != "" {
			prefix, dir, ok := strings.Cut(o.xAccel, "=")
			if !ok || dir == "" {
				return nil, usagef("--x-accel %q: want /prefix/=DIR", o.xAccel)
			}
			app.XAccel = &config.XAccel{Prefix: prefix, Dir: dir}
		}
	}
	apps := 0
	for i := range site.Route {
		r := &site.Route[i]
		if !r.IsApplication() {
			continue
		}
		apps++
		if !o.reqBuffering {
			r.RequestBuffering = new(bool)
		}
		if !o.respBuffering {
			r.ResponseBuffering = new(bool)
		}
	}
	if apps == 0 && (!o.reqBuffering || !o.respBuffering) {
		return nil, usagef("--request-buffering and --response-buffering apply to applications: add --wsgi, --php, --fastcgi-pass, --uwsgi-pass, --proxy-pass or --cgi")
	}
	if o.requestID {
		c.RequestID = &config.RequestID{}
	}
	if f := c.AccessLog.Format; strings.Contains(f, "$") {
		// A format of its own: the file's formats table, under a name.
		c.AccessLog.Formats = map[string]string{"custom": f}
		c.AccessLog.Format = "custom"
	}
	if o.compressLevel != 0 && !o.compress {
		return nil, usagef("--compress-level applies to --compress: add it")
	}
	if o.compress {
		for i := range site.Route {
			site.Route[i].Compress = &config.Compress{GzipLevel: o.compressLevel}
		}
	}
	if o.cacheControl != "" {
		if len(o.statics) == 0 {
			return nil, usagef("--cache-control applies to --static files: add --static /prefix=DIR")
		}
		for i := range site.Route {
			if s := site.Route[i].Static; s != nil {
				s.CacheControl = o.cacheControl
			}
		}
	}
	if len(site.Route) == 0 {
		return nil, usagef("nothing to serve: give --demo, --static /prefix=DIR, --wsgi MODULE:APP, --php DIR, --uwsgi-pass ADDR, --proxy-pass URL, --cgi /prefix=DIR or --config FILE (see gatehouse serve --help)")
	}
	if err := o.security(&site); err != nil {
		return nil, err
	}
	c.Site = []config.Site{site}
	c.ACME.Domains = o.acmeDomains
	if err := c.Validate(); err != nil {
		return nil, &usageError{err.Error()}
	}
	return &c, nil
}

// security sets the site's session and csrf tables from --session-store,
// --session-key, --session-pass, --csrf and --csrf-tokens.
func (o *serveOptions) security(site *config.Site) error {
	if o.sessionStore == "" && len(o.sessionPass) > 0 {
		return usagef("--session-pass applies to sessions: add --session-store memory|cookie|redis://HOST:PORT/DB")
	}
	kind, _ := config.SessionStoreKind(o.sessionStore)
	if o.sessionStore != "" {
		site.Session = &config.Session{Store: o.sessionStore, Pass: o.sessionPass}
		if kind == "cookie" {
			site.Session.KeyFile = o.sessionKey
		}
	}
	if o.csrf || o.csrfTokens {
		site.CSRF = &config.CSRF{}
	}
	if o.csrfTokens {
		if site.Session != nil {
			site.CSRF.Tokens = "session"
		} else {
			if o.sessionKey == "" {
				return usagef("--csrf-tokens keeps tokens in a session (--session-store) or signs them with a key (--session-key FILE, from gatehouse keygen)")
			}
			site.CSRF.Tokens = "double-submit"
			site.CSRF.KeyFile = o.sessionKey
		}
	}
	if o.sessionKey != "" && kind != "cookie" && (site.CSRF == nil || site.CSRF.Tokens != "double-submit") {
		return usagef("--session-key seals --session-store cookie sessions, or signs --csrf-tokens without a session store: neither is asked for")
	}
	return nil
}

// tlsTable is the tls table of every --https listener, from --cert, --key
// and the TLS flags; nil without --https, where those flags are mistakes.
func (o *serveOptions) tlsTable() (*config.TLS, error) {
	if len(o.https) == 0 {
		var given []string
		o.fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "cert", "key", "redirect-https", "hsts", "handshake-timeout", "cert-reload-interval",
				"acme-domain", "acme-email", "acme-ca", "acme-ca-root", "acme-cache":
				given = append(given, "--"+f.Name)
			}
		})
		if len(given) > 0 {
			verb := "apply"
			if len(given) == 1 {
				verb = "applies"
			}
			return nil, usagef("%s %s to HTTPS: add --https ADDR", strings.Join(given, ", "), verb)
		}
		return nil, nil
	}
	if len(o.certs) != len(o.keys) || len(o.certs) == 0 && len(o.acmeDomains) == 0 {
		return nil, usagef("--https needs certificates in pairs, --cert FILE --key FILE (got %d --cert, %d --key), or --acme-domain NAME", len(o.certs), len(o.keys))
	}
	if len(o.acmeDomains) == 0 {
		var given []string
		o.fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "acme-email", "acme-ca", "acme-ca-root", "acme-cache":
				given = append(given, "--"+f.Name)
			}
		})
		if len(given) > 0 {
			return nil, usagef("%s need --acme-domain NAME: the names to obtain certificates for", strings.Join(given, ", "))
		}
	}
	if o.redirect && len(o.http) == 0 {
		return nil, usagef("--redirect-https applies to --http listeners: add --http ADDR (port 80)")
	}
	t := o.tls
	if len(o.certs) > 0 {
		t.Cert, t.Key = o.certs[0], o.keys[0]
	}
	t.ACME = len(o.acmeDomains) > 0
	for i := 1; i < len(o.certs); i++ {
		t.Certs = append(t.Certs, config.CertFiles{Cert: o.certs[i], Key: o.keys[i]})
	}
	if d := t.ReloadInterval; d != nil && d.Duration == 0 {
		t.ReloadInterval = nil // "0s" is the default: never
	}
	return &t, nil
}

// prefixDir splits a /prefix=DIR flag value; the prefix gets its final slash.
func prefixDir(flag, v string) (prefix, dir string, err error) {
	prefix, dir, ok := strings.Cut(v, "=")
	if !ok || dir == "" || !strings.HasPrefix(prefix, "/") {
		return "", "", usagef("--%s %q: want /prefix=DIR", flag, v)
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return prefix, dir, nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o serveOptions
	fs := serveFlags(&o)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	cfg, err := o.toConfig()
	if err != nil {
		return err
	}
	built, err := server.Build(cfg, server.BuildOptions{Stderr: stderr})
	if err != nil {
		return err
	}
	defer built.Close()
	logger := built.Logger
	for _, w := range built.Warnings {
		logger.Warn("configuration: "+w.Msg, "at", w.Where(), "hint", w.Hint)
	}
	srv, err := server.New(built.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		// The first signal starts a graceful shutdown; a second one closes
		// everything at once. done (not ctx, which the first signal cancels)
		// ends the wait when serving has stopped.
		select {
		case s := <-sigs:
			logger.Info("signal received; shutting down", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			logger.Warn("second signal; closing all connections now", "signal", s.String())
			srv.Close()
		case <-done:
		}
	}()
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	go func() {
		for {
			select {
			case <-hups:
				// Say what SIGHUP does, which is not yet what nginx's does:
				// the configuration file is not read again.
				what := "nothing restarts in place"
				if r := built.Reloads(); len(r) > 0 {
					what = strings.Join(r, " and ")
				}
				logger.Info("SIGHUP: " + what + "; the configuration is not re-read")
				if err := built.Reload(); err != nil {
					// Each part that failed has logged why, with its detail
					// (a traceback): one line here, not the reason again.
					logger.Warn("SIGHUP: reload incomplete; what failed keeps serving as it was")
				}
			case <-usr1:
				// logrotate has renamed the log files: write to new ones.
				if err := built.Reopen(); err != nil {
					logger.Warn("SIGUSR1: a log file could not be reopened; it keeps its old file", "err", err)
				} else {
					logger.Info("SIGUSR1: log files reopened")
				}
			case <-done:
				return
			}
		}
	}()
	if err := srv.Start(ctx); err != nil {
		return err
	}
	return srv.Run(ctx)
}

const keygenUsage = `Usage: gatehouse keygen

Prints a new key: 32 random bytes in base64url, one line, for a key file
(session.key_file, csrf.key_file, --session-key). A key file holds one key
per line, the newest first: the first seals and signs, all of them open and
verify. To rotate, put a new key first, and remove the old one once every
cookie it sealed has expired (the session's lifetime):

  gatehouse keygen > /etc/gatehouse/session.key
  { gatehouse keygen; cat /etc/gatehouse/session.key; } > new.key && mv new.key /etc/gatehouse/session.key

Keep the file readable by gatehouse only: whoever has a key can forge
sessions and tokens.
`

func runKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), keygenUsage) }
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	fmt.Fprintln(stdout, cookie.GenerateKey())
	return nil
}

const checkUsage = `Usage: gatehouse check FILE

Reads the configuration FILE and reports every problem with its line and a
hint: syntax, unknown keys, values out of range, directories that do not exist,
certificates that cannot be served. Warnings (a certificate no site needs) are
reported too, but do not fail the check. Exit status 0 when the file is fine,
2 when it is not.
`

// errCheckFailed carries check's problems: they are printed already.
type checkFailed struct{ n int }

func (e *checkFailed) Error() string { return fmt.Sprintf("%d problem(s) found", e.n) }

func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(fs.Output(), checkUsage) }
	if err := parseOnly(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("check takes one FILE")
	}
	file := fs.Arg(0)
	report := func(err error) error {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(stderr, p.String())
			}
			return &checkFailed{ps.Errors()}
		}
		fmt.Fprintln(stderr, err)
		return &checkFailed{1}
	}
	cfg, err := config.Load(file)
	if err != nil {
		return report(err)
	}
	built, err := server.Build(cfg, server.BuildOptions{Stderr: io.Discard, Check: true})
	if err != nil {
		return report(err)
	}
	built.Close()
	for _, w := range built.Warnings {
		fmt.Fprintln(stderr, w.String())
	}
	fmt.Fprintf(stdout, "%s: ok (%d listener(s), %d site(s), %d route(s))\n", file, len(cfg.Listen), built.Sites, built.Routes)
	return nil
}

// proxyUpstream turns the --proxy-pass URLs into a proxy route's pass: the
// URL itself when there is one and nothing else to say, else an
// [[upstream]] "proxy" of them all, which balances over them (one scheme
// for all) by --proxy-balance and checks them by --proxy-health.
func (o *serveOptions) proxyUpstream(c *config.Config) (string, error) {
	urls := o.proxyPass
	if o.proxyBalance != "" && !upstreamspec.IsPolicy(o.proxyBalance) {
		return "", usagef("--proxy-balance %q: want one of %s", o.proxyBalance, strings.Join(upstreamspec.Policies, ", "))
	}
	if o.proxyHealth != "" && (!strings.HasPrefix(o.proxyHealth, "/") || !upstreamspec.ValidPath(o.proxyHealth)) {
		return "", usagef("--proxy-health %q: want a path such as /healthz", o.proxyHealth)
	}
	if len(urls) == 1 && o.proxyBalance == "" && o.proxyHealth == "" {
		if _, err := config.ParseProxyPass(urls[0]); err != nil || !config.IsAddr(urls[0]) {
			return "", usagef("--proxy-pass %q: want http://host:port, https://host:port or unix:/path", urls[0])
		}
		return urls[0], nil
	}
	u := config.Upstream{Name: "proxy", Kind: "http", Balance: o.proxyBalance}
	if o.proxyHealth != "" {
		u.Health = &config.UpstreamHealth{Kind: "http", Path: o.proxyHealth}
	}
	for i, s := range urls {
		pp, err := config.ParseProxyPass(s)
		if err != nil || pp.Upstream != "" {
			return "", usagef("--proxy-pass %q: want http://host:port, https://host:port or unix:/path", s)
		}
		kind := "http"
		if pp.TLS {
			kind = "https"
		}
		if i > 0 && kind != u.Kind {
			return "", usagef("--proxy-pass: give every URL the same scheme (%s and %s)", urls[0], s)
		}
		u.Kind = kind
		u.Addrs = append(u.Addrs, pp.Addr)
	}
	c.Upstream = append(c.Upstream, u)
	return u.Name, nil
}
