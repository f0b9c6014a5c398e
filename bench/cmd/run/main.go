// Command run is the side-by-side benchmark of gatehouse against net/http,
// fasthttp and gnet. It builds the plaintext responders under servers/, then for
// each scenario runs every server in turn, pinned to its own CPU, under wrk pinned
// to the other, and reports medians of throughput, server CPU time per request
// and, for idle connections, memory. See README.md.
//
//	cd bench && go run ./cmd/run [-reps 5] [-duration 10s] [-scenarios c50,c256] [-servers gatehouse,gnet]
package main

import (
	"bufio"
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
	"strings"
	"syscall"
	"time"

	"gatehouse/bench/internal/rlimit"
)

// serverSpec is one contender: a display name, the responder package it runs
// (servers/<Target>, built to bin/<Target>) and its flags besides -addr.
type serverSpec struct {
	Name   string
	Target string
	Args   []string
}

// servers is every contender, in the order of rep 1. A new engine or variant is
// one more line here.
var servers = []serverSpec{
	{Name: "gatehouse", Target: "gatehouse", Args: []string{"-engine", "goroutine"}},
	{Name: "nethttp", Target: "nethttp"},
	{Name: "fasthttp", Target: "fasthttp"},
	{Name: "gnet", Target: "gnet"},
}

// scenario is one load shape. A load scenario drives wrk with Conns keep-alive
// connections, sending Pipeline requests per write when Pipeline > 0; an idle
// scenario holds Idle connections open after one request each and measures memory.
type scenario struct {
	Name     string
	Conns    int
	Pipeline int
	Idle     int
	About    string
}

var scenarios = []scenario{
	{Name: "c50", Conns: 50, About: "wrk -t1 -c50, keep-alive GET /plaintext"},
	{Name: "c256", Conns: 256, About: "wrk -t1 -c256, keep-alive GET /plaintext"},
	{Name: "pipeline16", Conns: 256, Pipeline: 16, About: "wrk -t1 -c256, 16 pipelined GETs per write (pipeline.lua); every response counts"},
	{Name: "idle10k", Idle: 10000, About: "10,000 keep-alive connections, one GET each, then idle for 2 s; server VmRSS"},
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
	baseline  string
	wrk       string
	serverCPU string
	clientCPU string
	clkTck    int64
	servers   []serverSpec
	scenarios []scenario
}

