package epoll

import (
	"sync"
	"sync/atomic"
	"time"
)

// pool runs jobs on a bounded set of worker goroutines. Jobs wait in a FIFO
// queue when every worker is busy. At most one woken worker is "searching" (on
// its way to the queue) at a time: a burst of jobs queued by one loop turn wakes
// one worker, which wakes the next only if jobs remain when it takes one. A
// worker that finishes quickly goes on with the queue itself, so a burst costs a
// couple of goroutine switches, not one per job; a job that blocks leaves the
// rest to the next worker, so one slow handler never holds up the others.
type pool[T any] struct {
	run     func(T)
	max     int
	idleFor time.Duration // an idle worker exits after this long

	mu        sync.Mutex
	queue     []T
	head      int
	idle      []*worker // LIFO: the most recently used worker is woken first
	running   int
	searching int
	closed    bool
	wg        sync.WaitGroup
	// inFlight counts jobs queued or running; the loops read it to choose
	// how to wait (see loop.poll).
	inFlight atomic.Int64
}

type worker struct {
	wake     chan bool // true: look for work; false: exit
	lastUsed int64     // Unix nanoseconds, when it went idle
}

func newPool[T any](max int, idleFor time.Duration, run func(T)) *pool[T] {
	return &pool[T]{run: run, max: max, idleFor: idleFor}
}

// submit queues j and makes sure a worker will see it.
func (p *pool[T]) submit(j T) {
	p.inFlight.Add(1)
	p.mu.Lock()
	p.queue = append(p.queue, j)
	p.wakeLocked()
	p.mu.Unlock()
}

func (p *pool[T]) wakeLocked() {
	if p.searching > 0 || p.closed {
		return
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.searching++
		w.wake <- true
		return
	}
	if p.running < p.max {
		p.running++
		p.searching++
		p.wg.Add(1)
		go p.work(&worker{wake: make(chan bool, 1)})
	}
}

func (p *pool[T]) pending() int { return len(p.queue) - p.head }

func (p *pool[T]) work(w *worker) {
	defer p.wg.Done()
	searching := true
	var zero T
	for {
		p.mu.Lock()
		if searching {
			p.searching--
			searching = false
		}
		if p.pending() > 0 {
			j := p.queue[p.head]
			p.queue[p.head] = zero
			p.head++
			if p.head == len(p.queue) {
				p.queue, p.head = p.queue[:0], 0
			} else {
				p.wakeLocked() // more work: let another worker look, in case this job blocks
			}
			p.mu.Unlock()
			p.run(j)
			p.inFlight.Add(-1)
			continue
		}
		if p.closed {
			p.running--
			p.mu.Unlock()
			return
		}
		w.lastUsed = time.Now().UnixNano()
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		if !<-w.wake {
			return // retired by clean or close; running was adjusted there
		}
		searching = true
	}
}

// clean retires workers idle for longer than idleFor, oldest first.
func (p *pool[T]) clean(now int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && now-p.idle[n].lastUsed > int64(p.idleFor) {
		p.idle[n].wake <- false
		p.running--
		n++
	}
	if n > 0 {
		k := copy(p.idle, p.idle[n:])
		clear(p.idle[k:])
		p.idle = p.idle[:k]
	}
}

// close retires idle workers now and busy ones once the queue is empty, and
// waits for all of them to exit.
func (p *pool[T]) close() {
	p.mu.Lock()
	p.closed = true
	for _, w := range p.idle {
		w.wake <- false
		p.running--
	}
	p.idle = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// workers returns the number of worker goroutines.
func (p *pool[T]) workers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running
}
