package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/testutil"
	"gatehouse/web"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// echoServer answers each line with the same line. closeAfter > 0 closes a
// connection after that many lines; greet writes bytes no request asked for.
type echoServer struct {
	l          net.Listener
	addr       string
	accepts    atomic.Int32
	closeAfter int
	greet      string
	wg         sync.WaitGroup
	mu         sync.Mutex
	conns      map[net.Conn]bool
}

func startEcho(t *testing.T, network string) *echoServer {
	t.Helper()
	return startEchoWith(t, network, 0, "")
}

func startEchoWith(t *testing.T, network string, closeAfter int, greet string) *echoServer {
	t.Helper()
	var l net.Listener
	var err error
	var addr string
	if network == "unix" {
		path := testutil.ShortTempDir(t) + "/s.sock"
		l, err = net.Listen("unix", path)
		addr = "unix:" + path
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			addr = l.Addr().String()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{l: l, addr: addr, conns: map[net.Conn]bool{}, closeAfter: closeAfter, greet: greet}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.stop)
	return s
}

func (s *echoServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.accepts.Add(1)
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.handle(c)
	}
}

func (s *echoServer) handle(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	if s.greet != "" {
		io.WriteString(c, s.greet)
	}
	br := bufio.NewReader(c)
	for i := 0; s.closeAfter == 0 || i < s.closeAfter; i++ {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

// waitAccepts polls until the server has accepted n connections (the
// client's connect completes before the server's Accept returns).
func (s *echoServer) waitAccepts(t *testing.T, n int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.accepts.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d accepts, want %d", s.accepts.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	if got := s.accepts.Load(); got != n {
		t.Fatalf("%d accepts, want %d", got, n)
	}
}

func (s *echoServer) stop() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// roundTrip sends a line on c and reads it back.
func roundTrip(t *testing.T, c net.Conn, msg string) error {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return err
	}
	buf := make([]byte, len(msg)+1)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg+"\n" {
		t.Fatalf("echo %q", buf)
	}
	return nil
}

func newPool(t *testing.T, cfg Config) *Pool {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func get(t *testing.T, p *Pool) *Conn {
	t.Helper()
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pipeDial connects to nothing: each dial returns one end of a pipe, for tests
// of where connections go, not of what they carry.
func pipeDial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, other := net.Pipe()
	other.Close()
	return c, nil
}

// manualClock gives p a clock that moves only by Advance, for FailTimeout,
// IdleTimeout and QueueTimeout.
func manualClock(p *Pool) *testutil.Clock {
	c := testutil.NewClock(time.Unix(1e9, 0))
	p.now, p.afterFunc = c.Now, c.Schedule
	return c
}

// waitPending polls until n functions are scheduled on c: a waiter arms its
// queue timer after it has joined the queue, outside the pool's lock.
func waitPending(t *testing.T, c *testutil.Clock, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Pending() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d timers pending, want %d", c.Pending(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestParseAddr(t *testing.T) {
	for in, want := range map[string]string{
		"unix:/run/php.sock": "unix /run/php.sock",
		"127.0.0.1:9000":     "tcp 127.0.0.1:9000",
		"[::1]:9000":         "tcp [::1]:9000",
		"localhost:9000":     "tcp localhost:9000",
		"127.0.0.1:1":        "tcp 127.0.0.1:1",
		"127.0.0.1:65535":    "tcp 127.0.0.1:65535",
		"127.0.0.1:0":        "error",
		"127.0.0.1:65536":    "error",
		"127.0.0.1:http":     "error",
		"unix:":              "error",
		"127.0.0.1":          "error",
		":9000":              "error",
		"host:":              "error",
		"/run/php.sock":      "error",
	} {
		n, a, err := ParseAddr(in)
		got := n + " " + a
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without addresses")
	}
	if _, err := New(Config{Addrs: []string{"nope"}}); err == nil {
		t.Error("New with a bad address")
	}
}

func TestReuse(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			s := startEcho(t, network)
			p := newPool(t, Config{Addrs: []string{s.addr}})
			c := get(t, p)
			if c.Reused() || c.Upstream() != s.addr {
				t.Fatalf("first: reused %v, %s", c.Reused(), c.Upstream())
			}
			if err := roundTrip(t, c, "one"); err != nil {
				t.Fatal(err)
			}
			first := c.Conn
			c.Release(true)
			c.Release(false) // ignored: the first release decided
			if st := p.Stats()[0]; st.Open != 1 || st.Idle != 1 {
				t.Fatalf("after release: %+v", st)
			}
			c = get(t, p)
			if !c.Reused() || c.Conn != first {
				t.Fatal("the idle connection was not reused")
			}
			if err := roundTrip(t, c, "two"); err != nil {
				t.Fatal(err)
			}
			c.Release(false)
			if st := p.Stats()[0]; st.Open != 0 || st.Idle != 0 || s.accepts.Load() != 1 {
				t.Fatalf("after close: %+v, %d accepts", st, s.accepts.Load())
			}
		})
	}
}

