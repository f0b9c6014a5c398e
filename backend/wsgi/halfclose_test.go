package wsgi

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// A client that half-closes its side after its request (printf ... | nc -N)
// while the application runs: the application still reads the body the
// client sent, to its end (b"" without a body), and never sees an error;
// the response is then dropped and logged as abandoned (499), as nginx
// treats a client's EOF while its upstream works. The client half-closes once
// its request reached the handler, and the application reads only after the
// server has seen it.
func TestHalfClosedClientReadsItsBody(t *testing.T) {
	for _, tc := range []struct {
		engine, request, want string
	}{
		{"goroutine", "GET /read-after?flag=%s HTTP/1.1\r\nHost: x\r\n\r\n", "input b''"},
		{"epoll", "GET /read-after?flag=%s HTTP/1.1\r\nHost: x\r\n\r\n", "input b''"},
		{"epoll", "POST /read-after?flag=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", "input b'hello'"},
	} {
		t.Run(tc.engine+" "+strings.Fields(tc.request)[0], func(t *testing.T) {
			f := start(t, Config{Workers: 1, App: "apps:plain"})
			pid := f.pool.Stats().Workers[0].PID
			flag := filepath.Join(t.TempDir(), "half-closed")
			// Tells the test the request reached the handler (then it
			// half-closes), and lets the application read once the request's
			// context ended (the server saw the half-close), or after 5 s.
			arrived := make(chan struct{}, 1)
			h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
				ctx := r.Context()
				w.WatchClient()
				arrived <- struct{}{}
				released := make(chan struct{})
				go func() {
					defer close(released)
					select {
					case <-ctx.Done():
					case <-time.After(5 * time.Second):
					}
					os.WriteFile(flag, nil, 0o644)
				}()
				err := f.pool.ServeHTTP(w, r)
				<-released
				return err
			})
			log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			addr := testserve.HTTPOn(t, tc.engine, h, shttp.Config{Logger: log, MaxBodyBytes: 8 << 20})
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, tc.request, flag)
			select {
			case <-arrived:
			case <-time.After(5 * time.Second):
				t.Fatal("the request never reached the handler")
			}
			conn.(*net.TCPConn).CloseWrite()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(conn)
			if err != nil {
				t.Fatalf("reading the answer: %v (%q)", err, got)
			}
			f.logs.WaitForWithin(t, tc.want, 3*time.Second)
			f.logs.WaitForWithin(t, "request abandoned", 3*time.Second)
			logs := f.logs.String()
			if strings.Contains(logs, "raised") || strings.Contains(logs, "IOError") || strings.Contains(logs, "level=ERROR") {
				t.Errorf("the application's read failed:\n%s", logs)
			}
			if !strings.Contains(logs, "status=499") {
				t.Errorf("want the request logged as 499:\n%s", logs)
			}
			if len(got) != 0 {
				t.Errorf("a half-closed client got %q; its request counts as abandoned", got)
			}
			if w := f.pool.Stats().Workers[0]; w.PID != pid || w.State != "ready" {
				t.Errorf("worker %d %s, want %d ready", w.PID, w.State, pid)
			}
		})
	}
}
