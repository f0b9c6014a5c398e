package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

// checked starts a pool with active health checks on a manual clock, whose
// waits are exactly Interval. Each round of probes, once recorded, sends on
// the returned channel; the next round starts when the clock passes
// Interval.
func checked(t *testing.T, cfg Config) (*Pool, *testutil.Clock, chan struct{}) {
	t.Helper()
	p, err := build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := testutil.NewClock(time.Unix(1e9, 0))
	p.now, p.afterFunc = clock.Now, clock.Schedule
	p.checks.jitter = func(d time.Duration) time.Duration { return d }
	rounds := make(chan struct{}, 64)
	p.checks.afterRound = func() { rounds <- struct{}{} }
	p.startChecks()
	t.Cleanup(func() { p.Close() })
	return p, clock, rounds
}

func waitRound(t *testing.T, rounds chan struct{}) {
	t.Helper()
	select {
	case <-rounds:
	case <-time.After(10 * time.Second):
		t.Fatal("no round of probes")
	}
}

// nextRound moves the clock to the next round and waits for its results.
func nextRound(t *testing.T, clock *testutil.Clock, rounds chan struct{}, interval time.Duration) {
	t.Helper()
	clock.Advance(interval)
	waitRound(t, rounds)
}

// statusServer answers every request with the status it holds, and counts
// the requests and the Host fields it saw.
type statusServer struct {
	*httptest.Server
	status atomic.Int32
	body   atomic.Value // string
	hits   atomic.Int32
	host   atomic.Value // string
}

func startStatus(t *testing.T, status int) *statusServer {
	s := &statusServer{}
	s.status.Store(int32(status))
	s.body.Store("ok")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.host.Store(r.Host + " " + r.URL.Path)
		w.WriteHeader(int(s.status.Load()))
		io.WriteString(w, s.body.Load().(string))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *statusServer) addr() string { return strings.TrimPrefix(s.URL, "http://") }

// An HTTP check against a real server answering 200, then 500, then 200:
// down after Fall failed rounds, up after Rise good ones.
func TestCheckHTTPRiseFall(t *testing.T) {
	s := startStatus(t, 200)
	other := startStatus(t, 200)
	hc := &HealthCheck{Kind: "http", Path: "/healthz", Interval: 10 * time.Second, Rise: 2, Fall: 3}
	p, clock, rounds := checked(t, Config{Addrs: []string{s.addr(), other.addr()}, Health: hc})
	waitRound(t, rounds) // the first round runs at once
	if st := stat(p, s.addr()); st.Down || st.CheckDown || s.hits.Load() != 1 {
		t.Fatalf("first round: %+v, %d requests", st, s.hits.Load())
	}
	if got := s.host.Load(); got != s.addr()+" /healthz" {
		t.Fatalf("the check asked for %q", got)
	}
	s.status.Store(500)
	for i := 1; i <= 3; i++ {
		nextRound(t, clock, rounds, 10*time.Second)
		if down := stat(p, s.addr()).CheckDown; down != (i == 3) {
			t.Fatalf("after %d failed rounds: down %v", i, down)
		}
	}
	if st := stat(p, s.addr()); !st.Down {
		t.Fatalf("%+v", st)
	}
	for range 4 {
		c := get(t, p)
		if c.Upstream() != other.addr() {
			t.Fatal("a request went to the address the check found down")
		}
		c.Release(true)
	}
	s.status.Store(200)
	nextRound(t, clock, rounds, 10*time.Second)
	if !stat(p, s.addr()).Down {
		t.Fatal("up after one good round of two")
	}
	// A failure between good ones starts the count again.
	s.status.Store(503)
	nextRound(t, clock, rounds, 10*time.Second)
	s.status.Store(204)
	nextRound(t, clock, rounds, 10*time.Second)
	if !stat(p, s.addr()).Down {
		t.Fatal("up after good, failed, good")
	}
	nextRound(t, clock, rounds, 10*time.Second)
	if st := stat(p, s.addr()); st.Down || st.CheckDown {
		t.Fatalf("two good rounds in a row: %+v", st)
	}
	if n := other.hits.Load(); n != 8 {
		t.Fatalf("the other address was probed %d times in 8 rounds", n)
	}
}

