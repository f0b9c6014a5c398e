package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a process gets after SIGTERM before SIGKILL.
const stopGrace = 2 * time.Second

// proc is one child process: a server or a wrk run.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and been reaped
	err  error         // Wait's result, valid after done

	mu   sync.Mutex
	tree []procID // processes seen under it (nginx's workers), stopped with it
}

// Pid is the process id. Servers are started as "taskset -c N binary": taskset
// execs the binary, so this is the server's own pid, the one whose CPU time
// /proc/<pid>/stat reports.
func (p *proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has already ended.
func (p *proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// noteTree records processes found under p, so that stop can end them even if
// p itself is gone by then and they have been handed to init.
func (p *proc) noteTree(ids []procID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if id.Pid != p.Pid() && !slices.Contains(p.tree, id) {
			p.tree = append(p.tree, id)
		}
	}
}

// procs tracks every process the runner started, so each exit path (normal end,
// error, Ctrl-C) can stop exactly those, by pid.
type procs struct {
	mu     sync.Mutex
	live   map[*proc]struct{}
	closed bool

	cleanMu  sync.Mutex
	cleanups []func()
}

var children = &procs{live: make(map[*proc]struct{})}

// start starts cmd and registers it. After closeAll it refuses, so a start racing
// with an interrupt cannot leave an orphan behind.
func (ps *procs) start(cmd *exec.Cmd) (*proc, error) {
	// Backstop for the case no handler can cover (the runner killed by SIGKILL):
	// the kernel then signals the children too, with SIGKILL unless the caller
	// chose another signal. Linux ties this to the thread that forked, not the
	// process; no goroutine here locks a thread, so the runtime keeps that
	// thread for the life of the runner.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if cmd.SysProcAttr.Pdeathsig == 0 {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}

	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		return nil, errors.New("runner is shutting down")
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	ps.live[p] = struct{}{}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
		ps.mu.Lock()
		delete(ps.live, p)
		ps.mu.Unlock()
	}()
	return p, nil
}

// stop sends SIGTERM, then SIGKILL if the process is still there after
// stopGrace, and waits until it has been reaped. Processes under it (recorded
// by noteTree or found now) that outlive it are killed: nginx's master stops
// its workers on SIGTERM, but a worker left behind by a master that died or
// was killed would keep serving the port.
func (p *proc) stop() {
	if !p.Exited() {
		if u, err := processTree(p.Pid()); err == nil {
			p.noteTree(u.procs)
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
	p.mu.Lock()
	left := slices.Clone(p.tree)
	p.mu.Unlock()
	for _, id := range left {
		// The start time makes sure the pid still names the same process
		// and has not been reused.
		if st, err := readStat(id.Pid); err == nil && st.start == id.Start {
			_ = syscall.Kill(id.Pid, syscall.SIGKILL)
		}
	}
}

// atClose registers f to run in closeAll after every child has stopped, such
// as removing the directory the servers used.
func (ps *procs) atClose(f func()) {
	ps.cleanMu.Lock()
	defer ps.cleanMu.Unlock()
	ps.cleanups = append(ps.cleanups, f)
}

// closeAll stops every live child, in parallel, refuses further starts, then
// runs the atClose functions. A second call, racing from the signal handler,
// waits until the first has finished them.
func (ps *procs) closeAll() {
	ps.mu.Lock()
	ps.closed = true
	list := make([]*proc, 0, len(ps.live))
	for p := range ps.live {
		list = append(list, p)
	}
	ps.mu.Unlock()

	var wg sync.WaitGroup
	for _, p := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.stop()
		}()
	}
	wg.Wait()

	ps.cleanMu.Lock()
	defer ps.cleanMu.Unlock()
	for _, f := range ps.cleanups {
		f()
	}
	ps.cleanups = nil
}

// runShort runs a command that should finish quickly (nginx -t, nginx -v) as a
// registered child, and returns its combined output; it is killed after limit.
func runShort(cmd *exec.Cmd, limit time.Duration) (string, error) {
	out := &tailBuffer{max: 8192}
	cmd.Stdout, cmd.Stderr = out, out
	p, err := children.start(cmd)
	if err != nil {
		return "", err
	}
	select {
	case <-p.done:
	case <-time.After(limit):
		p.stop()
		return out.String(), fmt.Errorf("%s did not finish within %v", cmd.Path, limit)
	}
	return out.String(), p.err
}

// fatal stops the children and removes the scratch directory before exiting:
// os.Exit skips deferred calls.
func fatal(code int) {
	children.closeAll()
	os.Exit(code)
}
