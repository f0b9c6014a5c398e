package wsgi

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/proto/cgienv"
	"gatehouse/web"
	"gatehouse/web/webcgi"
)

// Pool runs a WSGI application in supervised worker processes and serves
// requests with it. It is a web.Handler. gatehouse owns the queue: a request
// waits for a free slot (a worker thread) up to QueueTimeout.
type Pool struct {
	cfg      Config
	log      *slog.Logger
	mount    cgienv.Mount
	requests *webcgi.Failures // the failed requests' log, rate-limited

	mu       sync.Mutex
	workers  []*worker // by id-1: the current process of each id
	gens     []int
	failures []int // start failures in a row, by id-1: the respawn backoff
	closed   bool

	free     chan *slot
	spare    chan *slot // busy slots that may take a request queued behind the running one
	stop     chan struct{}
	bg       sync.WaitGroup
	reloadMu sync.Mutex
	rngMu    sync.Mutex
	rng      *rand.Rand
}

// ErrQueueTimeout is returned when no worker became free in time: 503.
var errQueueTimeout = &web.Error{Status: 503, RetryAfter: 1, Err: errors.New("wsgi: every worker busy past the queue timeout")}

// Start starts every worker and waits until all have imported the application.
// An application that fails to import stops start-up: the error carries the
// Python traceback.
func Start(cfg Config) (*Pool, error) {
	if cfg.App == "" {
		return nil, errors.New("wsgi: no application (module:callable)")
	}
	cfg = cfg.withDefaults()
	p := &Pool{
		cfg: cfg, log: cfg.Logger,
		requests: &webcgi.Failures{Limiter: lograte.Limiter{Logger: cfg.Logger}, Msg: "wsgi request failed"},
		mount:    cgienv.Mount{ScriptName: cfg.ScriptName, ServerSoftware: cfg.ServerSoftware},
		workers:  make([]*worker, cfg.Workers),
		gens:     make([]int, cfg.Workers),
		failures: make([]int, cfg.Workers),
		free:     make(chan *slot, (2*cfg.Workers+2)*cfg.Threads), // room for a reload's overlap
		spare:    make(chan *slot, (2*cfg.Workers+2)*cfg.Threads),
		stop:     make(chan struct{}),
		rng:      rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1)),
	}
	type started struct {
		w   *worker
		err error
	}
	results := make(chan started, cfg.Workers)
	for id := 1; id <= cfg.Workers; id++ {
		go func() {
			w, err := p.spawn(id, 1)
			results <- started{w, err}
		}()
	}
	var firstErr error
	for range cfg.Workers {
		r := <-results
		if r.err != nil {
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		p.workers[r.w.id-1] = r.w
		p.gens[r.w.id-1] = 1
	}
	if firstErr != nil {
		p.Close()
		return nil, firstErr
	}
	for _, w := range p.workers {
		p.offer(w)
	}
	p.log.Info("wsgi workers ready", "app", cfg.App, "workers", cfg.Workers, "threads", cfg.Threads, "python", cfg.Python)
	p.bg.Add(1)
	go p.monitor()
	return p, nil
}

// offer makes a ready worker's slots available. Slots of workers that have
// since retired or died stay in the channel until taken; when they fill it,
// they are swept out.
func (p *Pool) offer(w *worker) {
	for _, s := range w.slots {
		for !p.tryOffer(s) {
			p.sweep()
		}
	}
}

func (p *Pool) tryOffer(s *slot) bool {
	select {
	case p.free <- s:
		return true
	default:
		return false
	}
}

// sweep drops the slots of workers that no longer take requests.
func (p *Pool) sweep() {
	for range len(p.free) {
		select {
		case s := <-p.free:
			if s.w.state.Load() == stateReady {
				p.free <- s
			}
		default:
			return
		}
	}
}

func (p *Pool) jitter(n int) int {
	p.rngMu.Lock()
	defer p.rngMu.Unlock()
	return p.rng.IntN(n)
}