// The wait between rounds is on the pool's clock: no round before Interval
// has passed.
func TestCheckInterval(t *testing.T) {
	s := startStatus(t, 200)
	hc := &HealthCheck{Kind: "http", Interval: time.Minute}
	_, clock, rounds := checked(t, Config{Addrs: []string{s.addr()}, Health: hc})
	waitRound(t, rounds)
	clock.Advance(time.Minute - time.Nanosecond)
	select {
	case <-rounds:
		t.Fatal("a round before Interval")
	default:
	}
	if s.hits.Load() != 1 || clock.Pending() != 1 {
		t.Fatalf("%d probes, %d waits", s.hits.Load(), clock.Pending())
	}
	clock.Advance(time.Nanosecond)
	waitRound(t, rounds)
	if s.hits.Load() != 2 {
		t.Fatalf("%d probes", s.hits.Load())
	}
}

// The expected status and body, and the Host field.
func TestCheckHTTPExpect(t *testing.T) {
	s := startStatus(t, 200)
	s.body.Store(`{"status": "ready", "db": "up"}`)
	for _, c := range []struct {
		name string
		hc   HealthCheck
		ok   bool
	}{
		{"default 2xx", HealthCheck{}, true},
		{"200", HealthCheck{ExpectStatus: "200"}, true},
		{"204 wanted", HealthCheck{ExpectStatus: "204"}, false},
		{"3xx wanted", HealthCheck{ExpectStatus: "3xx"}, false},
		{"body matches", HealthCheck{ExpectBody: `"status": "ready"`}, true},
		{"body anchored", HealthCheck{ExpectBody: `^\{.*"db": "up"\}$`}, true},
		{"body does not match", HealthCheck{ExpectBody: `"db": "down"`}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			hc := c.hc
			hc.Kind, hc.Host = "http", "app.example"
			p, err := build(Config{Addrs: []string{s.addr(), "127.0.0.1:1"}, Health: &hc})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			err = p.probe(context.Background(), p.cfg.Health, p.addrs[0])
			if (err == nil) != c.ok {
				t.Fatalf("probe: %v", err)
			}
			if got := s.host.Load(); got != "app.example /" {
				t.Fatalf("the check asked for %q", got)
			}
		})
	}
}

// rawServer answers each connection with fixed bytes (after reading the
// request head), then closes it.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				got := ""
				for !strings.Contains(got, "\r\n\r\n") {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					got += string(buf[:n])
				}
				io.WriteString(c, answer)
			}()
		}
	}()
	return l.Addr().String()
}

// The HTTP check reads the response with the strict parser, and the body in
// each of its framings.
func TestCheckHTTPResponses(t *testing.T) {
	for _, c := range []struct {
		name, answer string
		body         string // ExpectBody
		ok           bool
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nready", "^ready$", true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nrea\r\n2\r\ndy\r\n0\r\n\r\n", "^ready$", true},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nready", "^ready$", true},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\n\r\nready", "ready", true},
		{"interim first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", true},
		{"a long head", "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("p", 6000) + "\r\nContent-Length: 2\r\n\r\nok", "ok", true},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nready", "ready", false},
		{"truncated chunks", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nrea", "rea", false},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nready\r\n0\r\n\r\n", "ready", false},
		{"101 unasked", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "", false},
		{"bad status line", "HTTP/1.1 2 OK\r\n\r\n", "", false},
		{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", false},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\n\r\n", "", false},
		{"LF only", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", "", false},
		{"nothing", "", "", false},
		{"half a head", "HTTP/1.1 200 OK\r\nContent-", "", false},
		{"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := rawServer(t, c.answer)
			hc := &HealthCheck{Kind: "http", ExpectBody: c.body}
			p, err := build(Config{Addrs: []string{addr}, Health: hc})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			err = p.probe(context.Background(), p.cfg.Health, p.addrs[0])
			if (err == nil) != c.ok {
				t.Fatalf("probe: %v", err)
			}
		})
	}
}

