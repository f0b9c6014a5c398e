//go:build linux

package wsgi

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Races and limits of requests queued in a slot, found by review.

// A request that fails to queue on a full slot leaves the places' states
// alone: were it to mark wait[s.seq%maxDepth] waiting at depth 8, that index
// would be the head's, a head just given its turn would look as if waiting,
// and a client leaving at that moment would withdraw a request that holds the
// turn; nobody would then read its answer or hand the slot on.
func TestQueueOnLeavesAGivenTurn(t *testing.T) {
	req := []byte{frameRequest, 0, 0, 0, 1, 'x'}
	for trial := range 40 {
		p := &Pool{cfg: Config{WorkerQueue: 7, window: time.Minute}}
		w := &worker{p: p}
		w.state.Store(stateReady)
		fc, child, err := newFrameConn()
		if err != nil {
			t.Fatal(err)
		}
		s := &slot{w: w, fc: fc, budget: maxQueuedBytes}
		for i := range s.turn {
			s.turn[i] = make(chan turnState, 1)
		}
		w.slots = []*slot{s}
		// Request 7 has just ended (its handOn took depth 8 -> 7); 8..14 are
		// queued, 8 at the head.
		s.seq = 15
		s.depth.Store(7)
		w.inflight.Store(7)
		s.began.Store(monotonic())
		for q := uint32(8); q < 15; q++ {
			s.wait[q%maxDepth].Store(placeWaiting)
		}
		s.sendMu.Lock() // request A is taking place 15
		done := make(chan bool)
		go func() { _, ok := p.queueOn(s, req); done <- ok }() // request B: sees depth 7
		for w.inflight.Load() != 8 {
			runtime.Gosched()
		}
		time.Sleep(time.Millisecond) // B waits for sendMu
		s.depth.Store(8)             // A's place
		s.seq = 16
		// request 7's handOn gives request 8 its turn
		if !s.wait[8%maxDepth].CompareAndSwap(placeWaiting, placeGiven) {
			t.Fatal("setup")
		}
		s.turn[8%maxDepth] <- turnGo
		s.sendMu.Unlock()
		if <-done {
			t.Fatal("B queued at depth 8")
		}
		// request 8's client leaves as its turn comes
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		qt := queueTimer{d: time.Hour}
		_, err = p.wait(ctx, place{s: s, queued: true, seq: 8}, &qt)
		qt.stop()
		left := len(s.turn[8%maxDepth])
		fc.close()
		for _, f := range child {
			f.Close()
		}
		if err != nil {
			t.Fatalf("trial %d: request 8 withdrew (%v) after it had been given its turn (the turn is still in its channel: %d); "+
				"nobody reads its answer or hands on: the slot stays at depth %d forever and its worker never ends", trial, err, left, s.depth.Load())
		}
	}
}

// A queued request whose R frame the worker read early (while the running
// request read its body) and which is then withdrawn (queue_timeout, or its
// client leaves) does not run: the worker looks in the pipe for its A frame
// before it begins the request.
func TestWithdrawnNotRun(t *testing.T) {
	for _, how := range []string{"queue_timeout", "client"} {
		t.Run(how, func(t *testing.T) {
			f, side := sideFixture(t, Config{QueueTimeout: 400 * time.Millisecond, Timeout: 10 * time.Second, window: time.Minute})
			s := f.pool.snapshot()[0].slots[0]
			c := client()
			defer closeIdle(c)
			r0 := make(chan string, 1)
			go func() {
				r0 <- fetch(c, context.Background(), "POST", f.url+"/x?id=r0&s=0.2&a=1.0", strings.NewReader("body"), nil)
			}()
			waitDepth(t, s, 1)
			ctx := context.Background()
			if how == "client" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 400*time.Millisecond)
				defer cancel()
			}
			r1 := make(chan string, 1)
			go func() { r1 <- fetch(c, ctx, "GET", f.url+"/x?id=r1&side=1", nil, nil) }()
			waitDepth(t, s, 2)
			got1 := <-r1
			got0 := <-r0
			time.Sleep(300 * time.Millisecond)
			t.Logf("r0 %q, r1 %q, runs %v", got0, got1, ran(t, side))
			if n := ran(t, side)["r1"]; n != 0 {
				t.Errorf("r1 was withdrawn (answered %q) yet ran %d time(s)", got1, n)
			}
		})
	}
}

// A user past pipe-user-pages-soft gets small pipes (2 pages here): the
// bytes queued in one are bounded by a quarter of its size, so an R frame
// never fills it and the running request's A frame (its client leaves) gets
// through at once, where it would otherwise wait behind the R frames while
// the worker waits for gatehouse to read its response, until the timeout.
func TestQueuedSmallPipe(t *testing.T) {
	f, _ := sideFixture(t, Config{Timeout: 8 * time.Second, window: time.Minute})
	s := f.pool.snapshot()[0].slots[0]
	rc, err := s.fc.wr.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(fd uintptr) {
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETPIPE_SZ, 8192); e != 0 {
			t.Fatal(e)
		}
		s.budget = queueBudget(pipeCap(int(fd))) // as spawn measures a new pipe
	})
	if s.budget != 2048 {
		t.Fatalf("budget %d for an 8 KiB pipe", s.budget)
	}
	// Frames of about 900 bytes: two fit in the budget, where 16 KiB would
	// take all four.
	h := http.Header{"X-Big": {strings.Repeat("a", 400)}}
	depth, got, after := leaveMidResponse(t, f, h, 4)
	t.Logf("depth %d; answers %v after %v", depth, got, after)
	if depth < 2 || depth > 3 {
		t.Errorf("slot depth %d: want the running request and one or two queued within 2 KiB", depth)
	}
	for i := range 4 {
		if want := "200 id=q" + strconv.Itoa(i); !got[want] {
			t.Errorf("no %q among %v", want, got)
		}
	}
	if after > 4*time.Second {
		t.Errorf("waiting requests answered %v after the client left", after)
	}
	if strings.Contains(f.logs.String(), "over its timeout") {
		t.Error("the worker was killed for a timeout")
	}
}
