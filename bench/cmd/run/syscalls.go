package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// syscallCount counts the system calls a server's processes make over a span,
// with perf's raw_syscalls:sys_enter tracepoint (every thread of every pid):
// counting mode, no sampling, so the server barely notices. It runs during the
// warm-up, not the timed run, so the CPU times are never measured under it.
type syscallCount struct {
	p   *proc
	out string
}

// startSyscallCount starts perf on pids for d; nil when perf is not installed
// or the tracepoint is not readable (the report then shows no count).
func startSyscallCount(dir string, pids []int, d time.Duration) *syscallCount {
	if _, err := exec.LookPath("perf"); err != nil || len(pids) == 0 {
		return nil
	}
	ps := make([]string, len(pids))
	for i, p := range pids {
		ps[i] = strconv.Itoa(p)
	}
	out := filepath.Join(dir, "perf-syscalls.csv")
	cmd := exec.Command("perf", "stat", "-x,", "-o", out, "-e", "raw_syscalls:sys_enter",
		"-p", strings.Join(ps, ","), "--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	p, err := children.start(cmd)
	if err != nil {
		return nil
	}
	return &syscallCount{p: p, out: out}
}

// perRequest waits for perf and divides its count by requests; 0 when unknown.
func (s *syscallCount) perRequest(requests int64) float64 {
	if s == nil || requests == 0 {
		return 0
	}
	select {
	case <-s.p.done:
	case <-time.After(30 * time.Second):
		s.p.stop()
		return 0
	}
	b, err := os.ReadFile(s.out)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ",")
		if len(f) >= 3 && strings.Contains(line, "raw_syscalls:sys_enter") {
			if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				return float64(n) / float64(requests)
			}
		}
	}
	return 0
}
