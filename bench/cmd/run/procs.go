package main

import (
	"errors"
	"os"
	"os/exec"
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

// procs tracks every process the runner started, so each exit path (normal end,
// error, Ctrl-C) can stop exactly those, by pid.
type procs struct {
	mu     sync.Mutex
	live   map[*proc]struct{}
	closed bool
}

var children = &procs{live: make(map[*proc]struct{})}

// start starts cmd and registers it. After closeAll it refuses, so a start racing
// with an interrupt cannot leave an orphan behind.
func (ps *procs) start(cmd *exec.Cmd) (*proc, error) {
	// Backstop for the case no handler can cover (the runner killed by SIGKILL):
	// the kernel then kills the children too. Linux ties this to the thread that
	// forked, not the process; no goroutine here locks a thread, so the runtime
	// keeps that thread for the life of the runner.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL

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
// stopGrace, and waits until it has been reaped.
func (p *proc) stop() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(stopGrace):
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// closeAll stops every live child, in parallel, and refuses further starts.
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
}

// fatal stops the children before exiting: os.Exit skips deferred calls.
func fatal(code int) {
	children.closeAll()
	os.Exit(code)
}