func TestRoundRobin(t *testing.T) {
	servers := []*echoServer{startEcho(t, "tcp"), startEcho(t, "unix"), startEcho(t, "tcp")}
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.addr)
	}
	p := newPool(t, Config{Addrs: addrs})
	for i := range 9 {
		c := get(t, p)
		if err := roundTrip(t, c, "x"); err != nil {
			t.Fatal(i, err)
		}
		c.Release(false)
	}
	for i, s := range servers {
		if n := s.accepts.Load(); n != 3 {
			t.Errorf("server %d: %d connections, want 3", i, n)
		}
	}
	// Connections held at once spread over the addresses too.
	var held []*Conn
	for range 3 {
		held = append(held, get(t, p))
	}
	seen := map[string]bool{}
	for _, c := range held {
		seen[c.Upstream()] = true
		c.Release(true)
	}
	if len(seen) != 3 {
		t.Fatalf("3 connections on %d addresses", len(seen))
	}
}

// The queue's deadline is on the pool's clock: a waiter gives up when that
// clock reaches QueueTimeout, not a nanosecond before.
func TestQueueTimeout(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, MaxConns: 1, QueueTimeout: 10 * time.Second, RetryAfter: 7})
	clock := manualClock(p)
	c := get(t, p)
	defer c.Release(true)
	errc := make(chan error, 1)
	go func() {
		_, err := p.Get(context.Background())
		errc <- err
	}()
	waitWaiters(t, p, 1)
	waitPending(t, clock, 1)
	clock.Advance(10*time.Second - time.Nanosecond)
	if n := clock.Pending(); n != 1 {
		t.Fatalf("the queue timer fired before QueueTimeout (%d pending)", n)
	}
	clock.Advance(time.Nanosecond)
	var err error
	select {
	case err = <-errc:
	case <-time.After(5 * time.Second):
		t.Fatal("no timeout at QueueTimeout")
	}
	var we *web.Error
	if !errors.Is(err, ErrQueueTimeout) || web.StatusOf(err) != 503 || !errors.As(err, &we) || we.RetryAfter != 7 {
		t.Fatalf("%v", err)
	}
	p.mu.Lock()
	n := len(p.waiters)
	p.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}

func TestQueueNoWait(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, MaxConns: 1, QueueTimeout: -1})
	c := get(t, p)
	defer c.Release(true)
	if _, err := p.Get(context.Background()); !errors.Is(err, ErrQueueFull) || web.StatusOf(err) != 503 {
		t.Fatalf("%v", err)
	}
}

// waitWaiters polls until n callers wait in p's queue.
func waitWaiters(t *testing.T, p *Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		got := len(p.waiters)
		p.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueueFull(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, MaxConns: 1, MaxQueue: 1, QueueTimeout: 10 * time.Second})
	c := get(t, p)
	got := make(chan *Conn)
	go func() {
		w, err := p.Get(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- w
	}()
	waitWaiters(t, p, 1)
	if _, err := p.Get(context.Background()); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("second waiter: %v", err)
	}
	c.Release(true)
	w := <-got
	if w.Conn != c.Conn || !w.Reused() {
		t.Fatal("the released connection did not go to the waiter")
	}
	w.Release(true)
}

// A connection released as not reusable frees its slot for the first waiter,
// who dials.
func TestQueueSlotHandoff(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, MaxConns: 1})
	c := get(t, p)
	got := make(chan *Conn)
	go func() {
		w, err := p.Get(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- w
	}()
	waitWaiters(t, p, 1)
	c.Release(false)
	w := <-got
	if w.Reused() || w.Conn == c.Conn {
		t.Fatal("waiter got the closed connection")
	}
	if err := roundTrip(t, w, "after"); err != nil {
		t.Fatal(err)
	}
	w.Release(false)
	if st := p.Stats()[0]; st.Open != 0 {
		t.Fatalf("%+v", st)
	}
}

