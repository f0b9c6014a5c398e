package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/config"
)

// TestRouteLimits: on both engines, a route's max_body (declared and
// chunked, at the limit and one past) and its timeout, around a buffered
// CGI script; another route keeps the server's limits.
func TestRouteLimits(t *testing.T) {
	cgiDir := t.TempDir()
	os.WriteFile(filepath.Join(cgiDir, "echo.sh"), []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\ncat\n"), 0o755)
	os.WriteFile(filepath.Join(cgiDir, "slow.sh"), []byte("#!/bin/sh\nsleep 5\nprintf 'Content-Type: text/plain\\r\\n\\r\\nlate'\n"), 0o755)
	for _, eng := range []string{"epoll", "goroutine"} {
		t.Run(eng, func(t *testing.T) {
			cfg := &config.Config{
				Server: config.Server{Engine: eng},
				Listen: []config.Listen{{Addr: "127.0.0.1:0"}},
				Site: []config.Site{{Route: []config.Route{
					{Path: "/small/", CGI: &config.CGI{Root: cgiDir},
						Limits: &config.Limits{MaxBody: &config.Size{Bytes: 10}, Timeout: &config.Duration{Duration: 300 * time.Millisecond}}},
					{Path: "/big/", CGI: &config.CGI{Root: cgiDir}},
				}}},
			}
			cfg.AccessLog.Path = "off"
			addr := serveConfig(t, cfg)
			post := func(path, body string, chunked bool) int {
				req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
				if chunked {
					req.ContentLength = -1
					req.TransferEncoding = []string{"chunked"}
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for _, c := range []struct {
				path    string
				n       int
				chunked bool
				status  int
			}{
				{"/small/echo.sh", 10, false, 200}, {"/small/echo.sh", 11, false, 413},
				{"/small/echo.sh", 10, true, 200}, {"/small/echo.sh", 11, true, 413},
				{"/big/echo.sh", 11, false, 200}, {"/big/echo.sh", 11, true, 200},
			} {
				if got := post(c.path, strings.Repeat("a", c.n), c.chunked); got != c.status {
					t.Errorf("%s %d bytes chunked=%v: %d, want %d", c.path, c.n, c.chunked, got, c.status)
				}
			}
			began := time.Now()
			if got := post("/small/slow.sh", "", false); got != 504 || time.Since(began) > 3*time.Second {
				t.Errorf("slow: %d after %v", got, time.Since(began))
			}
			http.DefaultClient.CloseIdleConnections()
		})
	}
}