// A busy slot takes requests queued behind the running one only while they
// can be expected to start soon: at most Config.WorkerQueue of them (at most
// maxDepth-1), and only while the running request is younger than
// pipelineWindow and the slot's measure of how long its requests take
// (tookDecay), times the requests ahead, is less than that too. A request queued behind one that
// runs long waits for it even when another slot frees up; this bet is made
// only for applications whose requests are short, where the two context
// switches that queueing saves per request are a large part of the cost, and
// WorkerQueue = -1 turns it off.
const (
	maxDepth       = 8
	pipelineWindow = 2 * time.Millisecond
	// maxQueuedBytes bounds the R frames queued in a slot's pipe, a quarter
	// of its usual 64 KiB, so that writing one never waits for the worker
	// (which reads them only between requests) and an A frame always fits.
	// A smaller pipe (Linux gives 4 KiB to a user past pipe-user-pages-soft)
	// takes a quarter of its size (queueBudget).
	maxQueuedBytes = 16 << 10
)

// queueBudget is how many bytes of R frames may be queued in a pipe of
// capacity c.
func queueBudget(c int) int64 { return int64(min(maxQueuedBytes, c/4)) }

// epoch is the origin of the slots' clocks: monotonic, unlike Unix time.
var epoch = time.Now()

func monotonic() int64 { return int64(time.Since(epoch)) }

// turnState is what a queued request is told when the request ahead of it
// on its slot has ended.
type turnState uint8

const (
	turnGo     turnState = iota // the worker is on it: read its response
	turnLost                    // the worker died before it wrote X for the request ahead: it never ran this one, which may go to another slot
	turnFailed                  // the worker broke after the request ahead: this one may have begun, and is answered 502, never run again
)

// A queued place's state, s.wait[seq%maxDepth]: the request waits for its
// turn, has been given it, or has withdrawn (its client left or its queue
// time ran out): the worker still answers its R frame, and whoever ends the
// request ahead reads that answer (Pool.drain).
const (
	placeWaiting int32 = iota
	placeGiven
	placeWithdrawn
)

// acquire waits for a slot of a ready worker: a free one, or else a place
// behind the young request of a busy one (queued is then true). Queueing in
// the worker's pipe is what keeps a busy worker from sleeping between
// requests: it reads the next request as soon as it has written a response,
// where waiting for gatehouse to send it costs two context switches and cold
// caches on a shared CPU (docs/wsgi-protocol.md).
//
// The request's R frame (req) is written as its place is taken, under the
// slot's sendMu, so that the order of the places is the order of the frames
// in the pipe, which is the order the worker numbers them in (seq).
func (p *Pool) acquire(ctx context.Context, req []byte, qt *queueTimer) (place, error) {
	for { // fast path: no timer when a slot is free or has room
		select {
		case s := <-p.free:
			if pl, ok := p.take(s, req); ok {
				return pl, nil
			}
			continue // a slot of a worker that retired or died
		default:
		}
		if p.cfg.WorkerQueue > 0 {
			select {
			case s := <-p.spare:
				if pl, ok := p.queueOn(s, req); ok {
					return pl, nil
				}
				continue
			default:
			}
		}
		break
	}
	spare := p.spare
	if p.cfg.WorkerQueue <= 0 {
		spare = nil
	}
	for {
		select {
		case s := <-p.free:
			if pl, ok := p.take(s, req); ok {
				return pl, nil
			}
		case s := <-spare:
			select { // a free slot, when there is one, before a place in a queue
			case f := <-p.free:
				p.offerSpare(s)
				if pl, ok := p.take(f, req); ok {
					return pl, nil
				}
				continue
			default:
			}
			if pl, ok := p.queueOn(s, req); ok {
				return pl, nil
			}
		case <-qt.C():
			return place{}, errQueueTimeout
		case <-ctx.Done():
			return place{}, ctx.Err()
		}
	}
}

// queueTimer is a request's queue_timeout, started when it first has to wait
// (for a slot, or for its turn in one) and running on across retries.
type queueTimer struct {
	d time.Duration
	t *time.Timer
}

