// Command run is the side-by-side benchmark of gatehouse against net/http,
// fasthttp and gnet on a plaintext response, and against nginx on static files.
// It builds the responders under servers/, then for each scenario runs each of
// its servers in turn, pinned to its own CPU, under wrk pinned to the other, and
// reports medians of throughput, server CPU time per request and, for idle
// connections, memory. See README.md.
//
//	cd bench && go run ./cmd/run [-reps 5] [-duration 10s] [-scenarios c50,static13] [-servers gatehouse,gnet]
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gatehouse/bench/internal/rlimit"
)

// serverSpec is one contender. It is either a responder of this module
// (servers/<Build>, built to bin/<Build>) or an installed program (Program, found
// on PATH), such as nginx, whose Args write its config for the run.
type serverSpec struct {
	Name  string
	Build string
	// BuildPkg is the package Build is compiled from, when it is not
	// ./servers/<Build> (gatehouse's own command).
	BuildPkg string
	Program  string
	// Args returns the command line of one run, after the program. It may write
	// files into l.Dir, such as a generated config, and check them.
	Args func(l launch) ([]string, error)
	// Log is a file in l.Dir the program writes its errors to, shown with its
	// output when a run fails. Empty when all of it goes to stderr.
	Log string
	// Version describes an installed program's version for the report.
	Version func() string
	// Peer is a second program that runs with this one, started first and
	// measured with it: uWSGI behind nginx.
	Peer *peerSpec
	// OptIn servers run only when -servers names them.
	OptIn bool
	// Upstream servers are reverse proxies in front of the shared
	// application (servers/upstream, see proxy.go), whose CPU time is
	// reported apart from theirs.
	Upstream bool
}

// peerSpec is the program a server needs beside it.
type peerSpec struct {
	Program string
	Args    func(l launch) []string
	// Ready waits until the peer accepts.
	Ready func(l launch) error
}

// launch is what one run of one server gets to start with.
type launch struct {
	Addr string // 127.0.0.1:PORT, a fresh port
	Port int
	WWW  string // the directory the static scenarios serve
	Dir  string // an empty directory of the run's own, removed after it
	Cert string // the TLS scenarios' certificate and key (PEM files)
	Key  string
	App  string // WSGI scenarios: the application, module:callable
	Apps string // WSGI scenarios: the directory holding the applications
	// Upstream is the proxy scenarios' application: its Unix socket.
	Upstream string
}

// responder gives a responder of this module its listen address and extra.
func responder(extra ...string) func(launch) ([]string, error) {
	return func(l launch) ([]string, error) {
		return append([]string{"-addr", l.Addr}, extra...), nil
	}
}

