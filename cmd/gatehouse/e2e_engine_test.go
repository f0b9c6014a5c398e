package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/engine/epoll"
)

// The binary serves on the engine --engine names (epoll by default where there
// is epoll), over TCP and a Unix socket, and drains on SIGTERM.
func TestEngineFlag(t *testing.T) {
	for _, eng := range []string{"", "epoll", "goroutine"} {
		t.Run("engine="+eng, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "gh.sock")
			args := []string{"--demo", "--http", freeAddr(t), "--http", "unix:" + sock}
			if eng != "" {
				args = append(args, "--engine", eng)
			}
			p := start(t, args...)
			want := "goroutine"
			if eng != "goroutine" && epoll.Supported {
				want = "epoll"
			}
			if n := strings.Count(p.stderr.String(), "engine="+want+"\n"); n != 2 {
				t.Fatalf("%d of 2 listeners on engine %s:\n%s", n, want, p.stderr.String())
			}
			c := &http.Client{Timeout: 5 * time.Second}
			resp, err := c.Get("http://" + p.addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
			if out, _, err := curl(t, "-sS", "--unix-socket", sock, "http://x/healthz"); err != nil || out == "" {
				t.Fatalf("unix socket: %q %v", out, err)
			}
			c.CloseIdleConnections()
			p.signal(syscall.SIGTERM)
			if code := p.wait(10 * time.Second); code != 0 {
				t.Fatalf("exit %d:\n%s", code, p.stderr.String())
			}
		})
	}
}