func (q *queueTimer) C() <-chan time.Time {
	if q.t == nil {
		q.t = time.NewTimer(q.d)
	}
	return q.t.C
}

func (q *queueTimer) stop() {
	if q.t != nil {
		q.t.Stop()
	}
}

// place is a request's place on a slot: first, or queued behind the
// requests ahead of it there.
type place struct {
	s      *slot
	queued bool
	seq    uint32 // the request's number on the slot
	werr   error  // writing its R frame failed
}

// take takes a free slot, unless its worker no longer takes requests, and
// writes req on it.
func (p *Pool) take(s *slot, req []byte) (place, bool) {
	if s.w.state.Load() != stateReady {
		return place{}, false
	}
	s.w.inflight.Add(1)
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.depth.Store(1)
	return s.sendLocked(req, false), true
}

// queueOn takes a place behind s's running request and those queued there,
// if there is room and the wait looks short (a slot is offered to spare when
// a request begins on it, and the offer may have gone stale), and writes req
// on it.
func (p *Pool) queueOn(s *slot, req []byte) (place, bool) {
	w := s.w
	if !p.room(s, s.depth.Load(), len(req)) {
		return place{}, false
	}
	w.inflight.Add(1) // before the place is ours: the worker is not ended under it
	s.sendMu.Lock()
	d := s.depth.Load()
	if !p.room(s, d, len(req)) {
		s.sendMu.Unlock()
		p.leave(w)
		return place{}, false
	}
	// The place's state is set before the place is visible in depth: the
	// request ahead may end, and hand on to it, as soon as it is. Under
	// sendMu depth only falls, so with d < maxDepth the index s.seq%maxDepth
	// belongs to no request on the slot.
	s.wait[s.seq%maxDepth].Store(placeWaiting)
	if !s.depth.CompareAndSwap(d, d+1) {
		s.sendMu.Unlock()
		p.leave(w)
		return place{}, false
	}
	s.queuedBytes.Add(int64(len(req)))
	pl := s.sendLocked(req, true)
	s.sendMu.Unlock()
	if pl.werr == nil && d+1 <= int32(p.cfg.WorkerQueue) {
		p.offerSpare(s) // room for one more
	}
	return pl, true
}

// room reports whether a request whose R frame is n bytes may queue behind
// the d on s.
func (p *Pool) room(s *slot, d int32, n int) bool {
	return d >= 1 && d <= int32(p.cfg.WorkerQueue) && s.w.state.Load() == stateReady &&
		s.queuedBytes.Load()+int64(n) <= s.budget &&
		monotonic()-s.began.Load() <= int64(p.cfg.window) && int64(d)*s.took.Load() <= int64(p.cfg.window)
}

// sendLocked writes an R frame on s and numbers its request: the worker
// numbers the requests in the order their R frames arrive. s.sendMu is held.
func (s *slot) sendLocked(req []byte, queued bool) place {
	seq := s.seq
	s.seq++
	s.size[seq%maxDepth] = 0
	if queued {
		s.size[seq%maxDepth] = int64(len(req))
	}
	return place{s: s, queued: queued, seq: seq, werr: s.fc.write(req)}
}

// begin marks the start of a request on s and, while s's worker takes
// requests and has room, offers a place behind it.
func (p *Pool) begin(s *slot, seq uint32) {
	s.began.Store(monotonic())
	s.queuedBytes.Add(-s.size[seq%maxDepth])
	if p.cfg.WorkerQueue <= 0 || s.depth.Load() > int32(p.cfg.WorkerQueue) || s.w.state.Load() != stateReady {
		return
	}
	p.offerSpare(s)
}

func (p *Pool) offerSpare(s *slot) {
	select {
	case p.spare <- s:
	default: // full of stale offers: drop the oldest
		select {
		case <-p.spare:
		default:
		}
		select {
		case p.spare <- s:
		default:
		}
	}
}