// servers is every contender. A new engine or variant is one more line here and
// its name in the scenarios it should run in.
var servers = []serverSpec{
	{Name: "gatehouse-epoll", Build: "gatehouse", Args: responder("-engine", "epoll")},
	{Name: "gatehouse-goroutine", Build: "gatehouse", Args: responder("-engine", "goroutine")},
	// The epoll engine with a listening socket per loop: the same as
	// gatehouse-epoll with one loop, so only run when named, with -gomaxprocs 2.
	{Name: "gatehouse-reuseport", Build: "gatehouse", Args: responder("-engine", "epoll", "-accept", "reuseport"), OptIn: true},
	{Name: "nethttp", Build: "nethttp", Args: responder()},
	{Name: "fasthttp", Build: "fasthttp", Args: responder()},
	{Name: "gnet", Build: "gnet", Args: responder()},
	{Name: "gatehouse-static", Build: "gatehouse-static", Args: func(l launch) ([]string, error) {
		return []string{"-addr", l.Addr, "-root", l.WWW}, nil
	}},
	{Name: "nginx", Program: "nginx", Args: nginxArgs(false), Log: "error.log", Version: nginxVersion},
	{Name: "nginx-cached", Program: "nginx", Args: nginxArgs(true), Log: "error.log", Version: nginxVersion},
	{Name: "gatehouse-wsgi", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehouseWSGIArgs},
	// gatehouse without request and response buffering, for what buffering
	// costs: only when named.
	{Name: "gatehouse-wsgi-unbuffered", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehouseWSGIUnbufferedArgs, OptIn: true},
	{Name: "gunicorn", Program: "gunicorn", Args: gunicornArgs, Version: pythonVersion("gunicorn")},
	{Name: "uwsgi-http", Program: "uwsgi", Args: uwsgiHTTPArgs, Version: uwsgiVersion},
	{Name: "nginx-uwsgi", Program: "nginx", Args: nginxUWSGIArgs, Log: "error.log", Version: nginxVersion,
		Peer: uwsgiPeer},
	{Name: "gatehouse-php", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehousePHPArgs,
		Version: phpVersion, Peer: phpFPMPeer},
	{Name: "gatehouse-php-unbuffered", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehousePHPUnbufferedArgs,
		Version: phpVersion, Peer: phpFPMPeer, OptIn: true},
	{Name: "gatehouse-tls", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehouseTLSArgs},
	{Name: "nginx-tls", Program: "nginx", Args: nginxTLSArgs, Log: "error.log", Version: nginxVersion},
	{Name: "nethttp-tls", Build: "nethttp-tls", Args: func(l launch) ([]string, error) {
		return []string{"-addr", l.Addr, "-root", l.WWW, "-cert", l.Cert, "-key", l.Key}, nil
	}},
	{Name: "nginx-php", Program: "nginx", Args: nginxPHPArgs(false), Log: "error.log", Version: nginxVersion, Peer: phpFPMPeer},
	{Name: "nginx-php-keepalive", Program: "nginx", Args: nginxPHPArgs(true), Log: "error.log", Version: nginxVersion, Peer: phpFPMPeer},
	{Name: "gatehouse-uwsgi", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehouseUWSGIArgs,
		Version: uwsgiVersion, Peer: uwsgiPeer},
	{Name: "gatehouse-proxy", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehouseProxyArgs, Upstream: true},
	{Name: "gatehouse-proxy-unbuffered", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehouseProxyUnbufferedArgs,
		Upstream: true, OptIn: true},
	{Name: "nginx-proxy", Program: "nginx", Args: nginxProxyArgs, Log: "error.log", Version: nginxVersion, Upstream: true},
	// The plaintext responder behind the security middleware: what each
	// adds per request (middleware.go).
	{Name: "gatehouse-csrf", Build: "gatehouse", Args: responder("-engine", "epoll", "-csrf")},
	{Name: "gatehouse-session-memory", Build: "gatehouse", Args: responder("-engine", "epoll", "-session", "memory")},
	{Name: "gatehouse-session-redis", Build: "gatehouse", Args: sessionRedisArgs, Version: redisVersion, Peer: redisPeer},
	{Name: "gatehouse-gzip1", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehouseGzipArgs(1)},
	{Name: "nginx-gzip1", Program: "nginx", Args: nginxGzipArgs(1), Log: "error.log", Version: nginxVersion},
	{Name: "gatehouse-gzip6", Build: "gatehouse-cmd", BuildPkg: "gatehouse/cmd/gatehouse", Args: gatehouseGzipArgs(6)},
	{Name: "nginx-gzip6", Program: "nginx", Args: nginxGzipArgs(6), Log: "error.log", Version: nginxVersion},
}

// The contenders of each kind of scenario, in the order of rep 1.
var (
	plaintextServers = []string{"gatehouse-epoll", "gatehouse-goroutine", "nethttp", "fasthttp", "gnet"}
	// acceptServers compare the epoll engine's two accept modes (run with
	// -gomaxprocs 2 and two server CPUs, so that there are two loops).
	acceptServers = []string{"gatehouse-epoll", "gatehouse-reuseport"}
	staticServers = []string{"gatehouse-static", "nginx", "nginx-cached"}
	wsgiServers   = []string{"gatehouse-wsgi", "gatehouse-wsgi-unbuffered", "gunicorn", "uwsgi-http", "nginx-uwsgi"}
	phpServers    = []string{"gatehouse-php", "gatehouse-php-unbuffered", "nginx-php", "nginx-php-keepalive"}
	uwsgiServers  = []string{"gatehouse-uwsgi", "nginx-uwsgi"}
	tlsServers    = []string{"gatehouse-tls", "nginx-tls", "nethttp-tls"}
	proxyServers  = []string{"gatehouse-proxy", "gatehouse-proxy-unbuffered", "nginx-proxy"}
	mwServers     = []string{"gatehouse-epoll", "gatehouse-csrf", "gatehouse-session-memory", "gatehouse-session-redis"}
)

// scenario is one load shape. A load scenario drives wrk with Conns keep-alive
// connections requesting Path, sending Pipeline requests per write when
// Pipeline > 0, or on a new connection per request when Close is set; an idle
// scenario holds Idle connections open after one request each and measures
// memory. Servers are the contenders it runs, Baseline the one
// its ratios compare with, and Check what each server must answer before it is
// measured.
type scenario struct {
	Name     string
	Path     string
	App      string // WSGI scenarios: module:callable in bench/apps
	Conns    int
	Pipeline int
	Close    bool // wrk sends "Connection: close": one connection per request
	Gzip     bool // wrk sends "Accept-Encoding: gzip"
	TLS      bool // https: wrk over TLS (HTTP/1.1)
	H2       bool // h2load over TLS (HTTP/2, 10 streams per connection) instead of wrk
	Idle     int
	Servers  []string
	Baseline string
	Check    func(addr string, s serverSpec) error
	// Script is a wrk Lua script in the bench directory (post.lua).
	Script string
	// Fields returns the request fields wrk sends in one run, after the
	// check (a session cookie the server just issued).
	Fields func(addr string) ([]string, error)
	About  string
}

