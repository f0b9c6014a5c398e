package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

type report struct {
	cfg    *config
	header string
}

// newReport records the machine and settings once, at the start of the run.
func newReport(cfg *config) *report {
	var b strings.Builder
	fmt.Fprintf(&b, "# gatehouse side-by-side benchmark\n\n")
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- kernel: %s\n", kernelRelease())
	fmt.Fprintf(&b, "- CPU: %s (%d CPUs online)\n", cpuModel(), runtime.NumCPU())
	fmt.Fprintf(&b, "- Go: %s; wrk: %s\n", runtime.Version(), wrkVersion(cfg.wrk))
	for _, s := range cfg.servers {
		if s.Version != nil {
			fmt.Fprintf(&b, "- %s: %s\n", s.Name, s.Version())
		}
	}
	fmt.Fprintf(&b, "- reps: %d per server and scenario, order rotated each rep; duration: %v timed after a %v warm-up\n",
		cfg.reps, cfg.duration, cfg.warmup)
	fmt.Fprintf(&b, "- pinning: servers on CPU %s with GOMAXPROCS=%d; wrk -t1 on CPU %s\n", cfg.serverCPU, cfg.procs, cfg.clientCPU)
	fmt.Fprintf(&b, "- CPU/req: the server's utime+stime from /proc/<pid>/stat over the timed run (CLK_TCK %d), summed over its processes (nginx: master and worker), ÷ requests wrk completed\n", cfg.clkTck)
	if slices.ContainsFunc(cfg.servers, func(s serverSpec) bool { return s.Upstream }) {
		fmt.Fprintf(&b, "- proxy scenarios: one application process (servers/upstream, on a Unix socket, pinned to CPU %s) behind every proxy; the CPU/req column is the proxy's own processes, the application's CPU/req is its own column\n", cfg.serverCPU)
	}
	fmt.Fprintf(&b, "- ratios compare with each scenario's baseline rep by rep (the median of the per-rep ratios) and are oriented so that > 1 means the baseline is better\n")
	return &report{cfg: cfg, header: b.String()}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summary is one server's medians in one scenario.
type summary struct {
	ok, runs       int
	rps, cpu, rss  float64
	errs           wrkResult // summed over the runs
	failures       []string
	rpsRuns, cpuRs []float64
	rssRuns        []float64
	sysRuns        []float64
	sys            float64 // median syscalls per request; 0: not counted
	upRuns         []float64
	othersRuns     []float64 // % of a server CPU other processes took, per run
	up             float64   // median CPU µs per request of the proxies' application
}

func summarize(samples []sample) summary {
	var s summary
	s.runs = len(samples)
	for _, x := range samples {
		s.errs.Connect += x.Wrk.Connect
		s.errs.Read += x.Wrk.Read
		s.errs.Write += x.Wrk.Write
		s.errs.Timeout += x.Wrk.Timeout
		s.errs.Non2xx += x.Wrk.Non2xx
		if x.Failure != "" {
			s.failures = append(s.failures, x.Failure)
			continue
		}
		s.ok++
		s.rpsRuns = append(s.rpsRuns, x.RPS)
		s.cpuRs = append(s.cpuRs, x.CPUus)
		s.rssRuns = append(s.rssRuns, x.RSSMB)
		if x.Syscalls > 0 {
			s.sysRuns = append(s.sysRuns, x.Syscalls)
		}
		s.upRuns = append(s.upRuns, x.UpstreamCPUus)
		if x.Others >= 0 {
			s.othersRuns = append(s.othersRuns, x.Others*100)
		}
	}
	s.up = median(s.upRuns)
	s.rps, s.cpu, s.rss = median(s.rpsRuns), median(s.cpuRs), median(s.rssRuns)
	if len(s.sysRuns) > 0 {
		s.sys = median(s.sysRuns)
	}
	return s
}

// paired compares base with other rep by rep: each rep ran every server back to
// back, so a per-rep ratio cancels the machine's slow drift (on a shared VM,
// phases of ±15% lasting several runs), which a ratio of medians does not. It
// returns the medians of the per-rep ratios and how many reps base won on CPU.
func paired(base, other []sample) (rps, cpu, won string) {
	var rr, cr []float64
	wins, n := 0, 0
	for i := range min(len(base), len(other)) {
		b, o := base[i], other[i]
		if b.Failure != "" || o.Failure != "" || b.RPS == 0 || o.RPS == 0 || b.CPUus == 0 {
			continue
		}
		rr = append(rr, b.RPS/o.RPS)
		cr = append(cr, o.CPUus/b.CPUus)
		n++
		if b.CPUus < o.CPUus {
			wins++
		}
	}
	if n == 0 {
		return "–", "–", "–"
	}
	return fmt.Sprintf("%.2f", median(rr)), fmt.Sprintf("%.2f", median(cr)), fmt.Sprintf("%d of %d", wins, n)
}

func ratio(num, den float64) string {
	if num == 0 || den == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", num/den)
}

func (r *report) render(res results, final bool) string {
	cfg := r.cfg
	var b strings.Builder
	b.WriteString(r.header)
	if !final {
		b.WriteString("- status: incomplete (run interrupted or still going)\n")
	}
	var notes, perRun strings.Builder
	for _, sc := range cfg.scenarios {
		byServer, done := res[sc.Name]
		if !done {
			continue
		}
		sums := map[string]summary{}
		for _, s := range sc.Servers {
			sums[s] = summarize(byServer[s])
		}
		bl := sc.Baseline
		base, haveBase := sums[bl]
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", sc.Name, sc.About)
		proxied := slices.ContainsFunc(sc.Servers, func(n string) bool { return serverByName(n).Upstream })
		if sc.Idle > 0 {
			fmt.Fprintf(&b, "| server | median RSS MB | RSS ratio (server ÷ %s) |\n|---|---:|---:|\n", bl)
		} else if proxied {
			fmt.Fprintf(&b, "| server | median req/s | median CPU µs/req (proxy) | application CPU µs/req | syscalls/req | req/s ratio (%s ÷ server) | CPU/req ratio (server ÷ %s) | reps where %s used less CPU/req |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
				bl, bl, bl)
		} else {
			fmt.Fprintf(&b, "| server | median req/s | median CPU µs/req | syscalls/req | req/s ratio (%s ÷ server) | CPU/req ratio (server ÷ %s) | reps where %s used less CPU/req |\n|---|---:|---:|---:|---:|---:|---:|\n",
				bl, bl, bl)
		}
		fmt.Fprintf(&perRun, "\n%s:\n\n", sc.Name)
		for _, srv := range sc.Servers {
			m := sums[srv]
			name := srv
			if m.ok < m.runs {
				name = fmt.Sprintf("%s (%d of %d runs)", srv, m.ok, m.runs)
			}
			if sc.Idle > 0 {
				rr := "–"
				if haveBase {
					rr = ratio(m.rss, base.rss)
				}
				fmt.Fprintf(&b, "| %s | %.1f | %s |\n", name, m.rss, rr)
				fmt.Fprintf(&perRun, "- %s RSS MB: %s\n", srv, joinF(m.rssRuns, "%.1f"))
			} else {
				rr, cr, won := "–", "–", "–"
				if haveBase && srv != bl {
					rr, cr, won = paired(byServer[bl], byServer[srv])
				} else if haveBase {
					rr, cr = "1.00", "1.00"
				}
				sys := "–"
				if m.sys > 0 {
					sys = fmt.Sprintf("%.2f", m.sys)
				}
				if proxied {
					fmt.Fprintf(&b, "| %s | %.0f | %.2f | %.2f | %s | %s | %s | %s |\n", name, m.rps, m.cpu, m.up, sys, rr, cr, won)
					fmt.Fprintf(&perRun, "- %s req/s: %s; CPU µs/req: %s; application CPU µs/req: %s; syscalls/req: %s; others on the server CPU %%: %s\n", srv,
						joinF(m.rpsRuns, "%.0f"), joinF(m.cpuRs, "%.2f"), joinF(m.upRuns, "%.2f"), joinF(m.sysRuns, "%.2f"), joinF(m.othersRuns, "%.0f"))
				} else {
					fmt.Fprintf(&b, "| %s | %.0f | %.2f | %s | %s | %s | %s |\n", name, m.rps, m.cpu, sys, rr, cr, won)
					fmt.Fprintf(&perRun, "- %s req/s: %s; CPU µs/req: %s; syscalls/req: %s; others on the server CPU %%: %s\n", srv,
						joinF(m.rpsRuns, "%.0f"), joinF(m.cpuRs, "%.2f"), joinF(m.sysRuns, "%.2f"), joinF(m.othersRuns, "%.0f"))
				}
			}
			if e := m.errs.ErrorText(); e != "" {
				fmt.Fprintf(&notes, "- %s / %s: wrk errors over all runs: %s\n", sc.Name, srv, e)
			}
			for _, f := range m.failures {
				fmt.Fprintf(&notes, "- %s / %s: failed run: %s\n", sc.Name, srv, firstLine(f))
			}
		}
	}
	if notes.Len() > 0 {
		b.WriteString("\n## Errors\n\n")
		b.WriteString(notes.String())
	}
	if perRun.Len() > 0 {
		b.WriteString("\n## Per-run values (in run order)\n")
		b.WriteString(perRun.String())
	}
	return b.String()
}

func joinF(xs []float64, format string) string {
	if len(xs) == 0 {
		return "none"
	}
	p := make([]string, len(xs))
	for i, x := range xs {
		p[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(p, ", ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// write saves the report; the final one is also printed to stdout.
func (r *report) write(res results, final bool) error {
	text := r.render(res, final)
	if err := os.MkdirAll(filepath.Dir(r.cfg.outPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(r.cfg.outPath, []byte(text), 0o644); err != nil {
		return err
	}
	if final {
		fmt.Print(text)
		logf("report written to %s", r.cfg.outPath)
	}
	return nil
}