// wait waits for a queued request's turn. A client that leaves, or a queue
// timeout that strikes, first withdraws the request: it is answered at once,
// and its worker is told with an A frame naming it (a worker that has not
// begun it skips it).
func (p *Pool) wait(ctx context.Context, pl place, qt *queueTimer) (turnState, error) {
	s := pl.s
	i := pl.seq % maxDepth
	var why error
	select {
	case st := <-s.turn[i]:
		return st, nil
	case <-ctx.Done():
		why = ctx.Err()
	case <-qt.C():
		why = errQueueTimeout
	}
	if !s.wait[i].CompareAndSwap(placeWaiting, placeWithdrawn) {
		return <-s.turn[i], nil // the turn came at the same moment: take it
	}
	var a [frameHeader + 4]byte
	a[0] = frameAbort
	binary.BigEndian.PutUint32(a[1:], 4)
	binary.BigEndian.PutUint32(a[frameHeader:], pl.seq)
	s.fc.write(a[:]) // a failure: the worker is gone, and its end is the drain's to see
	return 0, why
}

// handOn ends request seq's turn on s: the next request queued there gets
// the slot, or the news st about the worker. It reports whether there was a
// next request (which then holds the worker).
func (p *Pool) handOn(s *slot, seq uint32, st turnState) bool {
	if s.depth.Add(-1) == 0 {
		return false
	}
	next := seq + 1
	i := next % maxDepth
	if s.wait[i].CompareAndSwap(placeWaiting, placeGiven) {
		s.turn[i] <- st
		return true
	}
	go p.drain(s, next, st) // withdrawn
	return true
}

// drain takes the turn of a withdrawn request: it reads the worker's answer
// (an X at once for a request the worker skipped, else a response cut short
// by the A frame), for nobody, and ends the turn as a request would.
func (p *Pool) drain(s *slot, seq uint32, st turnState) {
	s.queuedBytes.Add(-s.size[seq%maxDepth])
	if st != turnGo {
		p.handOn(s, seq, st)
		p.leave(s.w)
		return
	}
	x := exchange{p: p, s: s, fc: s.fc, seq: seq, discarding: true}
	s.began.Store(monotonic())
	s.arm(p.cfg.Timeout)
	o, _ := x.run()
	p.release(s, &x, o)
}

// tookDecay is a slot's new measure of how long its requests take, after one
// that took last: the longer of last and the old measure less an eighth. One
// slow request keeps requests from queueing on the slot for the next twenty
// or so (a 50 ms one, against the 2 ms window), so an application that mixes
// slow requests among fast ones seldom has a fast one wait behind a slow one.
func tookDecay(old, last int64) int64 {
	return max(last, old-old/8)
}

// leave gives up one request's hold on w; a retiring worker ends when its
// last request has.
func (p *Pool) leave(w *worker) {
	if w.inflight.Add(-1) == 0 && w.state.Load() == stateRetiring {
		w.terminate()
	}
}

// release returns a slot after a request. A broken slot takes its worker down
// with it (its protocol state is unknown); a worker past its request limit is
// recycled. A request queued behind this one gets the slot, or word of the
// worker's end: lost, when the worker's pipe ended before the X of this
// request (so it never began the next one), else failed.
func (p *Pool) release(s *slot, x *exchange, o outcome) {
	w := s.w
	served := w.served.Add(1)
	st := turnGo
	switch o {
	case slotBroken:
		s.fc.reset()
		p.retire(w, true, "its connection broke mid-request")
		w.kill()
	case slotTimedOut:
		s.fc.reset() // dumpAndKill retired the worker
	default:
		if w.limit > 0 && served >= w.limit && w.state.Load() == stateReady {
			p.retire(w, true, fmt.Sprintf("served %d requests", served))
		}
	}
	if o != slotFine {
		st = turnFailed
		if x.endedBeforeX {
			st = turnLost
		}
	} else if x.r != nil {
		s.took.Store(tookDecay(s.took.Load(), monotonic()-s.began.Load()))
	}
	if p.handOn(s, x.seq, st) {
		p.leave(w)
		return
	}
	if o != slotFine {
		p.leave(w)
		return
	}
	left := w.inflight.Add(-1)
	switch w.state.Load() {
	case stateReady:
		p.free <- s
	case stateRetiring:
		if left == 0 {
			w.terminate()
		}
	}
}