var scenarios = []scenario{
	{Name: "c50", Path: "/plaintext", Conns: 50, Servers: slices.Concat(plaintextServers, []string{"gatehouse-reuseport"}), Baseline: "gatehouse-epoll", Check: checkPlaintext,
		About: "wrk -t1 -c50, keep-alive GET /plaintext"},
	{Name: "c256", Path: "/plaintext", Conns: 256, Servers: slices.Concat(plaintextServers, []string{"gatehouse-reuseport"}), Baseline: "gatehouse-epoll", Check: checkPlaintext,
		About: "wrk -t1 -c256, keep-alive GET /plaintext"},
	{Name: "pipeline16", Path: "/plaintext", Conns: 256, Pipeline: 16, Servers: plaintextServers, Baseline: "gatehouse-epoll", Check: checkPlaintext,
		About: "wrk -t1 -c256, 16 pipelined GETs per write (pipeline.lua); every response counts"},
	{Name: "idle10k", Path: "/plaintext", Idle: 10000, Servers: plaintextServers, Baseline: "gatehouse-epoll", Check: checkPlaintext,
		About: "10,000 keep-alive connections, one GET each, then idle for 2 s; server VmRSS"},
	{Name: "close50", Path: "/plaintext", Conns: 50, Close: true, Servers: acceptServers, Baseline: "gatehouse-epoll", Check: checkPlaintext,
		About: "wrk -t1 -c50 -H 'Connection: close', GET /plaintext: a new connection for every request"},
	{Name: "static13", Path: "/hello.txt", Conns: 50, Servers: staticServers, Baseline: "gatehouse-static", Check: checkStatic,
		About: "wrk -t1 -c50, keep-alive GET /hello.txt: a 13-byte file served from disk"},
	{Name: "static64k", Path: "/64k.bin", Conns: 50, Servers: staticServers, Baseline: "gatehouse-static", Check: checkStatic,
		About: "wrk -t1 -c50, keep-alive GET /64k.bin: a 65,536-byte file served from disk"},
	{Name: "tls_c50", Path: "/hello.txt", Conns: 50, TLS: true, Servers: tlsServers, Baseline: "gatehouse-tls", Check: checkTLS,
		About: "wrk -t1 -c50 over TLS 1.3 (ECDSA P-256), keep-alive HTTP/1.1 GET /hello.txt (13 bytes)"},
	{Name: "tls_close50", Path: "/hello.txt", Conns: 50, TLS: true, Close: true, Servers: tlsServers, Baseline: "gatehouse-tls", Check: checkTLS,
		About: "wrk -t1 -c50 over TLS 1.3 with Connection: close: a new connection and full handshake per request"},
	{Name: "h2_c50", Path: "/hello.txt", Conns: 50, H2: true, Servers: tlsServers, Baseline: "gatehouse-tls", Check: checkTLS,
		About: "h2load -t1 -c50 -m10 over TLS 1.3, HTTP/2 GET /hello.txt (13 bytes)"},
	{Name: "wsgi_hello", Path: "/", App: "hello:application", Conns: 50, Servers: wsgiServers, Baseline: "gatehouse-wsgi",
		Check: checkWSGI("/", []byte("Hello, World!")), About: "wrk -t1 -c50, GET / of a plain WSGI application (13 bytes), 2 worker processes"},
	{Name: "flask_hello", Path: "/", App: "flaskbench:app", Conns: 50, Servers: wsgiServers, Baseline: "gatehouse-wsgi",
		Check: checkWSGI("/", []byte("Hello, World!")), About: "wrk -t1 -c50, GET / of a Flask application (13 bytes), 2 worker processes"},
	{Name: "flask_64k", Path: "/64k", App: "flaskbench:app", Conns: 50, Servers: wsgiServers, Baseline: "gatehouse-wsgi",
		Check: checkWSGI("/64k", flask64k), About: "wrk -t1 -c50, GET /64k of a Flask application (65,536 bytes), 2 worker processes"},
	{Name: "php_hello", Path: "/hello.php", Conns: 50, Servers: phpServers, Baseline: "gatehouse-php",
		Check: checkWSGI("/hello.php", []byte("Hello, World!")), About: "wrk -t1 -c50, GET /hello.php through php-fpm (pm static, 2 children)"},
	{Name: "uwsgi_hello", Path: "/", App: "hello:application", Conns: 50, Servers: uwsgiServers, Baseline: "gatehouse-uwsgi",
		Check: checkWSGI("/", []byte("Hello, World!")), About: "wrk -t1 -c50, GET / of a plain WSGI application in uWSGI --socket (2 processes)"},
	{Name: "proxy13_c50", Path: "/13", Conns: 50, Servers: proxyServers, Baseline: "gatehouse-proxy", Check: checkProxy,
		About: "wrk -t1 -c50, keep-alive GET /13 through the reverse proxy to the application (13 bytes)"},
	{Name: "proxy64k_c50", Path: "/64k", Conns: 50, Servers: proxyServers, Baseline: "gatehouse-proxy", Check: checkProxy,
		About: "wrk -t1 -c50, keep-alive GET /64k through the reverse proxy to the application (65,536 bytes)"},
	{Name: "proxy13_c256", Path: "/13", Conns: 256, Servers: proxyServers, Baseline: "gatehouse-proxy", Check: checkProxy,
		About: "wrk -t1 -c256, keep-alive GET /13 through the reverse proxy to the application (13 bytes)"},
	{Name: "proxy64k_c256", Path: "/64k", Conns: 256, Servers: proxyServers, Baseline: "gatehouse-proxy", Check: checkProxy,
		About: "wrk -t1 -c256, keep-alive GET /64k through the reverse proxy to the application (65,536 bytes)"},
	{Name: "mw_c50", Path: "/plaintext", Conns: 50, Servers: mwServers, Baseline: "gatehouse-epoll", Check: checkPlaintext,
		Script: "post.lua", Fields: sessionFields,
		About: "wrk -t1 -c50, keep-alive POST /plaintext with a browser's Sec-Fetch-Site and Origin and a session cookie (post.lua): the plaintext responder alone and behind CSRF layer 1 or a session (memory, Redis)"},
	{Name: "gzip1_64k", Path: "/page64k.html", Conns: 50, Gzip: true, Servers: []string{"gatehouse-gzip1", "nginx-gzip1"}, Baseline: "gatehouse-gzip1",
		Check: checkGzip, About: "wrk -t1 -c50 -H 'Accept-Encoding: gzip', GET /page64k.html (65,536 bytes of HTML) compressed on the fly at gzip level 1 (nginx's default)"},
	{Name: "gzip6_64k", Path: "/page64k.html", Conns: 50, Gzip: true, Servers: []string{"gatehouse-gzip6", "nginx-gzip6"}, Baseline: "gatehouse-gzip6",
		Check: checkGzip, About: "wrk -t1 -c50 -H 'Accept-Encoding: gzip', GET /page64k.html (65,536 bytes of HTML) compressed on the fly at gzip level 6"},
}

