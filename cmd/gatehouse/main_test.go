package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

// binary is gatehouse built once for the end-to-end tests, which run it as a
// separate process (signals, exit codes) and talk to it with real curl.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gatehouse-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gatehouse")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building gatehouse: %v\n%s", err, out)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	testutil.VerifyNoLeaks(m)
}

// syncBuffer collects a process's output while a test reads it.
type syncBuffer = testutil.LogBuffer

// proc is a running gatehouse.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string // host:port of the first TCP listener
	stderr *syncBuffer
	exited chan error
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// configAddr is the address startConfig's file listens on.
var configAddr string

// startConfig runs gatehouse serve --config file; addr is the file's listener.
func startConfig(t *testing.T, file, addr string) *proc {
	t.Helper()
	configAddr = addr
	return start(t, "--config", file)
}

// start runs gatehouse with args (a TCP --http is added unless noTCP) and waits
// until every listener is up.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, stderr: &syncBuffer{}, exited: make(chan error, 1)}
	full := append([]string{"serve"}, args...)
	if len(args) == 2 && args[0] == "--config" {
		p.addr = configAddr
	} else if !containsHTTP(args) {
		p.addr = freeAddr(t)
		full = append(full, "--http", p.addr)
	} else {
		for i, a := range args {
			if a == "--http" && !strings.HasPrefix(args[i+1], "unix:") && p.addr == "" {
				p.addr = args[i+1]
			}
		}
	}
	p.cmd = exec.Command(binary, full...)
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill() // our own child, by PID
			<-p.exited
		}
	})
	joined := strings.Join(full, " ")
	want := max(1, strings.Count(joined, "--http ")+strings.Count(joined, "--https "))
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.stderr.String(), "msg=listening") < want {
		select {
		case err := <-p.exited:
			p.exited <- err // for the cleanup, which waits for it
			t.Fatalf("gatehouse exited early (%v):\n%s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse did not start:\n%s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

func containsHTTP(args []string) bool {
	for _, a := range args {
		if a == "--http" {
			return true
		}
	}
	return false
}

// logged waits up to 5 s for the process's output to contain s: what it
// writes reaches the buffer through a pipe, after the response the test has
// already read.
func (p *proc) logged(s string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// signal sends sig to the process (ours, by PID).
func (p *proc) signal(sig syscall.Signal) {
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // let Cleanup see it too
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(d):
		p.t.Fatalf("gatehouse still running after %v:\n%s", d, p.stderr.String())
		return -1
	}
}

// curl runs curl with args and returns stdout, stderr and the exit error.
func curl(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is required (make test installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--max-time", "15"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// runCLI runs the command line in-process.
func runCLI(args ...string) (stdout, stderr string, err error) {
	var o, e bytes.Buffer
	err = Run(context.Background(), args, &o, &e)
	return o.String(), e.String(), err
}

func TestCommandLine(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{nil, 2, "Usage:"},
		{[]string{"help"}, 0, "gatehouse serve [flags]"},
		{[]string{"--help"}, 0, "gatehouse serve [flags]"},
		{[]string{"frobnicate"}, 2, "Usage:"},
		{[]string{"version"}, 0, "gatehouse "},
		{[]string{"version", "--help"}, 0, "Usage: gatehouse version"},
		{[]string{"serve", "--help"}, 0, "--read-header-timeout"},
		{[]string{"serve", "-h"}, 0, "--static"},
		{[]string{"serve"}, 2, ""},
		{[]string{"serve", "--demo", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"serve", "--static", "nodir"}, 2, ""},
		{[]string{"serve", "--demo", "--unix-mode", "999"}, 2, ""},
		{[]string{"serve", "--demo", "--max-body", "lots"}, 2, "invalid value"},
		{[]string{"serve", "--demo", "--log-level", "loud"}, 2, ""},
		{[]string{"serve", "--demo", "--access-log-format", "xml"}, 2, ""},
		{[]string{"serve", "--demo", "--http", "unix:"}, 2, ""},
		{[]string{"serve", "--demo", "extra"}, 2, ""},
		{[]string{"serve", "--static", "/=/definitely/not/here"}, 2, "does not exist"},
		{[]string{"serve", "--demo", "--http", "256.0.0.1:1"}, 1, ""},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr, err := runCLI(tc.args...)
			if code := exitCode(err); code != tc.code {
				t.Fatalf("exit %d (%v), want %d\n%s%s", code, err, tc.code, stdout, stderr)
			}
			if !strings.Contains(stdout+stderr+fmt.Sprint(err), tc.contains) {
				t.Fatalf("output lacks %q:\n%s%s", tc.contains, stdout, stderr)
			}
		})
	}
}

// TestHelpOnce: --help prints its text once, to stdout; stderr stays empty
// (the flag package prints usage itself on -h, which once doubled it there).
// A mistaken flag still prints the usage, once, to stderr.
func TestHelpOnce(t *testing.T) {
	for _, args := range [][]string{{"serve", "--help"}, {"serve", "-h"}, {"version", "--help"}, {"check", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, err := runCLI(args...)
			if exitCode(err) != 0 || stderr != "" || stdout == "" {
				t.Fatalf("exit %d, stdout %d bytes, stderr:\n%s", exitCode(err), len(stdout), stderr)
			}
			if n := strings.Count(stdout, "Usage:"); n != 1 {
				t.Fatalf("Usage: printed %d times:\n%s", n, stdout)
			}
		})
	}
	stdout, stderr, err := runCLI("serve", "--nope")
	if exitCode(err) != 2 || stdout != "" || strings.Count(stderr, "Usage:") != 1 {
		t.Fatalf("a bad flag: exit %d, stdout %q, stderr:\n%s", exitCode(err), stdout, stderr)
	}
}
