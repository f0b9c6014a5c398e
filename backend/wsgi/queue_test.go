package wsgi

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Tests of requests queued in a busy worker thread (docs/wsgi-protocol.md,
// "Requests queued in a slot"), on testdata/sidefx.py: each response names
// its request, and requests asked to ("side") leave their id in a file, so a
// test sees which requests ran and how often.

// fetch sends one request and describes its answer as "STATUS BODY".
func fetch(c *http.Client, ctx context.Context, method, url string, body io.Reader, header http.Header) string {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return err.Error()
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Sprintf("%d read error: %v", resp.StatusCode, err)
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, b)
}

// ran counts the runs of each request that asked to be recorded.
func ran(t *testing.T, side string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(side)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, id := range strings.Fields(string(b)) {
		m[id]++
	}
	return m
}

// sideFixture starts one worker thread of sidefx.py that records runs.
func sideFixture(t *testing.T, cfg Config) (*fixture, string) {
	side := filepath.Join(t.TempDir(), "side")
	cfg.App = "sidefx:app"
	cfg.Env = append(cfg.Env, "SIDE_FILE="+side)
	if cfg.Workers == 0 {
		cfg.Workers = 1
	}
	return start(t, cfg), side
}

// Under load, with requests queued behind each other on every slot, each
// client gets its own response.
func TestQueuedNoCrossing(t *testing.T) {
	f := start(t, Config{Workers: 2, Threads: 2, App: "sidefx:app", window: time.Minute})
	var crossed, failed, ok atomic.Int64
	var example atomic.Value
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for c := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client()
			defer closeIdle(cl)
			for i := 0; time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("c%di%d", c, i)
				switch got := fetch(cl, context.Background(), "GET", f.url+"/x?id="+id, nil, nil); got {
				case "200 id=" + id:
					ok.Add(1)
				default:
					if strings.HasPrefix(got, "200 ") {
						crossed.Add(1)
						example.Store(id + " got " + got)
					} else {
						failed.Add(1)
						example.Store(id + " got " + got)
					}
				}
			}
		}()
	}
	wg.Wait()
	if crossed.Load() != 0 || failed.Load() != 0 || ok.Load() < 100 {
		t.Errorf("%d right, %d crossed, %d failed; e.g. %v", ok.Load(), crossed.Load(), failed.Load(), example.Load())
	}
}

// A queued request is never run twice. The timeout strikes while the request
// ahead runs, but that request ends (X) before the kill: the worker may have
// begun the queued POST, so it is answered 502 and not run again elsewhere.
func TestQueuedNotRunTwiceAfterATimeout(t *testing.T) {
	f, side := sideFixture(t, Config{Timeout: 300 * time.Millisecond, window: time.Minute})
	s := f.pool.snapshot()[0].slots[0]
	c := client()
	defer closeIdle(c)
	r0 := make(chan string, 1)
	go func() {
		r0 <- fetch(c, context.Background(), "POST", f.url+"/x?id=r0&side=1&s=0.35", nil, nil)
	}()
	waitDepth(t, s, 1)
	r1 := make(chan string, 1)
	go func() {
		r1 <- fetch(c, context.Background(), "POST", f.url+"/x?id=r1&side=1", strings.NewReader("payment"), nil)
	}()
	waitDepth(t, s, 2)
	got0, got1 := <-r0, <-r1
	time.Sleep(300 * time.Millisecond) // a second run, if any, has had the time to write its line
	t.Logf("%q %q %v", got0, got1, ran(t, side))
	if n := ran(t, side)["r1"]; n > 1 {
		t.Errorf("the queued POST ran %d times (answers: %q, %q)", n, got0, got1)
	}
	if got1 != "200 id=r1" && got1 != "502 502 Bad Gateway\n" {
		t.Errorf("queued POST answered %q", got1)
	}
	if got1 != "200 id=r1" && !strings.Contains(f.logs.String(), "wsgi worker failed before the request could be answered") {
		t.Errorf("a 502 without its log line:\n%s", f.logs.String())
	}
}

// R frames too large to leave in the pipe while the worker is busy do not
// queue: a full pipe would stall gatehouse's writes to the worker (its A
// frames among them) until the request timeout. Here the running request's
// client reads a little of an 8 MB response and leaves, while requests with
// 28 KB of header fields wait: the worker is told at once, and every waiting
// request is answered.
func TestQueuedBytesBounded(t *testing.T) {
	f, _ := sideFixture(t, Config{Timeout: 10 * time.Second, window: time.Minute})
	h := http.Header{}
	for j := range 4 {
		h.Set(fmt.Sprintf("X-Big-%d", j), strings.Repeat("a", 7000))
	}
	depth, got, after := leaveMidResponse(t, f, h, 4)
	if depth != 1 {
		t.Errorf("slot depth %d with large requests waiting: they queued in the pipe", depth)
	}
	for i := range 4 {
		if want := fmt.Sprintf("200 id=q%d", i); !got[want] {
			t.Errorf("no %q among %v", want, got)
		}
	}
	if after > 5*time.Second {
		t.Errorf("waiting requests answered %v after the client left", after)
	}
	if strings.Contains(f.logs.String(), "over its timeout") {
		t.Error("the worker was killed for a timeout")
	}
}

