package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/engine/epoll"
	"gatehouse/internal/testutil"
	"gatehouse/listen"
	"gatehouse/web"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestNewErrors(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error { return nil })
	if _, err := New(Config{Handler: h}); err == nil {
		t.Error("no listeners accepted")
	}
	if _, err := New(Config{Endpoints: eps(listen.Config{Addr: "127.0.0.1:0"})}); err == nil {
		t.Error("no handler accepted")
	}
}

func TestRunServesAndStops(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "s.sock")
	built, err := Build(&config.Config{
		Listen: []config.Listen{{Addr: "127.0.0.1:0"}, {Addr: "unix:" + sock}},
		Site:   []config.Site{{Route: []config.Route{{Path: "/", Demo: true}}}},
	}, BuildOptions{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer built.Close()
	srv, err := New(built.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	addrs := srv.Addrs()
	if len(addrs) != 2 || addrs[1].String() != sock {
		t.Fatalf("addrs %v", addrs)
	}
	resp, err := http.Get("http://" + addrs[0].String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Fatal("socket left behind")
	}
}

func TestStartFailureClosesListeners(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := "127.0.0.1:0"
	sock := filepath.Join(t.TempDir(), "s.sock")
	srv, _ := New(Config{
		Endpoints: eps(listen.Config{Addr: "unix:" + sock}, listen.Config{Addr: free}, listen.Config{Addr: busy.Addr().String()}),
		Handler:   web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error { return nil }), Logger: quiet,
	})
	if err := srv.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start: %v", err)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Fatal("the Unix listener opened before the failure was not closed")
	}
}

func TestBuildProblems(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  config.Config
		want string
	}{
		{"no site", config.Config{Listen: []config.Listen{{Addr: ":1"}}}, "no [[site]] section"},
		{"missing root", config.Config{Listen: []config.Listen{{Addr: ":1"}}, Site: []config.Site{{Route: []config.Route{
			{Path: "/", Static: &config.Static{Root: filepath.Join(dir, "missing")}}}}}}, "does not exist"},
		{"file as root", config.Config{Listen: []config.Listen{{Addr: ":1"}}, Site: []config.Site{{Route: []config.Route{
			{Path: "/", Static: &config.Static{Root: "server_test.go"}}}}}}, "is not a directory"},
		{"missing error page", config.Config{Listen: []config.Listen{{Addr: ":1"}}, Site: []config.Site{{
			ErrorPages: map[string]string{"404": filepath.Join(dir, "404.html")},
			Route:      []config.Route{{Path: "/", Demo: true}}}}}, "error page for 404"},
	}
	for _, c := range cases {
		b, err := Build(&c.cfg, BuildOptions{Stderr: io.Discard})
		if err == nil {
			b.Close()
			t.Errorf("%s: built", c.name)
			continue
		}
		var ps config.Problems
		if !errors.As(err, &ps) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// Each engine serves TCP and Unix listeners alike, and stops cleanly.
func TestEngines(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		_, err := w.WriteString("hi from " + r.Path())
		return err
	})
	for _, eng := range []string{"", "epoll", "goroutine"} {
		t.Run("engine="+eng, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s.sock")
			var logs strings.Builder
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			srv, err := New(Config{Engine: eng, Handler: h, Logger: logger,
				Endpoints: eps(listen.Config{Addr: "127.0.0.1:0"}, listen.Config{Addr: "unix:" + sock})})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			if err := srv.Start(ctx); err != nil {
				t.Fatal(err)
			}
			want := "engine=epoll\n"
			if eng == "goroutine" {
				want = "engine=goroutine\n"
			}
			if n := strings.Count(logs.String(), want); n != 2 { // Start logged each listener
				t.Fatalf("%d of 2 listeners on %s%s", n, want, logs.String())
			}
			go func() { done <- srv.Run(ctx) }()
			unix := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			}}}
			for _, c := range []struct {
				client *http.Client
				url    string
			}{{http.DefaultClient, "http://" + srv.Addrs()[0].String() + "/tcp"}, {unix, "http://x/unix"}} {
				resp, err := c.client.Get(c.url)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.HasPrefix(string(b), "hi from /") {
					t.Fatalf("%s: %q", c.url, b)
				}
			}
			unix.CloseIdleConnections()
			http.DefaultClient.CloseIdleConnections()
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := New(Config{Engine: "threads", Handler: h, Endpoints: eps(listen.Config{Addr: "127.0.0.1:0"})}); err == nil {
		t.Fatal("unknown engine accepted")
	}
}

// accept = "reuseport" binds TCP HTTP listeners with SO_REUSEPORT (another
// socket can then join the address), serves on them, and stops cleanly;
// "shared" does not; Unix listeners are served either way.
func TestAcceptModes(t *testing.T) {
	if !epoll.Supported {
		t.Skip("no epoll engine on this system")
	}
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		_, err := w.WriteString("hi")
		return err
	})
	for _, mode := range []string{"", "shared", "reuseport"} {
		t.Run("accept="+mode, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "s.sock")
			srv, err := New(Config{Accept: mode, Handler: h, Logger: quiet,
				Endpoints: eps(listen.Config{Addr: "127.0.0.1:0"}, listen.Config{Addr: "unix:" + sock})})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if err := srv.Start(ctx); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}()
			addr := srv.Addrs()[0].String()
			joined, err := listen.Listen(context.Background(), listen.Config{Addr: addr, ReusePort: true})
			if err == nil {
				joined.Close()
			}
			if (err == nil) != (mode == "reuseport") {
				t.Fatalf("accept=%q: binding a second SO_REUSEPORT socket to %s: %v", mode, addr, err)
			}
			for _, network := range []string{"tcp", "unix"} {
				a := addr
				if network == "unix" {
					a = sock
				}
				c, err := net.Dial(network, a)
				if err != nil {
					t.Fatal(err)
				}
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
				b, _ := io.ReadAll(c)
				c.Close()
				if !strings.HasSuffix(string(b), "\r\n\r\nhi") {
					t.Fatalf("%s: %q", network, b)
				}
			}
		})
	}
	if _, err := New(Config{Accept: "both", Handler: h, Endpoints: eps(listen.Config{Addr: "127.0.0.1:0"})}); err == nil {
		t.Fatal("unknown accept mode accepted")
	}
}

// eps is one HTTP endpoint per listener, serving the root.
func eps(lcs ...listen.Config) []Endpoint {
	var out []Endpoint
	for _, lc := range lcs {
		out = append(out, Endpoint{Listen: lc})
	}
	return out
}