type config struct {
	dir       string // the bench module's directory
	binDir    string
	luaPath   string
	outPath   string
	reps      int
	duration  time.Duration
	warmup    time.Duration
	idleWait  time.Duration
	wrk       string
	serverCPU string
	clientCPU string
	procs     int // GOMAXPROCS of the Go servers
	nice      int // nice value of the servers, their peers and the load generators
	clkTck    int64
	servers   []serverSpec // the contenders of the selected scenarios
	scenarios []scenario   // each with only the selected servers
	scratch   string       // temporary directory, removed at exit
	www       string       // scratch/www, the files of the static scenarios
	cert, key string       // scratch/cert.pem, key.pem: the TLS scenarios' ECDSA P-256 certificate
	apps      string       // bench/apps, the WSGI applications
	upstream  *upstreamApp // the proxy scenarios' application, once started
}

func main() {
	var (
		cfg        config
		scenarioFl string
		serverFl   string
		baseline   string
		idleConns  int
	)
	flag.StringVar(&cfg.dir, "dir", "", "bench module directory (default: found from the working directory)")
	flag.IntVar(&cfg.reps, "reps", 5, "repetitions of every scenario for each of its servers")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of each timed wrk run")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "length of the wrk warm-up before each timed run")
	flag.DurationVar(&cfg.idleWait, "idle-wait", 2*time.Second, "idle10k: how long connections sit idle before RSS is read")
	flag.IntVar(&idleConns, "idle-conns", 10000, "idle10k: number of connections")
	flag.StringVar(&scenarioFl, "scenarios", "", "comma-separated scenarios to run (default all: "+strings.Join(scenarioNames(), ",")+")")
	flag.StringVar(&serverFl, "servers", "", "comma-separated servers to run (default all: "+strings.Join(serverNames(), ",")+")")
	flag.StringVar(&baseline, "baseline", "", "server the ratio columns compare against, in the scenarios it runs in (default: each scenario's own, gatehouse or gatehouse-static)")
	flag.StringVar(&cfg.wrk, "wrk", "wrk", "wrk binary")
	flag.StringVar(&cfg.serverCPU, "server-cpu", "1", "CPU list the servers are pinned to (taskset -c)")
	flag.StringVar(&cfg.clientCPU, "client-cpu", "0", "CPU list wrk is pinned to (taskset -c)")
	flag.IntVar(&cfg.procs, "gomaxprocs", 1, "GOMAXPROCS of the Go servers (the epoll engine runs as many loops)")
	flag.IntVar(&cfg.nice, "nice", 0, "run the servers, their peers and wrk at this nice value (-10: ahead of other work on a shared machine; needs root)")
	flag.StringVar(&cfg.outPath, "out", "", "markdown report file (default <dir>/results/latest.md)")
	flag.Parse()

	if err := setup(&cfg, scenarioFl, serverFl, baseline, idleConns); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(2)
	}

	// Ctrl-C, SIGTERM or a lost terminal: stop every child by pid, then leave.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "\nrun: %v: stopping the processes started so far\n", s)
		fatal(130)
	}()
	defer func() {
		// A panic unwinds through here too, so the children never outlive it.
		children.closeAll()
	}()

	if err := makeScratch(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		fatal(1)
	}
	if err := makeCert(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		fatal(1)
	}
	if err := run(&cfg); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		fatal(1)
	}
}