// leaveMidResponse runs a request whose client reads a little of an 8 MB
// response and leaves (reset), while n requests with header fields h wait
// (on the one worker thread of f). It returns the slot's depth while they
// wait, their answers, and how long after the client left they came.
func leaveMidResponse(t *testing.T, f *fixture, h http.Header, n int) (int32, map[string]bool, time.Duration) {
	t.Helper()
	s := f.pool.snapshot()[0].slots[0]
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /x?id=r0&s=0.3&big=8000000 HTTP/1.1\r\nHost: x\r\n\r\n")
	waitDepth(t, s, 1)
	res := make(chan string, n)
	for i := range n {
		go func() {
			c := client()
			defer closeIdle(c)
			res <- fetch(c, context.Background(), "GET", fmt.Sprintf("%s/x?id=q%d", f.url, i), nil, h)
		}()
	}
	time.Sleep(200 * time.Millisecond) // time for them to queue, if they would
	depth := s.depth.Load()
	conn.Read(make([]byte, 4096))
	time.Sleep(300 * time.Millisecond) // the response under way, the worker blocked on its pipe
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close()
	began := time.Now()
	got := map[string]bool{}
	for range n {
		got[<-res] = true
	}
	return depth, got, time.Since(began)
}

// A queued request whose client leaves, or whose queue_timeout strikes, is
// withdrawn: answered at once (503 for the timeout), skipped by the worker
// (it never runs), and the requests after it are served in order.
func TestQueuedWithdrawn(t *testing.T) {
	f, side := sideFixture(t, Config{QueueTimeout: 300 * time.Millisecond, window: time.Minute})
	s := f.pool.snapshot()[0].slots[0]
	c := client()
	defer closeIdle(c)
	r0 := make(chan string, 1)
	go func() { r0 <- fetch(c, context.Background(), "GET", f.url+"/x?id=r0&s=1", nil, nil) }()
	waitDepth(t, s, 1)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	if got := fetch(c, ctx, "GET", f.url+"/x?id=r1&side=1", nil, nil); !strings.Contains(got, "deadline") {
		t.Errorf("r1 (client leaves after 100 ms) got %q", got)
	}
	r2 := fetch(c, context.Background(), "GET", f.url+"/x?id=r2&side=1", nil, nil)
	waited := time.Since(began)
	if r2 != "503 503 Service Unavailable\n" {
		t.Errorf("r2 (queue timeout 300 ms) got %q", r2)
	}
	if waited > 800*time.Millisecond {
		t.Errorf("r1 and r2 answered after %v: the queued wait ignored the client and queue_timeout", waited)
	}
	if got := <-r0; got != "200 id=r0" {
		t.Errorf("r0 got %q", got)
	}
	if got := fetch(c, context.Background(), "GET", f.url+"/x?id=r3&side=1", nil, nil); got != "200 id=r3" {
		t.Errorf("r3, after the withdrawn ones, got %q", got)
	}
	if m := ran(t, side); m["r1"] != 0 || m["r2"] != 0 || m["r3"] != 1 {
		t.Errorf("runs %v: want r3 once and the withdrawn r1 and r2 never", m)
	}
	if d := s.depth.Load(); d != 0 {
		t.Errorf("slot depth %d when idle", d)
	}
}

// worker_queue = 0 (WorkerQueue -1): a busy slot takes nobody behind it.
func TestWorkerQueueOff(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "sidefx:app", WorkerQueue: -1, window: time.Minute})
	s := f.pool.snapshot()[0].slots[0]
	c := client()
	defer closeIdle(c)
	res := make(chan string, 4)
	go func() { res <- fetch(c, context.Background(), "GET", f.url+"/x?id=r0&s=0.3", nil, nil) }()
	waitDepth(t, s, 1)
	for i := range 3 {
		go func() { res <- fetch(c, context.Background(), "GET", fmt.Sprintf("%s/x?id=q%d", f.url, i), nil, nil) }()
	}
	time.Sleep(150 * time.Millisecond)
	if d := s.depth.Load(); d != 1 {
		t.Errorf("slot depth %d with the queue off", d)
	}
	for range 4 {
		if got := <-res; !strings.HasPrefix(got, "200 id=") {
			t.Errorf("got %q", got)
		}
	}
}