// retire stops giving w requests; it ends when its last one does. With
// replace, a new process takes its id (started first, so capacity never dips
// by more than one worker).
func (p *Pool) retire(w *worker, replace bool, why string) {
	if !w.state.CompareAndSwap(stateReady, stateRetiring) {
		return
	}
	p.log.Info("wsgi worker retiring", "worker", w.id, "pid", w.pid, "reason", why, "served", w.served.Load())
	if w.inflight.Load() == 0 {
		w.terminate()
	}
	if replace {
		p.respawn(w.id, w.pid, 0)
	}
}

// workerExited is called when a worker process has ended.
func (p *Pool) workerExited(w *worker, prev int32) {
	for _, s := range w.slots {
		s.fc.close()
	}
	p.mu.Lock()
	current := p.workers[w.id-1] == w
	closed := p.closed
	p.mu.Unlock()
	if closed || !current || prev != stateReady {
		return // retired (its replacement is on the way), shutting down, or never installed
	}
	// An unexpected death: its in-flight requests got 502 from their reads.
	lived := time.Since(w.started)
	p.mu.Lock()
	if lived < 10*time.Second {
		p.failures[w.id-1]++
	} else {
		p.failures[w.id-1] = 0
	}
	fails := p.failures[w.id-1]
	p.mu.Unlock()
	delay := min(100*time.Millisecond<<min(fails, 7), 10*time.Second)
	if fails >= 5 {
		p.log.Error("wsgi worker crash loop: it keeps dying; restarts are backing off",
			"worker", w.id, "exit", exitStatus(w.exitErr), "deaths_in_a_row", fails, "next_try", delay, "output", w.outputTail())
	} else {
		p.log.Warn("wsgi worker died; restarting", "worker", w.id, "pid", w.pid, "exit", exitStatus(w.exitErr), "after", delay)
	}
	p.respawn(w.id, w.pid, delay)
}

// respawn starts a replacement for id (whose process was old) after delay,
// retrying with backoff, and logs the replacement's pid.
func (p *Pool) respawn(id, old int, delay time.Duration) {
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		for {
			if delay > 0 {
				select {
				case <-time.After(delay):
				case <-p.stop:
					return
				}
			}
			p.mu.Lock()
			if p.closed {
				p.mu.Unlock()
				return
			}
			p.gens[id-1]++
			gen := p.gens[id-1]
			p.mu.Unlock()
			w, err := p.spawn(id, gen)
			if err != nil {
				p.mu.Lock()
				p.failures[id-1]++
				fails := p.failures[id-1]
				p.mu.Unlock()
				delay = min(100*time.Millisecond<<min(fails, 7), 10*time.Second)
				p.log.Error("wsgi worker failed to start", "worker", id, "err", err, "next_try", delay)
				continue
			}
			if !p.install(w) {
				w.terminate()
				return
			}
			p.log.Info("wsgi worker replaced", "worker", id, "pid", w.pid, "replaces", old)
			return
		}
	}()
}

// install makes w the current process of its id and offers its slots.
func (p *Pool) install(w *worker) bool {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	old := p.workers[w.id-1]
	p.workers[w.id-1] = w
	p.mu.Unlock()
	if old != nil && old != w && old.state.Load() == stateReady {
		p.retire(old, false, "replaced")
	}
	p.offer(w)
	return true
}