func scenarioNames() []string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.Name)
	}
	return n
}

func serverNames() []string {
	var n []string
	for _, s := range servers {
		n = append(n, s.Name)
	}
	return n
}

// pick returns the items of all named in the comma-separated list sel, in the
// order of all; an empty sel means all.
func pick[T any](all []T, name func(T) string, sel, what string) ([]T, error) {
	if sel == "" {
		return all, nil
	}
	want := map[string]bool{}
	for s := range strings.SplitSeq(sel, ",") {
		if s = strings.TrimSpace(s); s != "" {
			want[s] = true
		}
	}
	var out []T
	for _, x := range all {
		if want[name(x)] {
			out = append(out, x)
			delete(want, name(x))
		}
	}
	for s := range want {
		return nil, fmt.Errorf("unknown %s %q", what, s)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no %s selected", what)
	}
	return out, nil
}

func setup(cfg *config, scenarioFl, serverFl, baseline string, idleConns int) error {
	var err error
	for _, sc := range scenarios {
		for _, name := range append(slices.Clone(sc.Servers), sc.Baseline) {
			serverByName(name) // the two tables must agree; this panics if not
		}
	}
	if cfg.scenarios, err = pick(scenarios, func(s scenario) string { return s.Name }, scenarioFl, "scenario"); err != nil {
		return err
	}
	cfg.scenarios = slices.Clone(cfg.scenarios) // edited below; the table stays as it is
	picked, err := pick(servers, func(s serverSpec) string { return s.Name }, serverFl, "server")
	if err != nil {
		return err
	}
	if serverFl == "" {
		picked = slices.DeleteFunc(picked, func(s serverSpec) bool { return s.OptIn })
	}
	// Each scenario keeps the selected servers among its own; one left with
	// none is dropped, and the servers that remain anywhere are the ones built
	// and checked for.
	use := map[string]bool{}
	var kept []scenario
	for _, sc := range cfg.scenarios {
		sc.Servers = slices.DeleteFunc(slices.Clone(sc.Servers), func(name string) bool {
			return !slices.ContainsFunc(picked, func(s serverSpec) bool { return s.Name == name })
		})
		if len(sc.Servers) == 0 {
			if scenarioFl != "" {
				logf("%s: none of the selected servers runs in it; skipped", sc.Name)
			}
			continue
		}
		if sc.Idle > 0 {
			sc.Idle = idleConns
		}
		for _, name := range sc.Servers {
			use[name] = true
		}
		kept = append(kept, sc)
	}
	if len(kept) == 0 {
		return fmt.Errorf("none of the selected servers runs in the selected scenarios")
	}
	cfg.scenarios = kept
	for _, s := range servers {
		if use[s.Name] {
			cfg.servers = append(cfg.servers, s)
		}
	}
	if baseline != "" {
		found := false
		for i := range cfg.scenarios {
			if slices.Contains(cfg.scenarios[i].Servers, baseline) {
				cfg.scenarios[i].Baseline = baseline
				found = true
			}
		}
		if !found {
			return fmt.Errorf("-baseline %s runs in none of the selected scenarios", baseline)
		}
	}
	if cfg.reps < 1 {
		return fmt.Errorf("-reps must be at least 1")
	}
	if cfg.duration < time.Second || cfg.warmup < 0 {
		return fmt.Errorf("-duration must be at least 1s and -warmup not negative")
	}
	if cfg.dir == "" {
		if cfg.dir, err = findBenchDir(); err != nil {
			return err
		}
	}
	if cfg.dir, err = filepath.Abs(cfg.dir); err != nil {
		return err
	}
	cfg.binDir = filepath.Join(cfg.dir, "bin")
	cfg.apps = filepath.Join(cfg.dir, "apps")
	cfg.luaPath = filepath.Join(cfg.dir, "pipeline.lua")
	if cfg.outPath == "" {
		cfg.outPath = filepath.Join(cfg.dir, "results", "latest.md")
	}
	if _, err := os.Stat(cfg.luaPath); err != nil {
		return fmt.Errorf("pipeline script: %w", err)
	}
	tools := []string{cfg.wrk, "taskset", "go"}
	for _, sc := range cfg.scenarios {
		if sc.H2 {
			tools = append(tools, "h2load")
			break
		}
	}
	for _, s := range cfg.servers {
		if s.Program != "" {
			tools = append(tools, s.Program)
		}
		if s.Peer != nil {
			tools = append(tools, s.Peer.Program)
		}
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed: %w", tool, err)
		}
	}
	cfg.clkTck = clockTicks()
	// The idle scenario's client holds every connection in this process.
	if err := rlimit.RaiseNoFile(); err != nil {
		return fmt.Errorf("raise fd limit: %w", err)
	}
	return nil
}