// A TCP check: a listener that accepts and closes at once is up; no
// listener is down; a banner is waited for when Expect is set.
func TestCheckTCP(t *testing.T) {
	closer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer func() { closer.Close(); wg.Wait() }()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := closer.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	banner := startEchoWith(t, "tcp", 0, "+OK ready\r\n")
	echo := startEcho(t, "unix")
	nobody := testutil.FreeAddr(t)
	for _, c := range []struct {
		name, addr string
		hc         HealthCheck
		ok         bool
	}{
		{"accepts and closes", closer.Addr().String(), HealthCheck{}, true},
		{"nobody listens", nobody, HealthCheck{}, false},
		{"banner", banner.addr, HealthCheck{Expect: "+OK"}, true},
		{"wrong banner", banner.addr, HealthCheck{Expect: "-ERR", Timeout: 200 * time.Millisecond}, false},
		{"send and expect", echo.addr, HealthCheck{Send: "PING\n", Expect: "PING"}, true},
		{"closed before the banner", closer.Addr().String(), HealthCheck{Expect: "+OK"}, false},
		{"unix, connect only", echo.addr, HealthCheck{}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			hc := c.hc
			hc.Kind = "tcp"
			p, err := build(Config{Addrs: []string{c.addr}, Health: &hc})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			err = p.probe(context.Background(), p.cfg.Health, p.addrs[0])
			if (err == nil) != c.ok {
				t.Fatalf("probe: %v", err)
			}
		})
	}
	// Through rounds: the address with nobody listening goes down after
	// Fall rounds, the one that closes at once stays up.
	hc := &HealthCheck{Kind: "tcp", Fall: 2, Interval: time.Second}
	p, clock, rounds := checked(t, Config{Addrs: []string{closer.Addr().String(), nobody}, Health: hc})
	waitRound(t, rounds)
	nextRound(t, clock, rounds, time.Second)
	if st := p.Stats(); st[0].Down || !st[1].Down || !st[1].CheckDown {
		t.Fatalf("%+v", st)
	}
}

// blackHole accepts connections and never answers (nor closes them until
// the test ends), like a server stuck or behind a dropping firewall once the
// connect is through.
func blackHole(t *testing.T) (addr string, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int32)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String(), accepted
}

// A black-holed upstream: the HTTP check times out at Timeout and takes it
// down; the traffic's own timeout (the caller's, then Fail) does too, at
// once, where the check needs Fall rounds.
func TestBlackHole(t *testing.T) {
	hole, accepted := blackHole(t)
	good := startStatus(t, 200)

	hc := &HealthCheck{Kind: "http", Timeout: 100 * time.Millisecond}
	p, err := build(Config{Addrs: []string{hole}, Health: hc})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = p.probe(context.Background(), p.cfg.Health, p.addrs[0])
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 5*time.Second {
		t.Fatalf("probe: %v after %v", err, time.Since(start))
	}
	p.Close()

	hc = &HealthCheck{Kind: "http", Timeout: 100 * time.Millisecond, Fall: 1, Interval: time.Second}
	p, _, rounds := checked(t, Config{Addrs: []string{hole, good.addr()}, Health: hc, Balance: "first"})
	waitRound(t, rounds)
	if st := stat(p, hole); !st.CheckDown {
		t.Fatalf("after a round: %+v", st)
	}
	c := get(t, p)
	if c.Upstream() != good.addr() {
		t.Fatalf("a request went to the black hole")
	}
	c.Release(true)

	// Passive: the check passes over it (the hole answers the TCP connect),
	// the request times out, Fail takes it down.
	p2 := newPool(t, Config{Addrs: []string{hole, good.addr()}, Balance: "first"})
	manualClock(p2)
	c = get(t, p2)
	if c.Upstream() != hole {
		t.Fatalf("first on %s", c.Upstream())
	}
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := c.Read(make([]byte, 1)); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read from the black hole: %v", err)
	}
	c.Fail()
	if st := stat(p2, hole); !st.Down {
		t.Fatalf("after a timeout: %+v", st)
	}
	n := accepted.Load()
	for range 3 {
		c := get(t, p2)
		if c.Upstream() != good.addr() {
			t.Fatal("a request went to the black hole after it timed out")
		}
		c.Release(true)
	}
	if accepted.Load() != n {
		t.Fatal("the black hole was dialed while down")
	}
}