// A caller that gives up while waiting leaves no slot or connection behind.
func TestQueueCancel(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, MaxConns: 1})
	c := get(t, p)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := p.Get(ctx)
		errc <- err
	}()
	waitWaiters(t, p, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	c.Release(true)
	if st := p.Stats()[0]; st.Open != 1 || st.Idle != 1 {
		t.Fatalf("%+v", st)
	}
}

// countingDial counts dials per address.
func countingDial(counts *sync.Map) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		v, _ := counts.LoadOrStore(addr, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func dials(counts *sync.Map, addr string) int32 {
	v, ok := counts.Load(addr)
	if !ok {
		return 0
	}
	return v.(*atomic.Int32).Load()
}

func TestDownAddress(t *testing.T) {
	good := startEcho(t, "tcp")
	bad := testutil.FreeAddr(t) // nothing listens: connections are refused
	var counts sync.Map
	p := newPool(t, Config{Addrs: []string{bad, good.addr}, FailTimeout: time.Minute, Dial: countingDial(&counts)})
	clock := manualClock(p)
	for i := range 6 {
		c, err := p.Get(context.Background())
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if c.Upstream() != good.addr {
			t.Fatalf("request %d on %s", i, c.Upstream())
		}
		c.Release(false)
	}
	if n := dials(&counts, bad); n != 1 {
		t.Fatalf("the down address was dialed %d times", n)
	}
	if st := p.Stats(); !st[0].Down || st[1].Down || st[0].Open != 0 {
		t.Fatalf("%+v", st)
	}
	// Once FailTimeout has passed, it is tried again.
	clock.Advance(time.Minute)
	for range 2 {
		c := get(t, p)
		c.Release(false)
	}
	if n := dials(&counts, bad); n != 2 {
		t.Fatalf("after FailTimeout: %d dials", n)
	}
}

// With every address down, each request still tries them (a lone php-fpm
// that restarts is used as soon as it listens again).
func TestAllDown(t *testing.T) {
	addr := testutil.FreeAddr(t)
	var counts sync.Map
	p := newPool(t, Config{Addrs: []string{addr}, Dial: countingDial(&counts)})
	for i := range 2 {
		_, err := p.Get(context.Background())
		if web.StatusOf(err) != 502 || !strings.Contains(err.Error(), addr) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if n := dials(&counts, addr); n != 2 {
		t.Fatalf("%d dials", n)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	defer l.Close()
	c := get(t, p)
	c.Release(false)
	if st := p.Stats()[0]; st.Down || st.Open != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestDialTimeout(t *testing.T) {
	p := newPool(t, Config{Addrs: []string{"127.0.0.1:9"}, DialTimeout: 30 * time.Millisecond,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done() // a server that never answers the SYN
			return nil, ctx.Err()
		}})
	_, err := p.Get(context.Background())
	if web.StatusOf(err) != 504 {
		t.Fatalf("%v", err)
	}
	// The caller's own deadline is not the address's fault.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	p2 := newPool(t, Config{Addrs: []string{"127.0.0.1:9"}, Dial: p.cfg.Dial})
	if _, err := p2.Get(ctx); err == nil || p2.Stats()[0].Down {
		t.Fatalf("%v %+v", err, p2.Stats())
	}
}

func TestBrokenIdle(t *testing.T) {
	for _, c := range []struct {
		name       string
		closeAfter int
		greet      string
	}{
		{"peer closed", 1, ""},
		{"unsolicited bytes", 0, "surprise\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startEchoWith(t, "unix", c.closeAfter, c.greet)
			p := newPool(t, Config{Addrs: []string{s.addr}})
			conn := get(t, p)
			if c.greet == "" {
				if err := roundTrip(t, conn, "x"); err != nil {
					t.Fatal(err)
				}
			}
			conn.Release(true)
			// Wait until the peer has closed (or its greeting has arrived).
			deadline := time.Now().Add(5 * time.Second)
			for alive(conn.Conn) {
				if time.Now().After(deadline) {
					t.Fatal("still alive")
				}
				time.Sleep(time.Millisecond)
			}
			next := get(t, p)
			if next.Reused() || next.Conn == conn.Conn {
				t.Fatalf("reused %v", next.Reused())
			}
			s.waitAccepts(t, 2)
			next.Release(false)
			if st := p.Stats()[0]; st.Open != 0 || st.Idle != 0 {
				t.Fatalf("%+v", st)
			}
		})
	}
}

func TestGetFresh(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, MaxConns: 1})
	c := get(t, p)
	roundTrip(t, c, "x")
	c.Release(true)
	f, err := p.GetFresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// At MaxConns 1, the fresh connection took the idle one's slot.
	if f.Reused() || f.Conn == c.Conn {
		t.Fatalf("reused %v", f.Reused())
	}
	s.waitAccepts(t, 2)
	if st := p.Stats()[0]; st.Open != 1 || st.Idle != 0 {
		t.Fatalf("%+v", st)
	}
	f.Release(true)
}