// findBenchDir walks up from the working directory to the bench module, so the
// runner works from bench/ (as make does) or from the repository root.
func findBenchDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		for _, c := range []string{d, filepath.Join(d, "bench")} {
			if b, err := os.ReadFile(filepath.Join(c, "go.mod")); err == nil &&
				strings.Contains(string(b), "module gatehouse/bench\n") {
				return c, nil
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no bench module (go.mod with module gatehouse/bench) above %s; use -dir", wd)
		}
	}
}

// build compiles each responder of this module once into bin/.
func build(cfg *config) error {
	if err := os.MkdirAll(cfg.binDir, 0o755); err != nil {
		return err
	}
	seen := map[string]bool{}
	builds := slices.Clone(cfg.servers)
	if slices.ContainsFunc(cfg.servers, func(s serverSpec) bool { return s.Upstream }) {
		builds = append(builds, serverSpec{Build: "upstream"}) // the proxies' application
	}
	for _, s := range builds {
		if s.Build == "" || seen[s.Build] {
			continue
		}
		seen[s.Build] = true
		logf("build %s", s.Build)
		pkg := "./servers/" + s.Build
		if s.BuildPkg != "" {
			pkg = s.BuildPkg
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(cfg.binDir, s.Build), pkg)
		cmd.Dir = cfg.dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", s.Build, err)
		}
	}
	return nil
}

