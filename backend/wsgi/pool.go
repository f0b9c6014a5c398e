package wsgi

import (
	"context"
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
// can be expected to start soon: at most maxDepth-1 of them, and only while
// the running request is younger than pipelineWindow and the last request
// that ended on the slot, times the requests ahead, took less than that too.
// A request queued behind one that runs long waits for it even when another
// slot frees up; this bet is made only for applications whose requests are
// short, where the two context switches that queueing saves per request are
// a large part of the cost.
const (
	maxDepth       = 8
	pipelineWindow = 2 * time.Millisecond
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
func (p *Pool) acquire(ctx context.Context, req []byte) (place, error) {
	for { // fast path: no timer when a slot is free or has room
		select {
		case s := <-p.free:
			if pl, ok := p.take(s, req); ok {
				return pl, nil
			}
			continue // a slot of a worker that retired or died
		default:
		}
		select {
		case s := <-p.spare:
			if pl, ok := p.queueOn(s, req); ok {
				return pl, nil
			}
			continue
		default:
		}
		break
	}
	t := time.NewTimer(p.cfg.QueueTimeout)
	defer t.Stop()
	for {
		select {
		case s := <-p.free:
			if pl, ok := p.take(s, req); ok {
				return pl, nil
			}
		case s := <-p.spare:
			if pl, ok := p.queueOn(s, req); ok {
				return pl, nil
			}
		case <-t.C:
			return place{}, errQueueTimeout
		case <-ctx.Done():
			return place{}, ctx.Err()
		}
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
	if !p.room(s, s.depth.Load()) {
		return place{}, false
	}
	w.inflight.Add(1) // before the place is ours: the worker is not ended under it
	s.sendMu.Lock()
	d := s.depth.Load()
	if !p.room(s, d) || !s.depth.CompareAndSwap(d, d+1) {
		s.sendMu.Unlock()
		p.leave(w)
		return place{}, false
	}
	pl := s.sendLocked(req, true)
	s.sendMu.Unlock()
	if d+1 < maxDepth {
		p.offerSpare(s) // room for one more
	}
	return pl, true
}

// room reports whether a request may queue behind the d on s.
func (p *Pool) room(s *slot, d int32) bool {
	return d >= 1 && d < maxDepth && s.w.state.Load() == stateReady &&
		time.Now().UnixNano()-s.began.Load() <= int64(p.cfg.window) && int64(d)*s.took.Load() <= int64(p.cfg.window)
}

// sendLocked writes an R frame on s and numbers its request: the worker
// numbers the requests in the order their R frames arrive. s.sendMu is held.
func (s *slot) sendLocked(req []byte, queued bool) place {
	seq := s.seq
	s.seq++
	return place{s: s, queued: queued, seq: seq, werr: s.fc.write(req)}
}

// begin marks the start of a request on s and, while s's worker takes
// requests and has room, offers a place behind it.
func (p *Pool) begin(s *slot) {
	s.began.Store(time.Now().UnixNano())
	if s.depth.Load() >= maxDepth || s.w.state.Load() != stateReady {
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

// handOn ends request seq's turn on s: the next request queued there gets
// it, told whether the worker was lost. It reports whether there was one.
func (p *Pool) handOn(s *slot, seq uint32, lost bool) bool {
	if s.depth.Add(-1) == 0 {
		return false
	}
	next := seq + 1
	s.turn[next%maxDepth] <- lost
	return true
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
// recycled. A request queued behind this one gets the slot, or word that the
// worker was lost before running it.
func (p *Pool) release(s *slot, seq uint32, o outcome) {
	w := s.w
	served := w.served.Add(1)
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
	if o == slotFine {
		s.took.Store(time.Now().UnixNano() - s.began.Load())
	}
	if p.handOn(s, seq, o != slotFine) {
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