// Idle connections are closed by a sweep on the pool's clock, which re-arms
// itself for the next one to expire.
func TestIdleTimeout(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, IdleTimeout: time.Minute})
	clock := manualClock(p)
	a, b := get(t, p), get(t, p)
	a.Release(true) // arms the sweep for a minute from now
	clock.Advance(30 * time.Second)
	b.Release(true)
	clock.Advance(30*time.Second - time.Nanosecond)
	if st := p.Stats()[0]; st.Idle != 2 || st.Open != 2 {
		t.Fatalf("before IdleTimeout: %+v", st)
	}
	clock.Advance(time.Nanosecond) // the sweep: a expired, b has 30 s left
	if st := p.Stats()[0]; st.Idle != 1 || st.Open != 1 || clock.Pending() != 1 {
		t.Fatalf("after a's IdleTimeout: %+v, %d sweeps armed", st, clock.Pending())
	}
	clock.Advance(30 * time.Second) // the re-armed sweep: b expired
	if st := p.Stats()[0]; st.Idle != 0 || st.Open != 0 || clock.Pending() != 0 {
		t.Fatalf("after b's IdleTimeout: %+v, %d sweeps armed", st, clock.Pending())
	}
}

// A connection idle for IdleTimeout is not handed out even when the sweep is
// late (here its clock never moves): Get drops it and takes or dials another.
func TestIdleTimeoutAtGet(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, IdleTimeout: time.Minute})
	clock := manualClock(p)
	p.afterFunc = testutil.NewClock(time.Unix(1e9, 0)).Schedule // the sweep's clock
	a, b := get(t, p), get(t, p)
	a.Release(true)
	clock.Advance(30 * time.Second)
	b.Release(true)
	clock.Advance(30 * time.Second) // a idle for exactly IdleTimeout, b for half
	c := get(t, p)
	if !c.Reused() || c.Conn != b.Conn {
		t.Fatal("did not reuse the connection within IdleTimeout")
	}
	if st := p.Stats()[0]; st.Idle != 0 || st.Open != 1 {
		t.Fatalf("a not dropped: %+v", st)
	}
	c.Release(true)
	clock.Advance(time.Minute - time.Nanosecond)
	if c = get(t, p); !c.Reused() {
		t.Fatal("dropped a nanosecond before IdleTimeout")
	}
	c.Release(true)
	clock.Advance(time.Minute)
	if c = get(t, p); c.Reused() {
		t.Fatal("reused an expired connection")
	}
	s.waitAccepts(t, 3)
	if st := p.Stats()[0]; st.Idle != 0 || st.Open != 1 {
		t.Fatalf("%+v", st)
	}
	c.Release(false)
	if st := p.Stats()[0]; st.Idle != 0 || st.Open != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestMaxIdle(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, MaxIdle: 1})
	a, b := get(t, p), get(t, p)
	a.Release(true)
	b.Release(true)
	if st := p.Stats()[0]; st.Idle != 1 || st.Open != 1 {
		t.Fatalf("%+v", st)
	}
	none := newPool(t, Config{Addrs: []string{s.addr}, MaxIdle: -1})
	c := get(t, none)
	c.Release(true)
	if st := none.Stats()[0]; st.Idle != 0 || st.Open != 0 {
		t.Fatalf("MaxIdle -1: %+v", st)
	}
}

func TestClose(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, MaxConns: 2})
	idle, busy := get(t, p), get(t, p)
	idle.Release(true)
	p.Close()
	if st := p.Stats()[0]; st.Idle != 0 || st.Open != 1 {
		t.Fatalf("after Close: %+v", st)
	}
	busy.Release(true) // closed, not kept
	if st := p.Stats()[0]; st.Idle != 0 || st.Open != 0 {
		t.Fatalf("after release: %+v", st)
	}
	if _, err := p.Get(context.Background()); !errors.Is(err, ErrClosed) || web.StatusOf(err) != 503 {
		t.Fatalf("after close: %v", err)
	}
	p.Close() // twice is harmless
}

