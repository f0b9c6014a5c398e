package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// clockTicks returns CLK_TCK, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every common Linux build; getconf is asked in case this one differs.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 100
}

// procStat is what the runner reads from /proc/<pid>/stat.
type procStat struct {
	ppid  int
	ticks int64  // utime+stime, in clock ticks; threads included
	start uint64 // starttime, in clock ticks since boot
}

// readStat parses /proc/<pid>/stat: ppid (field 4), utime and stime (14 and
// 15) and starttime (22).
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// Field 2, the command name, is in parentheses and may itself contain spaces
	// or parentheses, so split only what follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseInt(f[11], 10, 64)
	st, err3 := strconv.ParseInt(f[12], 10, 64)
	start, err4 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return procStat{}, fmt.Errorf("malformed /proc/%d/stat: %w", pid, err)
	}
	return procStat{ppid: ppid, ticks: ut + st, start: start}, nil
}

// procID names one process: its pid and start time, so that a pid reused by a
// later process is not mistaken for it.
type procID struct {
	Pid   int
	Start uint64
}

// treeUsage is the CPU time of a process and every process under it.
type treeUsage struct {
	ticks int64
	procs []procID // the processes counted, by pid
}

// processTree sums utime+stime over pid and its descendants, found by their
// PPid in /proc (the children files need CONFIG_PROC_CHILDREN, which not every
// kernel has). A Go responder is one process; nginx is a master and its
// worker, and both work for the clients.
func processTree(pid int) (treeUsage, error) {
	root, err := readStat(pid)
	if err != nil {
		return treeUsage{}, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return treeUsage{}, err
	}
	stats := map[int]procStat{}
	kids := map[int][]int{}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == pid {
			continue
		}
		st, err := readStat(n)
		if err != nil {
			continue // gone since the listing
		}
		stats[n] = st
		kids[st.ppid] = append(kids[st.ppid], n)
	}
	u := treeUsage{ticks: root.ticks, procs: []procID{{pid, root.start}}}
	for queue := kids[pid]; len(queue) > 0; queue = queue[1:] {
		n := queue[0]
		u.ticks += stats[n].ticks
		u.procs = append(u.procs, procID{n, stats[n].start})
		queue = append(queue, kids[n]...)
	}
	slices.SortFunc(u.procs, func(a, b procID) int { return a.Pid - b.Pid })
	return u, nil
}

// statusField returns one "Name:\tvalue" field of /proc/<pid>/status.
func statusField(pid int, name string) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s in /proc/%d/status", name, pid)
}

// rssKB returns the resident set size of pid in KiB.
func rssKB(pid int) (int64, error) {
	v, err := statusField(pid, "VmRSS")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
}

// openFDs counts the open file descriptors of pid.
func openFDs(pid int) (int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents), err
}

// comm returns the command name of pid (at most 15 bytes of it).
func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

func kernelRelease() string {
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	return "unknown"
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// wrkVersion returns wrk's banner line; wrk prints it with the usage text when
// asked for its version, and exits nonzero.
func wrkVersion(wrk string) string {
	out, _ := exec.Command(wrk, "--version").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	if line = strings.TrimSpace(line); line != "" {
		return line
	}
	return "unknown"
}

// cpuBusy returns, summed over the CPUs in list (a taskset list such as "1"
// or "0-1"), the clock ticks /proc/stat counts as user, nice and system time
// (any process's) and as steal (the hypervisor's). Less the measured
// processes' own time over the same span, it is what other processes and
// the host took from the server CPU: the runner's view of a disturbed run.
func cpuBusy(list string) (int64, error) {
	cpus, err := parseCPUList(list)
	if err != nil {
		return 0, err
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	var total int64
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil || !slices.Contains(cpus, n) {
			continue
		}
		// user nice system idle iowait irq softirq steal
		for _, i := range []int{1, 2, 3, 8} {
			v, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("malformed /proc/stat line %q", line)
			}
			total += v
		}
	}
	return total, nil
}

// parseCPUList parses a CPU list as taskset and the kernel write it: "1",
// "0-1", "0,2-3".
func parseCPUList(list string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("CPU list %q: %w", list, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("CPU list %q: %w", list, err)
			}
		}
		for n := a; n <= b; n++ {
			cpus = append(cpus, n)
		}
	}
	return cpus, nil
}