func upstreamNote(s sample) string {
	if s.UpstreamCPUus == 0 {
		return ""
	}
	return fmt.Sprintf(" (application %.2f)", s.UpstreamCPUus)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// sample is one run of one server in one scenario.
type sample struct {
	RPS   float64
	CPUus float64 // server CPU µs per request
	// Syscalls per request, counted during the warm-up (0: perf unavailable)
	Syscalls float64
	// UpstreamCPUus is the proxy scenarios' application's CPU µs per
	// request, not counted in CPUus.
	UpstreamCPUus float64
	// Others is the share of the server CPUs' time that processes other than
	// the measured ones (and the host, as steal) took during the timed run,
	// in CPUs (0.05: 5% of one CPU); -1 when /proc/stat could not be read.
	Others  float64
	RSSMB   float64 // idle scenario
	FDs     int     // idle scenario: the server's open descriptors when RSS was read
	Wrk     wrkResult
	Failure string // the run produced no usable numbers
}

// results holds every sample, by scenario then server, in run order.
type results map[string]map[string][]sample

func run(cfg *config) error {
	if err := build(cfg); err != nil {
		return err
	}
	rep := newReport(cfg)
	res := results{}
	for _, sc := range cfg.scenarios {
		res[sc.Name] = map[string][]sample{}
		for r := range cfg.reps {
			// Rotate the order every rep so no server always runs first (or
			// right after a particular other one).
			n := len(sc.Servers)
			for i := range n {
				s := serverByName(sc.Servers[(i+r)%n])
				logf("%s rep %d/%d %s", sc.Name, r+1, cfg.reps, s.Name)
				smp := runOne(cfg, sc, s)
				if smp.Failure != "" {
					logf("  FAILED: %s", smp.Failure)
				} else if sc.Idle > 0 {
					logf("  RSS %.1f MB, %d fds open", smp.RSSMB, smp.FDs)
				} else {
					logf("  %.0f req/s, %.2f µs CPU/req%s; others on the server CPU: %.0f%%", smp.RPS, smp.CPUus,
						upstreamNote(smp), smp.Others*100)
				}
				if e := smp.Wrk.ErrorText(); e != "" {
					logf("  wrk errors: %s", e)
				}
				res[sc.Name][s.Name] = append(res[sc.Name][s.Name], smp)
			}
		}
		// Rewrite the report after every scenario, so an interrupted run keeps
		// what it finished.
		if err := rep.write(res, false); err != nil {
			return err
		}
	}
	return rep.write(res, true)
}

// runOne starts server s, measures scenario sc against it and stops it.
func runOne(cfg *config, sc scenario, s serverSpec) sample {
	port, err := freePort()
	if err != nil {
		return sample{Failure: err.Error()}
	}
	srv, err := startServer(cfg, sc, s, port)
	if err != nil {
		return sample{Failure: err.Error()}
	}
	defer srv.stop()

	if sc.Idle > 0 {
		return measureIdle(cfg, sc, srv.proc, port)
	}
	var fields []string
	if sc.Fields != nil {
		if fields, err = sc.Fields(fmt.Sprintf("127.0.0.1:%d", port)); err != nil {
			return sample{Failure: err.Error()}
		}
	}

	var syscalls float64
	if cfg.warmup > 0 {
		var pids []int
		if u, err := srv.usage(); err == nil {
			for _, id := range u.procs {
				pids = append(pids, id.Pid)
			}
		}
		count := startSyscallCount(srv.dir, pids, cfg.warmup)
		w, err := runWrk(cfg, sc, port, cfg.warmup, fields)
		if err != nil {
			return sample{Failure: "warm-up: " + err.Error()}
		}
		syscalls = count.perRequest(w.Requests)
	}
	var upBefore, upAfter int64
	if srv.app != nil {
		if upBefore, err = srv.app.ticks(); err != nil {
			return sample{Failure: "upstream: " + err.Error()}
		}
	}
	before, err := srv.usage()
	if err != nil {
		return sample{Failure: err.Error()}
	}
	busyBefore, busyErr := cpuBusy(cfg.serverCPU)
	w, err := runWrk(cfg, sc, port, cfg.duration, fields)
	busyAfter, busyErr2 := cpuBusy(cfg.serverCPU)
	if err != nil {
		return sample{Failure: err.Error()}
	}
	after, err := srv.usage()
	if err != nil || srv.Exited() {
		return sample{Wrk: w, Failure: fmt.Sprintf("server exited during the run (%v)", err)}
	}
	if srv.app != nil {
		if upAfter, err = srv.app.ticks(); err != nil || srv.app.proc.Exited() {
			return sample{Wrk: w, Failure: fmt.Sprintf("upstream exited during the run (%v)", err)}
		}
	}
	// A process that exits takes its CPU time with it, and one that starts
	// brings time from before the run; either way the sum would be wrong.
	if !slices.Equal(before.procs, after.procs) {
		return sample{Wrk: w, Failure: fmt.Sprintf("server processes changed during the run: %v, then %v", before.procs, after.procs)}
	}
	if w.Requests == 0 {
		return sample{Wrk: w, Failure: "no requests completed"}
	}
	perReq := func(ticks int64) float64 {
		return float64(ticks) / float64(cfg.clkTck) * 1e6 / float64(w.Requests)
	}
	others := -1.0
	if busyErr == nil && busyErr2 == nil {
		ours := (after.ticks - before.ticks) + (upAfter - upBefore)
		others = max(0, float64(busyAfter-busyBefore-ours)/float64(cfg.clkTck)/cfg.duration.Seconds())
	}
	return sample{
		Others:        others,
		RPS:           w.RPS,
		CPUus:         perReq(after.ticks - before.ticks),
		UpstreamCPUus: perReq(upAfter - upBefore),
		Syscalls:      syscalls,
		Wrk:           w,
	}
}

// pinned returns the command that runs argv on the CPUs of list (taskset -c),
// at the -nice value when it is not 0. nice and taskset both exec what they
// run, so the command's pid is argv[0]'s own.
func pinned(cfg *config, list string, argv ...string) *exec.Cmd {
	args := append([]string{"taskset", "-c", list}, argv...)
	if cfg.nice != 0 {
		args = append([]string{"nice", "-n", strconv.Itoa(cfg.nice)}, args...)
	}
	return exec.Command(args[0], args[1:]...)
}

// freePort asks the kernel for an unused loopback port. Each run gets a fresh
// one, so nothing a previous run left in TIME_WAIT can get in the way.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func serverByName(name string) serverSpec {
	for _, s := range servers {
		if s.Name == name {
			return s
		}
	}
	panic("no server " + name + " in the servers table")
}

// server is one running contender.
type server struct {
	*proc
	peer *proc        // its peer (uWSGI behind nginx), or nil
	app  *upstreamApp // the shared application behind a proxy, or nil; not counted in usage
	dir  string       // its launch.Dir
}

// usage is the server's CPU time so far, over its process and every process
// under it (nginx's workers, the WSGI workers), its peer's included, and the
// processes counted.
func (s *server) usage() (treeUsage, error) {
	u, err := processTree(s.Pid())
	if err == nil {
		s.noteTree(u.procs)
	}
	if err == nil && s.peer != nil {
		var pu treeUsage
		if pu, err = processTree(s.peer.Pid()); err == nil {
			s.peer.noteTree(pu.procs)
			u.ticks += pu.ticks
			u.procs = append(u.procs, pu.procs...)
		}
	}
	return u, err
}

// stop stops the server and every process under it, then its peer, then
// removes its directory.
func (s *server) stop() {
	s.proc.stop()
	if s.peer != nil {
		s.peer.stop()
	}
	os.RemoveAll(s.dir)
}