func main() {
	var (
		cfg        config
		scenarioFl string
		serverFl   string
		idleConns  int
	)
	flag.StringVar(&cfg.dir, "dir", "", "bench module directory (default: found from the working directory)")
	flag.IntVar(&cfg.reps, "reps", 5, "repetitions of every scenario for every server")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of each timed wrk run")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "length of the wrk warm-up before each timed run")
	flag.DurationVar(&cfg.idleWait, "idle-wait", 2*time.Second, "idle10k: how long connections sit idle before RSS is read")
	flag.IntVar(&idleConns, "idle-conns", 10000, "idle10k: number of connections")
	flag.StringVar(&scenarioFl, "scenarios", "", "comma-separated scenarios to run (default all: "+strings.Join(scenarioNames(), ",")+")")
	flag.StringVar(&serverFl, "servers", "", "comma-separated servers to run (default all: "+strings.Join(serverNames(), ",")+")")
	flag.StringVar(&cfg.baseline, "baseline", "gatehouse", "server the ratio columns compare against")
	flag.StringVar(&cfg.wrk, "wrk", "wrk", "wrk binary")
	flag.StringVar(&cfg.serverCPU, "server-cpu", "1", "CPU list the servers are pinned to (taskset -c)")
	flag.StringVar(&cfg.clientCPU, "client-cpu", "0", "CPU list wrk is pinned to (taskset -c)")
	flag.StringVar(&cfg.outPath, "out", "", "markdown report file (default <dir>/results/latest.md)")
	flag.Parse()

	if err := setup(&cfg, scenarioFl, serverFl, idleConns); err != nil {
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

func setup(cfg *config, scenarioFl, serverFl string, idleConns int) error {
	var err error
	if cfg.scenarios, err = pick(scenarios, func(s scenario) string { return s.Name }, scenarioFl, "scenario"); err != nil {
		return err
	}
	if cfg.servers, err = pick(servers, func(s serverSpec) string { return s.Name }, serverFl, "server"); err != nil {
		return err
	}
	for i := range cfg.scenarios {
		if cfg.scenarios[i].Idle > 0 {
			cfg.scenarios[i].Idle = idleConns
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
	cfg.luaPath = filepath.Join(cfg.dir, "pipeline.lua")
	if cfg.outPath == "" {
		cfg.outPath = filepath.Join(cfg.dir, "results", "latest.md")
	}
	if _, err := os.Stat(cfg.luaPath); err != nil {
		return fmt.Errorf("pipeline script: %w", err)
	}
	for _, tool := range []string{cfg.wrk, "taskset", "go"} {
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

// build compiles each responder once into bin/.
func build(cfg *config) error {
	if err := os.MkdirAll(cfg.binDir, 0o755); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, s := range cfg.servers {
		if seen[s.Target] {
			continue
		}
		seen[s.Target] = true
		logf("build %s", s.Target)
		cmd := exec.Command("go", "build", "-o", filepath.Join(cfg.binDir, s.Target), "./servers/"+s.Target)
		cmd.Dir = cfg.dir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", s.Target, err)
		}
	}
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// sample is one run of one server in one scenario.
type sample struct {
	RPS     float64
	CPUus   float64 // server CPU µs per request
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
			n := len(cfg.servers)
			for i := range n {
				s := cfg.servers[(i+r)%n]
				logf("%s rep %d/%d %s", sc.Name, r+1, cfg.reps, s.Name)
				smp := runOne(cfg, sc, s)
				if smp.Failure != "" {
					logf("  FAILED: %s", smp.Failure)
				} else if sc.Idle > 0 {
					logf("  RSS %.1f MB, %d fds open", smp.RSSMB, smp.FDs)
				} else {
					logf("  %.0f req/s, %.2f µs CPU/req", smp.RPS, smp.CPUus)
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
	srv, err := startServer(cfg, s, port)
	if err != nil {
		return sample{Failure: err.Error()}
	}
	defer srv.stop()

	if sc.Idle > 0 {
		return measureIdle(cfg, sc, srv, port)
	}

	if cfg.warmup > 0 {
		if _, err := runWrk(cfg, sc, port, cfg.warmup); err != nil {
			return sample{Failure: "warm-up: " + err.Error()}
		}
	}
	before, err := cpuTicks(srv.Pid())
	if err != nil {
		return sample{Failure: err.Error()}
	}
	w, err := runWrk(cfg, sc, port, cfg.duration)
	if err != nil {
		return sample{Failure: err.Error()}
	}
	after, err := cpuTicks(srv.Pid())
	if err != nil || srv.Exited() {
		return sample{Wrk: w, Failure: fmt.Sprintf("server exited during the run (%v)", err)}
	}
	if w.Requests == 0 {
		return sample{Wrk: w, Failure: "no requests completed"}
	}
	cpuSec := float64(after-before) / float64(cfg.clkTck)
	return sample{
		RPS:   w.RPS,
		CPUus: cpuSec * 1e6 / float64(w.Requests),
		Wrk:   w,
	}
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

// startServer starts s pinned to the server CPU with GOMAXPROCS=1, waits until
// it accepts, and checks that it answers correctly and runs where it should.
func startServer(cfg *config, s serverSpec, port int) (*proc, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{"-c", cfg.serverCPU, filepath.Join(cfg.binDir, s.Target), "-addr", addr}, s.Args...)
	cmd := exec.Command("taskset", args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	out := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	p, err := children.start(cmd)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	fail := func(err error) (*proc, error) {
		p.stop()
		return nil, fmt.Errorf("%s: %w\n%s", s.Name, err, out.String())
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
	if err := checkResponse(addr, s.Target); err != nil {
		return fail(err)
	}
	// taskset has exec'd the server by the time it accepts; make sure the pid
	// is the server's (its CPU time is what gets measured) and the pinning held.
	if c, want := comm(p.Pid()), s.Target[:min(len(s.Target), 15)]; c != want {
		return fail(fmt.Errorf("pid %d is %q, not %q", p.Pid(), c, want))
	}
	if cpus, err := statusField(p.Pid(), "Cpus_allowed_list"); err != nil || cpus != cfg.serverCPU {
		return fail(fmt.Errorf("server runs on CPUs %q, want %q (%v)", cpus, cfg.serverCPU, err))
	}
	return p, nil
}

// checkResponse sends one request and checks the answer: status, body, and the
// fields every responder sets so that all answers are the same shape. The Server
// field names the responder program.
func checkResponse(addr, target string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fmt.Errorf("check request: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("check request: %w", err)
	}
	if resp.StatusCode != 200 || string(body) != "Hello, World!" ||
		resp.Header.Get("Server") != target ||
		resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Date") == "" {
		return fmt.Errorf("unexpected answer: %d %q, header %v", resp.StatusCode, body, resp.Header)
	}
	return nil
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