func TestCloseWakesWaiters(t *testing.T) {
	s := startEcho(t, "tcp")
	p := newPool(t, Config{Addrs: []string{s.addr}, MaxConns: 1})
	c := get(t, p)
	errc := make(chan error)
	go func() {
		_, err := p.Get(context.Background())
		errc <- err
	}()
	waitWaiters(t, p, 1)
	p.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("%v", err)
	}
	c.Release(true)
	if st := p.Stats()[0]; st.Open != 0 {
		t.Fatalf("%+v", st)
	}
}

// Many callers over few connections: never more than MaxConns per address,
// nothing lost, every slot back at the end.
func TestConcurrent(t *testing.T) {
	servers := []*echoServer{startEcho(t, "tcp"), startEcho(t, "unix")}
	var open, maxOpen [2]atomic.Int32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		i := 0
		if network == "unix" {
			i = 1
		}
		n := open[i].Add(1)
		for m := maxOpen[i].Load(); n > m && !maxOpen[i].CompareAndSwap(m, n); m = maxOpen[i].Load() {
		}
		return &countedConn{Conn: c, open: &open[i]}, nil
	}
	p := newPool(t, Config{Addrs: []string{servers[0].addr, servers[1].addr}, MaxConns: 3, MaxIdle: 2, Dial: dial})
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				c, err := p.Get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if err := roundTrip(t, c, "m"); err != nil {
					t.Error(err)
				}
				c.Release((g+i)%3 != 0)
			}
		}()
	}
	wg.Wait()
	for i := range maxOpen {
		if m := maxOpen[i].Load(); m > 3 || m == 0 {
			t.Errorf("address %d had %d connections open at once", i, m)
		}
	}
	for _, st := range p.Stats() {
		if st.Open != st.Idle || st.Idle > 2 {
			t.Errorf("%+v", st)
		}
	}
}

// countedConn counts open connections on the client side, where closing is
// immediate (a server sees a close only when it next reads).
type countedConn struct {
	net.Conn
	open *atomic.Int32
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.open.Add(-1) })
	return c.Conn.Close()
}

// An idle connection whose last read deadline passed while it waited is still
// alive and handed out again: the check must not trip over the old deadline.
func TestIdleAfterDeadlinePassed(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			s := startEcho(t, network)
			p := newPool(t, Config{Addrs: []string{s.addr}})
			conn := get(t, p)
			if err := roundTrip(t, conn, "x"); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			conn.Release(true)
			time.Sleep(30 * time.Millisecond)
			next := get(t, p)
			if !next.Reused() || next.Conn != conn.Conn {
				t.Fatal("a healthy idle connection was not reused")
			}
			next.SetDeadline(time.Now().Add(5 * time.Second))
			if err := roundTrip(t, next, "y"); err != nil {
				t.Fatal(err)
			}
			next.Release(false)
		})
	}
}

// A retry avoids the addresses it names while another is there, and goes
// back to one when all were tried; Fail marks its address down and closes
// the connection.
func TestWantAvoidAndFail(t *testing.T) {
	a, b := startEcho(t, "tcp").addr, startEcho(t, "tcp").addr
	p, err := New(Config{Addrs: []string{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	for range 4 {
		c, err := p.GetWant(ctx, Want{Avoid: []string{a}})
		if err != nil || c.Upstream() != b {
			t.Fatalf("avoiding %s: %v %v", a, c, err)
		}
		c.Release(true)
	}
	c, err := p.GetWant(ctx, Want{Avoid: []string{a, b}})
	if err != nil {
		t.Fatalf("every address avoided: %v", err)
	}
	c.Release(true)
	c, err = p.GetWant(ctx, Want{Avoid: []string{a}})
	if err != nil {
		t.Fatal(err)
	}
	c.Fail() // b is down now: a takes the next requests
	for range 3 {
		c, err := p.Get(ctx)
		if err != nil || c.Upstream() != a {
			t.Fatalf("after b failed: %v %v", c, err)
		}
		c.Release(true)
	}
}

// An aborted connection stays aborted: a reader that sets a new deadline
// after the abort (between two reads of a response) still fails at once,
// on TCP and on a Unix socket.
func TestAbortSticks(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = testutil.ShortTempDir(t) + "/s.sock"
			}
			l, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					defer c.Close() // silent: the client's reads would wait
				}
			}()
			name := l.Addr().String()
			if network == "unix" {
				name = "unix:" + name
			}
			p := newPool(t, Config{Addrs: []string{name}})
			c := get(t, p)
			c.AbortFunc()()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			start := time.Now()
			if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > time.Second {
				t.Fatalf("read after the abort and a new deadline: %v after %v", err, time.Since(start))
			}
			c.Release(false)
		})
	}
}