// startServer starts s pinned to the server CPU with GOMAXPROCS=-gomaxprocs, waits until
// it accepts, and checks that it answers sc's requests correctly and runs where
// it should.
func startServer(cfg *config, sc scenario, s serverSpec, port int) (*server, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir, err := os.MkdirTemp(cfg.scratch, s.Name+"-")
	if err != nil {
		return nil, err
	}
	// Readable by all: nginx's workers run as nobody and must reach a peer's
	// socket in it.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	l := launch{Addr: addr, Port: port, WWW: cfg.www, Dir: dir, App: sc.App, Apps: cfg.apps, Cert: cfg.cert, Key: cfg.key}
	var app *upstreamApp
	if s.Upstream {
		if app, err = ensureUpstream(cfg); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		l.Upstream = app.sock
	}
	args, err := s.Args(l)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	var peer *proc
	if s.Peer != nil {
		pcmd := pinned(cfg, cfg.serverCPU, append([]string{s.Peer.Program}, s.Peer.Args(l)...)...)
		pout := &tailBuffer{max: 4096}
		pcmd.Stdout, pcmd.Stderr = pout, pout
		pcmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if peer, err = children.start(pcmd); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("start %s: %w", s.Peer.Program, err)
		}
		if err := s.Peer.Ready(l); err != nil {
			peer.stop()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("%s: %s: %w\n%s", s.Name, s.Peer.Program, err, pout.String())
		}
	}
	prog := s.Program
	if s.Build != "" {
		prog = filepath.Join(cfg.binDir, s.Build)
	}
	cmd := pinned(cfg, cfg.serverCPU, append([]string{prog}, args...)...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(cfg.procs))
	out := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	// Should the runner die without a chance to stop it, SIGTERM rather than
	// SIGKILL: the parent-death signal does not pass to forked workers, and
	// nginx's master answers SIGTERM by stopping its workers. The Go responders
	// do not catch SIGTERM, so for them it is as final as SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	p, err := children.start(cmd)
	if err != nil {
		if peer != nil {
			peer.stop()
		}
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	srv := &server{proc: p, peer: peer, app: app, dir: dir}
	fail := func(err error) (*server, error) {
		srv.proc.stop()
		if peer != nil {
			peer.stop()
		}
		msg := fmt.Sprintf("%s: %v\n%s", s.Name, err, out.String())
		if s.Log != "" {
			if b, rerr := os.ReadFile(filepath.Join(dir, s.Log)); rerr == nil {
				msg += "\n" + s.Log + ":\n" + tail(string(b), 4096)
			}
		}
		os.RemoveAll(dir)
		return nil, errors.New(msg)
	}

	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.Exited() {
			return fail(fmt.Errorf("exited at start-up: %v", p.err))
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("not accepting on %s after 10 s", addr))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := sc.Check(addr, s); err != nil {
		return fail(err)
	}
	// taskset has exec'd the server by the time it accepts; make sure the pid
	// is the server's (its CPU time is what gets measured) and the pinning held,
	// for its workers too. The check has been answered, so they are running.
	name := filepath.Base(prog)
	if c, want := comm(p.Pid()), name[:min(len(name), 15)]; c != want {
		return fail(fmt.Errorf("pid %d is %q, not %q", p.Pid(), c, want))
	}
	u, err := srv.usage()
	if err != nil {
		return fail(err)
	}
	for _, id := range u.procs {
		if cpus, err := statusField(id.Pid, "Cpus_allowed_list"); err != nil || cpus != cfg.serverCPU {
			return fail(fmt.Errorf("process %d runs on CPUs %q, want %q (%v)", id.Pid, cpus, cfg.serverCPU, err))
		}
	}
	return srv, nil
}

// get sends one GET for path on c and returns the response and its body, at
// most limit bytes of it.
func get(c net.Conn, br *bufio.Reader, path string, limit int64) (*http.Response, []byte, error) {
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("check request %s: %w", path, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	resp.Body.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("check request %s: %w", path, err)
	}
	return resp, body, nil
}

// checkPlaintext sends one request and checks the answer: status, body, and the
// fields every plaintext responder sets so that all answers are the same shape.
// The Server field names the responder program.
func checkPlaintext(addr string, s serverSpec) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, body, err := get(c, bufio.NewReader(c), "/plaintext", 1024)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(body) != "Hello, World!" ||
		resp.Header.Get("Server") != s.Build ||
		resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Date") == "" {
		return fmt.Errorf("unexpected answer: %d %q, header %v", resp.StatusCode, body, resp.Header)
	}
	return nil
}

// checkStatic fetches every file of the static scenarios on one keep-alive
// connection and compares each body with the file's bytes.
func checkStatic(addr string, s serverSpec) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for _, f := range wwwFiles {
		resp, body, err := get(c, br, "/"+f.Name, int64(len(f.Body))+1)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || !bytes.Equal(body, f.Body) {
			return fmt.Errorf("GET /%s: status %d, %d bytes of body, want 200 and the file's %d bytes (header %v)",
				f.Name, resp.StatusCode, len(body), len(f.Body), resp.Header)
		}
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// tailBuffer keeps the last max bytes written to it: a server's output, shown
// only when it fails.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = slices.Clone(t.b[len(t.b)-t.max:])
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }
