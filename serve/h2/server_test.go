package h2

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"gatehouse/engine"
	"gatehouse/proto/http1"
	"gatehouse/web"
	"gatehouse/web/nethttp"
)

// The server advertises its limits in its SETTINGS: the defaults, and the
// configured values; MaxHeaderBytes follows the HTTP/1.1 limit.
func TestSettings(t *testing.T) {
	cases := []struct {
		name                 string
		cfg                  Config
		streams, frame, list uint32
	}{
		{"defaults", Config{}, 250, 1 << 20, 32<<10 + 320},
		{"configured", Config{MaxConcurrentStreams: 10, MaxReadFrameSize: 1 << 15, MaxHeaderBytes: 4096}, 10, 1 << 15, 4096 + 320},
		{"header bytes from HTTP/1.1", Config{Request: nethttp.Config{Limits: http1.Limits{MaxHeaderBytes: 8192}}}, 250, 1 << 20, 8192 + 320},
		{"frame size clamped", Config{MaxReadFrameSize: 100}, 250, 1 << 14, 32<<10 + 320},
	}
	for _, c := range cases {
		for _, tr := range transports {
			t.Run(c.name+"/"+tr, func(t *testing.T) {
				x := newHarness(t, tr, new(concurrency), c.cfg)
				cl := x.dial(0).start()
				got := map[http2.SettingID]uint32{}
				if !cl.waitFor(5*time.Second, func() bool {
					for _, s := range cl.settings {
						got[s.ID] = s.Val
					}
					return len(cl.settings) > 0
				}) {
					t.Fatal("no SETTINGS")
				}
				if got[http2.SettingMaxConcurrentStreams] != c.streams || got[http2.SettingMaxFrameSize] != c.frame ||
					got[http2.SettingMaxHeaderListSize] != c.list {
					t.Fatalf("settings %v", got)
				}
			})
		}
	}
}

// A request is served, and the engine counts the connection while
// net/http has it; it lets go when net/http closes it.
func TestServeConn(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			x := newHarness(t, tr, new(concurrency), Config{})
			cl := x.dial(0).start()
			id, err := cl.request("GET", "/quick", true)
			if err != nil {
				t.Fatal(err)
			}
			var status string
			var n int
			if !cl.waitFor(5*time.Second, func() bool {
				var done bool
				status, n, done = cl.response(id)
				return done
			}) || status != "200" || n != 5 {
				t.Fatalf("response %q %d", status, n)
			}
			if x.eng.Conns() != 1 {
				t.Fatalf("engine counts %d connections", x.eng.Conns())
			}
			cl.nc.Close()
			if !x.waitEnded(5 * time.Second) {
				t.Fatal("ServeConn did not return after the client left")
			}
			if x.eng.Conns() != 0 {
				t.Fatalf("engine still counts %d connections", x.eng.Conns())
			}
		})
	}
}

// Shutdown sends GOAWAY, lets the stream in flight finish, then closes;
// a connection handed over after it is refused.
func TestGracefulShutdown(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			release := make(chan struct{})
			h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
				<-release
				_, err := w.WriteString("finished")
				return err
			})
			x := newHarness(t, tr, h, Config{})
			cl := x.dial(0).start()
			id, _ := cl.request("GET", "/", true)
			if !cl.sync() { // the stream is open
				t.Fatal("no PING ACK")
			}
			sdone := make(chan error, 1)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			go func() { sdone <- x.srv.Shutdown(ctx) }()
			if !cl.waitFor(5*time.Second, func() bool { return cl.goAway != nil }) {
				t.Fatal("no GOAWAY on shutdown")
			}
			if cl.goAway.ErrCode != http2.ErrCodeNo {
				t.Fatalf("GOAWAY %v", cl.goAway.ErrCode)
			}
			close(release)
			if !cl.waitFor(5*time.Second, func() bool { _, _, done := cl.response(id); return done }) {
				t.Fatal("the stream in flight did not finish")
			}
			if status, n, _ := cl.response(id); status != "200" || n != len("finished") {
				t.Fatalf("in-flight response %q %d", status, n)
			}
			if err := <-sdone; err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if !x.waitEnded(5 * time.Second) {
				t.Fatal("connection not let go")
			}
			// A connection that arrives now is closed at once.
			a, b := net.Pipe()
			defer a.Close()
			go x.srv.ServeConn(engineConn(t, b))
			a.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := a.Read(make([]byte, 1)); err == nil {
				t.Fatal("a connection handed over after shutdown was served")
			}
		})
	}
}

// An idle connection is closed after the idle timeout, with GOAWAY.
func TestIdleTimeout(t *testing.T) {
	x := newHarness(t, "h2c", new(concurrency), Config{IdleTimeout: 200 * time.Millisecond})
	cl := x.dial(0).start()
	start := time.Now()
	if !cl.waitFor(5*time.Second, func() bool { return cl.goAway != nil }) || time.Since(start) > 3*time.Second {
		t.Fatalf("no GOAWAY on an idle connection after %v", time.Since(start))
	}
	if !x.waitEnded(5 * time.Second) {
		t.Fatal("idle connection not closed")
	}
}

func engineConn(t *testing.T, nc net.Conn) *engine.Conn {
	t.Helper()
	return &engine.Conn{NetConn: nc}
}

// When the grace period ends with a stream still running, the engine
// closes the connection, and the handler's context ends.
func TestShutdownGraceOver(t *testing.T) {
	cc := new(concurrency)
	x := newHarness(t, "tls", cc, Config{})
	cl := x.dial(0).start()
	cl.request("GET", "/", true)
	if !cl.sync() {
		t.Fatal("no PING ACK")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	shutdown(ctx, x.eng, x.srv)
	if !x.waitEnded(5*time.Second) || time.Since(start) > 3*time.Second {
		t.Fatalf("connection not closed when the grace ended (%v)", time.Since(start))
	}
	if !cc.waitIdle(5 * time.Second) {
		t.Fatal("the handler still runs")
	}
}