// Close cuts a probe under way short and waits for the checker: no
// goroutine is left (TestMain checks), and Close does not wait for Timeout.
func TestCloseDuringProbe(t *testing.T) {
	hole, accepted := blackHole(t)
	hc := &HealthCheck{Kind: "http", Timeout: time.Hour}
	p, err := build(Config{Addrs: []string{hole}, Health: hc})
	if err != nil {
		t.Fatal(err)
	}
	p.startChecks()
	deadline := time.Now().Add(5 * time.Second)
	for accepted.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no probe")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if st := p.Stats()[0]; st.CheckDown {
		t.Fatalf("a probe cut short by Close was counted: %+v", st)
	}
}

// A probe result never erases fresher passive evidence: a probe in flight
// while a request fails does not clear that failure; the next probe, begun
// after it, does.
func TestProbeKeepsFresherFailure(t *testing.T) {
	gate, in := make(chan struct{}), make(chan struct{}, 8) // the server waits on gate
	s := &statusServer{Server: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		<-gate
		io.WriteString(w, "ok")
	}))}
	defer s.Close()
	defer close(gate)
	other := startStatus(t, 200)
	hc := &HealthCheck{Kind: "http", Timeout: 10 * time.Second, Interval: time.Second}
	p, clock, rounds := checked(t, Config{Addrs: []string{s.addr(), other.addr()}, Health: hc, Balance: "first"})
	<-in // the first probe is in flight
	failOn(t, p, s.addr())
	if !stat(p, s.addr()).Down {
		t.Fatal("Fail did not take the address down")
	}
	gate <- struct{}{} // the probe, begun before the failure, succeeds
	waitRound(t, rounds)
	if st := stat(p, s.addr()); !st.Down || st.Fails != 1 {
		t.Fatalf("an older probe erased a fresher failure: %+v", st)
	}
	clock.Advance(time.Second)
	<-in
	gate <- struct{}{} // this one began after the failure
	waitRound(t, rounds)
	if st := stat(p, s.addr()); st.Down || st.Fails != 0 {
		t.Fatalf("a newer probe did not clear the failure: %+v", st)
	}
}

// Active checks on an address that is a Unix socket, through the pool's own
// dialer.
func TestCheckUnix(t *testing.T) {
	path := testutil.ShortTempDir(t) + "/h.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s", r.Host)
	})}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	defer func() { srv.Close(); <-done }()
	hc := &HealthCheck{Kind: "http", ExpectBody: "^host=localhost$"}
	p, err := build(Config{Addrs: []string{"unix:" + path}, Health: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.probe(context.Background(), p.cfg.Health, p.addrs[0]); err != nil {
		t.Fatal(err)
	}
}

func TestHealthCheckConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		hc   HealthCheck
	}{
		{"no kind", HealthCheck{}},
		{"udp", HealthCheck{Kind: "udp"}},
		{"relative path", HealthCheck{Kind: "http", Path: "health"}},
		{"space in path", HealthCheck{Kind: "http", Path: "/a b"}},
		{"CRLF in path", HealthCheck{Kind: "http", Path: "/a\r\nX: y"}},
		{"CRLF in host", HealthCheck{Kind: "http", Host: "a\r\nX: y"}},
		{"bad status", HealthCheck{Kind: "http", ExpectStatus: "ok"}},
		{"bad regexp", HealthCheck{Kind: "http", ExpectBody: "("}},
		{"rise over the bound", HealthCheck{Kind: "tcp", Rise: 101}},
		{"expect too long", HealthCheck{Kind: "tcp", Expect: strings.Repeat("x", MaxCheckBody+1)}},
	} {
		hc := c.hc
		if _, err := New(Config{Addrs: []string{"127.0.0.1:1"}, Health: &hc, Dial: pipeDial}); err == nil {
			t.Errorf("%s: accepted", c.name)
		}
	}
	got := HealthCheck{Kind: "http"}.withDefaults()
	if got.Path != "/" || got.ExpectStatus != "2xx" || got.Interval != 10*time.Second || got.Timeout != 2*time.Second ||
		got.Rise != 2 || got.Fall != 3 || got.body != nil || !got.status.Match(299) {
		t.Fatalf("defaults: %+v", got)
	}
	for range 100 {
		if d := jitter(10 * time.Second); d < 9*time.Second || d >= 11*time.Second {
			t.Fatalf("jitter: %v", d)
		}
	}
}
