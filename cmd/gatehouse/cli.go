package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gatehouse/backend/static"
	"gatehouse/internal/units"
	"gatehouse/listen"
	"gatehouse/middleware/accesslog"
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
  gatehouse version           print the version
  gatehouse help              print this help

Examples:
  gatehouse serve --demo
  gatehouse serve --http :8000 --http unix:/run/gatehouse.sock --static /=./public
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
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return errHelp
	}
	if err != nil {
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// sizeFlag is a byte size flag ("128m", "64KiB").
type sizeFlag struct{ n *int64 }

func (s sizeFlag) String() string {
	if s.n == nil {
		return ""
	}
	return units.FormatSize(*s.n)
}

func (s sizeFlag) Set(v string) error {
	n, err := units.ParseSize(v)
	if err != nil {
		return err
	}
	*s.n = n
	return nil
}

// intSizeFlag is sizeFlag for int fields.
type intSizeFlag struct{ n *int }

func (s intSizeFlag) String() string {
	if s.n == nil {
		return ""
	}
	return units.FormatSize(int64(*s.n))
}

func (s intSizeFlag) Set(v string) error {
	n, err := units.ParseSize(v)
	if err != nil {
		return err
	}
	if n > 1<<31-1 {
		return fmt.Errorf("%s is too large", v)
	}
	*s.n = int(n)
	return nil
}

type serveOptions struct {
	http       stringList
	unixMode   string
	unixOwner  string
	statics    stringList
	demo       bool
	accessLog  string
	accessFmt  string
	accessBuf  int64
	logLevel   string
	logFormat  string
	grace      time.Duration
	maxConns   int
	serverName string
	cfg        shttp.Config
}

const serveUsage = `Usage: gatehouse serve [flags]

Serves HTTP on every --http address until SIGINT or SIGTERM, then shuts down
gracefully: it stops accepting, lets in-flight requests finish within --grace,
closes idle connections and exits 0. A second signal closes everything at once.

What to serve (at least one):
  --demo                 the built-in demo site at /
  --static /prefix=DIR   the files under DIR at /prefix (repeatable)

Flags:
`

func serveFlags(o *serveOptions) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.Var(&o.http, "http", "listen for HTTP on `ADDR`: host:port, :port, [::1]:port or unix:/path (repeatable; default 127.0.0.1:8000)")
	fs.StringVar(&o.unixMode, "unix-mode", "0660", "file `MODE` of Unix sockets: who may connect")
	fs.StringVar(&o.unixOwner, "unix-owner", "", "`USER[:GROUP]` owning Unix sockets (default: this process's)")
	fs.Var(&o.statics, "static", "serve the files under DIR at /prefix: `/prefix=DIR` (repeatable)")
	fs.BoolVar(&o.demo, "demo", false, "serve the built-in demo site at /")
	fs.StringVar(&o.accessLog, "access-log", "-", "access log `FILE`; - for stderr, off for none")
	fs.StringVar(&o.accessFmt, "access-log-format", "combined", "access log `FORMAT`: combined or json")
	fs.Var(sizeFlag{&o.accessBuf}, "access-log-buffer", "collect this many access-log `BYTES` before writing (flushed every second; 0 writes each line)")
	fs.StringVar(&o.logLevel, "log-level", "info", "error log `LEVEL`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "error log `FORMAT`: text or json")
	fs.DurationVar(&o.grace, "grace", server.DefaultShutdownGrace, "how long in-flight requests may finish after a shutdown signal (0: no limit)")
	fs.IntVar(&o.maxConns, "max-conns", 0, "refuse connections beyond this many open ones (0: no limit)")
	fs.StringVar(&o.serverName, "server-name", shttp.DefaultServerName, "value of the Server response field; - sends none")

	c := &o.cfg
	c.MaxBodyBytes = shttp.DefaultMaxBodyBytes
	c.Limits.MaxRequestLine = 8 << 10
	c.Limits.MaxHeaderBytes = 32 << 10
	c.Limits.MaxFieldBytes = 8 << 10
	c.Limits.MaxFields = 100
	c.ReadHeaderTimeout = shttp.DefaultReadHeaderTimeout
	c.BodyReadTimeout = shttp.DefaultBodyReadTimeout
	c.WriteTimeout = shttp.DefaultWriteTimeout
	c.IdleTimeout = shttp.DefaultIdleTimeout
	fs.Var(sizeFlag{&c.MaxBodyBytes}, "max-body", "largest request body (`SIZE`); larger: 413")
	fs.Var(intSizeFlag{&c.Limits.MaxRequestLine}, "max-request-line", "longest request line (`SIZE`); longer: 414")
	fs.Var(intSizeFlag{&c.Limits.MaxHeaderBytes}, "max-header-bytes", "largest request head (`SIZE`); larger: 431")
	fs.Var(intSizeFlag{&c.Limits.MaxFieldBytes}, "max-field-bytes", "longest header field line (`SIZE`); longer: 431")
	fs.IntVar(&c.Limits.MaxFields, "max-fields", c.Limits.MaxFields, "most header fields; more: 431")
	fs.DurationVar(&c.ReadHeaderTimeout, "read-header-timeout", c.ReadHeaderTimeout, "time for a request head to arrive; then 408 and close")
	fs.DurationVar(&c.BodyReadTimeout, "body-timeout", c.BodyReadTimeout, "time without progress reading a request body; then 408")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", c.WriteTimeout, "time without progress writing a response; then close")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&c.MaxRequestsPerConn, "max-requests-per-conn", 0, "close a connection after this many requests (0: no limit)")
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

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o serveOptions
	fs := serveFlags(&o)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	logger, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	cfg, site, closeLog, err := o.build(logger, stderr)
	if err != nil {
		return err
	}
	defer site.Close()
	defer closeLog()
	srv, err := server.New(cfg)
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
	if err := srv.Start(ctx); err != nil {
		return err
	}
	return srv.Run(ctx)
}

// build turns flags into a server configuration.
func (o *serveOptions) build(logger *slog.Logger, stderr io.Writer) (server.Config, *server.Site, func() error, error) {
	var cfg server.Config
	mode, err := strconv.ParseUint(o.unixMode, 8, 32)
	if err != nil || mode > 0o777 {
		return cfg, nil, nil, usagef("--unix-mode %q: want an octal mode such as 0660", o.unixMode)
	}
	addrs := o.http
	if len(addrs) == 0 {
		addrs = stringList{"127.0.0.1:8000"}
	}
	for _, a := range addrs {
		if network, rest := listen.Network(a); network == "unix" && rest == "" {
			return cfg, nil, nil, usagef("--http %q: a Unix socket needs a path", a)
		}
		cfg.Listeners = append(cfg.Listeners, listen.Config{Addr: a, Mode: os.FileMode(mode), Owner: o.unixOwner})
	}
	var mounts []server.Mount
	if o.demo {
		mounts = append(mounts, server.Mount{Prefix: "/", Demo: true})
	}
	for _, s := range o.statics {
		prefix, dir, ok := strings.Cut(s, "=")
		if !ok || dir == "" || !strings.HasPrefix(prefix, "/") {
			return cfg, nil, nil, usagef("--static %q: want /prefix=DIR", s)
		}
		mounts = append(mounts, server.Mount{Prefix: prefix, Static: &static.Config{Root: dir}})
	}
	if len(mounts) == 0 {
		return cfg, nil, nil, usagef("nothing to serve: give --demo or --static /prefix=DIR (see gatehouse serve --help)")
	}
	site, err := server.BuildSite(mounts)
	if err != nil {
		return cfg, nil, nil, err
	}
	closeLog := func() error { return nil }
	switch o.accessLog {
	case "off", "":
	default:
		format, ok := accesslog.ParseFormat(o.accessFmt)
		if !ok {
			site.Close()
			return cfg, nil, nil, usagef("--access-log-format %q: want combined or json", o.accessFmt)
		}
		w := stderr
		var file *os.File
		if o.accessLog != "-" {
			f, err := os.OpenFile(o.accessLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
			if err != nil {
				site.Close()
				return cfg, nil, nil, fmt.Errorf("access log: %w", err)
			}
			w, file = f, f
		}
		al := accesslog.New(w, accesslog.Options{Format: format, Buffer: int(o.accessBuf)})
		o.cfg.AccessLog = al
		closeLog = func() error {
			err := al.Close()
			if file != nil {
				err = errors.Join(err, file.Close())
			}
			return err
		}
	}
	o.cfg.ServerName = o.serverName
	o.cfg.Logger = logger
	cfg.HTTP = o.cfg
	cfg.Handler = site.Handler
	cfg.ShutdownGrace = o.grace
	if o.grace == 0 {
		cfg.ShutdownGrace = -1 // 0 on the command line: wait as long as it takes
	}
	cfg.MaxConns = o.maxConns
	cfg.Logger = logger
	return cfg, site, closeLog, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want text or json", format)
}