// A slow request keeps requests from queueing on its slot for a while.
func TestTookDecay(t *testing.T) {
	const ms = int64(time.Millisecond)
	took := tookDecay(0, 50*ms)
	if took != 50*ms {
		t.Fatalf("after a 50 ms request: %d", took)
	}
	n := 0
	for took > int64(pipelineWindow) {
		took = tookDecay(took, 100*int64(time.Microsecond))
		n++
	}
	if n < 20 || n > 30 {
		t.Errorf("a 50 ms request kept the slot from queueing for %d fast requests, want 20-30", n)
	}
	if got := tookDecay(ms, 3*ms); got != 3*ms {
		t.Errorf("a longer request: %d", got)
	}
}

// Clients that leave at random moments, and workers killed at random, with
// requests queued everywhere: nobody gets another's response and no request
// runs twice.
func TestQueuedChaos(t *testing.T) {
	f, side := sideFixture(t, Config{Workers: 2, Threads: 2, window: time.Minute})
	var crossed, ok, other atomic.Int64
	var example atomic.Value
	deadline := time.Now().Add(4 * time.Second)
	var wg sync.WaitGroup
	for c := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := client()
			defer closeIdle(cl)
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for i := 0; time.Now().Before(deadline); i++ {
				id := fmt.Sprintf("c%di%d", c, i)
				ctx, cancel := context.WithCancel(context.Background())
				if rng.IntN(10) == 0 {
					time.AfterFunc(time.Duration(rng.IntN(3000))*time.Microsecond, cancel)
				}
				method, body := "GET", io.Reader(nil)
				if rng.IntN(2) == 0 {
					method, body = "POST", strings.NewReader("x")
				}
				got := fetch(cl, ctx, method, f.url+"/x?side=1&id="+id, body, nil)
				cancel()
				switch {
				case got == "200 id="+id:
					ok.Add(1)
				case strings.HasPrefix(got, "200 "):
					crossed.Add(1)
					example.Store(id + " got " + got)
				default:
					other.Add(1)
				}
			}
		}()
	}
	killer := time.NewTicker(400 * time.Millisecond)
	defer killer.Stop()
	kills := 0
	for time.Now().Before(deadline) {
		<-killer.C
		if ws := f.pool.Stats().Workers; len(ws) > 0 {
			syscall.Kill(ws[kills%len(ws)].PID, syscall.SIGKILL)
			kills++
		}
	}
	wg.Wait()
	time.Sleep(200 * time.Millisecond)
	twice := 0
	for id, n := range ran(t, side) {
		if n > 1 {
			twice++
			t.Errorf("%s ran %d times", id, n)
		}
	}
	if crossed.Load() != 0 || ok.Load() < 100 {
		t.Errorf("%d right, %d crossed (e.g. %v), %d failed or left, %d kills", ok.Load(), crossed.Load(), example.Load(), other.Load(), kills)
	}
}

// A queued request whose R frame the worker read into its buffer behind the
// A for the running request (the check for an abort stops there), still
// unparsed when that request ends, and which is then withdrawn, does not run:
// the worker looks in the pipe for its A whenever it read anything early.
func TestWithdrawnUnparsedNotRun(t *testing.T) {
	side := filepath.Join(t.TempDir(), "side")
	f := start(t, Config{Workers: 1, App: "streamfx:app", Env: []string{"SIDE_FILE=" + side},
		Timeout: 10 * time.Second, window: time.Minute})
	s := f.pool.snapshot()[0].slots[0]
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	// Chunks at 0, 0.5 and 1.0 s. The client leaves at 0.1: gatehouse's A
	// for r0 goes out with chunk 1 (0.5). r1's R follows at about 0.7, so the
	// worker's check for an abort at chunk 2 (1.0) reads both and stops at the
	// A, leaving the R unparsed. r1 is withdrawn at about 1.7, while r0's
	// close() sleeps until about 2.5. Every step has a few hundred ms to spare.
	fmt.Fprintf(conn, "GET /x?id=r0&n=5&s=0.5&c=1.5 HTTP/1.1\r\nHost: x\r\n\r\n")
	waitDepth(t, s, 1)
	conn.Read(make([]byte, 4096))
	time.Sleep(100 * time.Millisecond)
	conn.(*net.TCPConn).SetLinger(0)
	conn.Close() // the A for r0 goes out with chunk 1
	time.Sleep(600 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c := client()
	defer closeIdle(c)
	got := fetch(c, ctx, "GET", f.url+"/x?id=r1&side=1", nil, nil) // queued at about 0.7, withdrawn at about 1.7
	time.Sleep(2 * time.Second) // past r0's end: r1 would have run by now
	t.Logf("r1 answered %q; runs %v", got, ran(t, side))
	if n := ran(t, side)["r1"]; n != 0 {
		t.Errorf("r1 was withdrawn (answered %q) yet ran %d time(s)", got, n)
	}
}