// Reload replaces every worker, one at a time: the new process starts and
// becomes ready before the old one stops taking requests, and the old one
// finishes what it has. No request is lost. A new process that fails to start
// (an application that no longer imports) ends the reload: it and the workers
// not yet replaced keep their old processes, and the error says why.
func (p *Pool) Reload() error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	for id := 1; id <= p.cfg.Workers; id++ {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return errors.New("wsgi: pool closed")
		}
		p.gens[id-1]++
		gen := p.gens[id-1]
		p.mu.Unlock()
		w, err := p.spawn(id, gen)
		if err != nil {
			p.log.Error("wsgi reload failed: a new worker did not start; the old workers keep serving",
				"app", p.cfg.App, "worker", id, "replaced", id-1, "kept", p.cfg.Workers-id+1, "err", err)
			return fmt.Errorf("wsgi reload: worker %d: %w", id, err)
		}
		if !p.install(w) {
			w.terminate()
		}
	}
	p.log.Info("wsgi workers reloaded", "app", p.cfg.App, "workers", p.cfg.Workers)
	return nil
}

// Close retires every worker and waits for them to end (up to the graceful
// timeout, then they are killed). Requests still running get errors.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	workers := append([]*worker(nil), p.workers...)
	p.mu.Unlock()
	close(p.stop)
	for _, w := range workers {
		if w == nil {
			continue
		}
		w.state.CompareAndSwap(stateReady, stateRetiring)
		if w.inflight.Load() == 0 {
			w.terminate()
		}
	}
	for _, w := range workers {
		if w == nil {
			continue
		}
		select {
		case <-w.exited:
		case <-time.After(p.cfg.GracefulTimeout):
			w.kill()
			<-w.exited
		}
	}
	p.bg.Wait()
	return nil
}

// monitor recycles workers over MaxRSS and logs the stats line.
func (p *Pool) monitor() {
	defer p.bg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastStats := time.Now()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if p.cfg.MaxRSS > 0 {
			for _, w := range p.snapshot() {
				if w.state.Load() == stateReady {
					if rss := w.rss(); rss > p.cfg.MaxRSS {
						p.retire(w, true, fmt.Sprintf("resident memory %d MiB over the limit", rss>>20))
					}
				}
			}
		}
		if iv := p.cfg.StatsInterval; iv > 0 && time.Since(lastStats) >= iv {
			lastStats = time.Now()
			st := p.Stats()
			args := []any{"queue_free_slots", st.FreeSlots}
			for _, w := range st.Workers {
				args = append(args, fmt.Sprintf("worker%d", w.ID), fmt.Sprintf("%s pid=%d served=%d busy=%d rss=%dMiB", w.State, w.PID, w.Served, w.InFlight, w.RSS>>20))
			}
			p.log.Info("wsgi stats", args...)
		}
	}
}

func (p *Pool) snapshot() []*worker {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*worker, 0, len(p.workers))
	for _, w := range p.workers {
		if w != nil {
			out = append(out, w)
		}
	}
	return out
}

// Stats describes the pool now.
type Stats struct {
	FreeSlots int
	Workers   []WorkerStats
}

// WorkerStats describes one worker process.
type WorkerStats struct {
	ID, PID  int
	State    string
	Served   int64
	InFlight int
	RSS      int64
	Started  time.Time
}

// Stats returns the state of every current worker.
func (p *Pool) Stats() Stats {
	st := Stats{FreeSlots: len(p.free)}
	for _, w := range p.snapshot() {
		st.Workers = append(st.Workers, WorkerStats{
			ID: w.id, PID: w.pid, State: stateNames[w.state.Load()], Served: w.served.Load(),
			InFlight: int(w.inflight.Load()), RSS: w.rss(), Started: w.started,
		})
	}
	return st
}

// dumpAndKill writes the worker's Python stacks to the log (faulthandler on
// SIGUSR1), then kills it; its replacement starts at once.
func (p *Pool) dumpAndKill(w *worker, why string) {
	p.log.Error("wsgi request over its timeout: dumping the worker's Python stacks and replacing it", "worker", w.id, "pid", w.pid, "reason", why)
	w.dumping.Store(true) // the dump is logged at ERROR, as this line
	syscall.Kill(w.pid, syscall.SIGUSR1)
	p.retire(w, true, why)
	go func() {
		select {
		case <-w.exited:
		case <-time.After(200 * time.Millisecond): // time for the dump to reach the log
		}
		w.kill()
	}()
}
