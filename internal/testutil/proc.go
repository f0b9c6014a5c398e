package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a process a test started: a real peer such as php-fpm, uwsgi, nginx or
// Python. It is stopped, by its PID, when the test ends.
type Proc struct {
	Cmd    *exec.Cmd
	output *LogBuffer
	done   chan struct{}
	err    error
}

// Start runs name with args (and env added to the environment) in its own
// process group, collecting stdout and stderr. At cleanup it sends SIGTERM to
// the group, then SIGKILL after 3 s; only processes this test started are
// signalled. It fails the test if name is not installed: make test installs
// the peers (scripts/deps.sh).
func Start(t testing.TB, env []string, name string, args ...string) *Proc {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is required (make test installs it): %v", name, err)
	}
	p := &Proc{Cmd: exec.Command(name, args...), output: &LogBuffer{}, done: make(chan struct{})}
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.output, p.output
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.Stop(3 * time.Second) })
	return p
}

// Output returns what the process has written so far.
func (p *Proc) Output() string { return p.output.String() }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process group.
func (p *Proc) Signal(sig syscall.Signal) error {
	return syscall.Kill(-p.Cmd.Process.Pid, sig)
}

// Stop ends the process group: SIGTERM, then SIGKILL after grace.
func (p *Proc) Stop(grace time.Duration) {
	if p.Exited() {
		return
	}
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// Wait waits up to d for the process to end and returns its error.
func (p *Proc) Wait(d time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(d):
		return nil, false
	}
}

// WaitDial waits until addr ("host:port" or "unix:/path") accepts connections,
// failing the test after 15 s or if the process exits first.
func (p *Proc) WaitDial(t testing.TB, addr string) {
	t.Helper()
	network, address := "tcp", addr
	if a, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", a
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout(network, address, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if p.Exited() {
			t.Fatalf("%s exited before listening on %s (%v):\n%s", p.Cmd.Path, addr, p.err, p.Output())
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening on %s after 15 s: %v\n%s", p.Cmd.Path, addr, err, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreeAddr returns 127.0.0.1:PORT with a port nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ShortTempDir returns a temporary directory with a short path, for Unix
// sockets (their paths are limited to about 100 bytes, and t.TempDir's can be
// longer).
func ShortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// String describes the process for failure messages.
func (p *Proc) String() string {
	return fmt.Sprintf("%s (pid %d)", strings.Join(p.Cmd.Args, " "), p.Cmd.Process.Pid)
}
