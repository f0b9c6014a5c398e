package epoll

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"gatehouse/engine"
)

const (
	epollET        = 1 << 31
	epollExclusive = 1 << 28
	connEvents     = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET
)

// Mail from workers to a loop.
const (
	opRefile uint8 = iota // a deadline moved earlier than the wheel knows
	opClose               // the protocol is done with the connection
	opForget              // the connection was detached: close the loop's descriptor
)

type mail struct {
	c  *conn
	op uint8
}

// loop is one event loop: an epoll instance, the connections it accepted, their
// deadlines on a wheel, and a mailbox for workers, with an eventfd to wake it.
//
// With nothing ready it waits in epoll_wait itself when no handler is in flight,
// and otherwise parks on Go's own poller (its epoll descriptor is readable when
// events are ready), so that the workers it hands requests to run on the same
// Ps without a thread hand-off (see poll).
type loop struct {
	srv    *Server
	id     int // its index in srv.loops
	epfd   int
	efd    int
	file   *os.File
	rc     syscall.RawConn
	events [256]syscall.EpollEvent
	n      int // events ready after poll

	conns     []*conn // indexed by descriptor
	listeners []*listener
	paused    []*listener // after an accept error, for a while
	wheel     *wheel[*conn]
	now       int64
	clock     atomic.Int64 // now, for workers (EventConn.Now)
	busy      bool         // work was handed to workers this turn
	deadline  int64        // the park deadline set on file, Unix nanoseconds
	parkFn    func(uintptr) bool

	mu       sync.Mutex
	mail     []mail
	spare    []mail
	cmds     []func()
	sleeping atomic.Bool
	stopped  bool
	done     chan struct{}
	accepted atomic.Int64 // connections opened, for Server.Accepted
}

// wheelTick is the resolution of connection deadlines.
const wheelTick = int64(10 * time.Millisecond)

func newLoop(s *Server, id int) (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	r, _, e := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		syscall.Close(epfd)
		return nil, e
	}
	efd := int(r)
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, efd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(efd)}); err != nil {
		syscall.Close(efd)
		syscall.Close(epfd)
		return nil, err
	}
	// A non-blocking descriptor given to os.NewFile goes on Go's poller.
	syscall.SetNonblock(epfd, true)
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		syscall.Close(efd)
		return nil, err
	}
	l := &loop{srv: s, id: id, epfd: epfd, efd: efd, file: f, rc: rc, done: make(chan struct{})}
	l.now = time.Now().UnixNano()
	l.clock.Store(l.now)
	l.wheel = newWheel[*conn](wheelTick, 1024, l.now)
	l.parkFn = l.park
	return l, nil
}

// post sends a connection's mail to its loop, waking the loop if it sleeps.
func (l *loop) post(c *conn, op uint8) {
	l.mu.Lock()
	l.mail = append(l.mail, mail{c, op})
	l.mu.Unlock()
	l.wake()
}

// command runs f on the loop.
func (l *loop) command(f func()) bool {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return false
	}
	l.cmds = append(l.cmds, f)
	l.mu.Unlock()
	l.sleeping.Store(false)
	l.kick()
	return true
}

func (l *loop) wake() {
	if l.sleeping.CompareAndSwap(true, false) {
		l.kick()
	}
}

func (l *loop) kick() {
	one := uint64(1)
	syscall.Syscall(syscall.SYS_WRITE, uintptr(l.efd), uintptr(unsafe.Pointer(&one)), 8)
}

func (l *loop) run() {
	defer close(l.done)
	lastClean := l.now
	for {
		if !l.handleMail() {
			l.shutdown()
			return
		}
		l.poll()
		l.now = time.Now().UnixNano()
		l.clock.Store(l.now)
		for i := 0; i < l.n; i++ {
			ev := &l.events[i]
			l.event(int(ev.Fd), ev.Events)
		}
		if l.now >= l.wheel.next() && l.wheel.n > 0 {
			l.wheel.advance(l.now, l.fire)
		}
		if l == l.srv.loops[0] && l.now-lastClean > int64(time.Second) {
			lastClean = l.now
			l.srv.pool.clean(l.now)
		}
	}
}

// handleMail processes the mailbox; it returns false when the loop must stop.
func (l *loop) handleMail() bool {
	l.mu.Lock()
	ms, cmds := l.mail, l.cmds
	l.mail, l.cmds = l.spare[:0], nil
	stopped := l.stopped
	l.mu.Unlock()
	for _, f := range cmds {
		f()
	}
	for i, m := range ms {
		c := m.c
		switch m.op {
		case opRefile:
			if o := c.owner.Load(); o == ownLoop || o == ownWorker {
				l.fileDeadline(c)
			}
		case opClose:
			c.closeWant.Store(true)
			if c.owner.Load() == ownLoop {
				l.service(c)
			}
		case opForget:
			l.forget(c)
		}
		ms[i] = mail{}
	}
	l.spare = ms
	return !stopped
}

// poll fills l.events, waiting when nothing is ready until events come, mail
// arrives (the eventfd) or the wheel's next tick.
//
// How it waits depends on the workers. With none busy, nothing of ours needs
// the P, so the loop blocks in epoll_wait itself, as gnet does: one system
// call, and the runtime gives the P to another thread should anything else in
// the process need it. With handlers in flight (perhaps waiting on a backend
// through Go's own poller), it parks on Go's poller instead, where its epoll
// descriptor is readable when events are ready: the thread and the P stay
// free for the workers, and no run of theirs waits for a thread hand-off.
func (l *loop) poll() {
	if l.busy {
		// Workers were handed requests: let them run before looking again,
		// so their responses go out and the next requests are likelier here.
		l.busy = false
		runtime.Gosched()
	}
	next := l.wheel.next()
	if l == l.srv.loops[0] {
		if sec := (l.now/1e9 + 1) * 1e9; next == 0 || sec < next {
			next = sec // the worker pool's clean-up
		}
	}
	if l.srv.pool.inFlight.Load() == 0 {
		l.block(next)
		return
	}
	// While handlers run, turn at least once a tick: they read the loop's clock.
	if tick := (l.now/wheelTick + 1) * wheelTick; next == 0 || next > tick {
		next = tick
	}
	if next != l.deadline {
		l.deadline = next
		var dl time.Time
		if next != 0 {
			dl = time.Unix(0, next)
		}
		l.file.SetReadDeadline(dl)
	}
	l.n = 0
	l.rc.Read(l.parkFn) // an error is the deadline: the wheel's turn
	l.sleeping.Store(false)
}

// block waits in epoll_wait until events, mail or the deadline next (Unix
// nanoseconds; 0: none).
func (l *loop) block(next int64) {
	if l.n = l.epollWait(); l.n > 0 {
		return
	}
	l.sleeping.Store(true)
	l.mu.Lock()
	pending := len(l.mail) > 0 || len(l.cmds) > 0 || l.stopped
	l.mu.Unlock()
	if !pending {
		ms := -1
		if next != 0 {
			ms = int(max(0, (next-time.Now().UnixNano()+999_999)/1_000_000))
		}
		n, err := syscall.EpollWait(l.epfd, l.events[:], ms)
		if err != nil {
			n = 0
		}
		l.n = n
	}
	l.sleeping.Store(false)
}

// park is the RawConn callback of poll, made once (l.parkFn) so that polling
// allocates nothing. It must poll every time it is called: RawConn.Read forgets
// readiness the poller saw before it, so a callback that only returned false
// could sleep through an edge that has already passed.
func (l *loop) park(fd uintptr) bool {
	if l.n = l.epollWait(); l.n > 0 {
		return true
	}
	if !l.sleeping.Load() {
		// Workers kick the eventfd only while sleeping is set: mail posted
		// before this store is seen below, mail posted after it kicks.
		l.sleeping.Store(true)
		l.mu.Lock()
		pending := len(l.mail) > 0 || len(l.cmds) > 0 || l.stopped
		l.mu.Unlock()
		if pending {
			return true
		}
	}
	return false
}

// epollWait polls without waiting (a timeout of 0 never blocks, hence the raw
// system call: see rawRead).
func (l *loop) epollWait() int {
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_WAIT, uintptr(l.epfd),
			uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0
		}
		return int(n)
	}
}

func (l *loop) event(fd int, ev uint32) {
	if fd == l.efd {
		var b [8]byte
		syscall.Read(l.efd, b[:])
		return
	}
	for _, ln := range l.listeners {
		if ln.fd(l) == fd {
			l.accept(ln)
			return
		}
	}
	if fd >= len(l.conns) {
		return
	}
	c := l.conns[fd]
	if c == nil {
		return
	}
	in := ev&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	out := ev&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	if ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		c.hup.Store(true)
	}
	c.mu.Lock()
	if in {
		c.rseq.Add(1)
	}
	if out {
		c.wseq.Add(1)
	}
	if c.owner.Load() != ownLoop {
		if ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && c.owner.Load() == ownWorker &&
			(ev&(syscall.EPOLLHUP|syscall.EPOLLERR) != 0 || !c.bytesWaiting()) {
			// The client closed (or reset) while its request is being served,
			// with no pipelined request behind it still to read:
			// cancel the connection's context, so that a handler waiting on a
			// backend (a CGI script, php-fpm, uWSGI, a Python worker) stops,
			// as nginx stops on a client's premature close. Its response, if
			// any, still goes out while the socket takes it.
			c.cancelLocked()
		}
		var what uint8
		if in {
			what |= waitIn
		}
		if out {
			what |= waitOut
		}
		c.wakeLocked(what)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	l.service(c)
}

// service moves a connection the loop holds along: send queued output, close it
// if asked, read and parse if bytes wait and the output is under the bound.
func (l *loop) service(c *conn) {
	if c.pp != nil {
		l.readProxy(c)
		return
	}
	if c.queued() > 0 {
		if err := c.flushQueue(); err != nil {
			l.closeNow(c)
			return
		}
	}
	q := c.queued()
	if c.closeWant.Load() {
		if q == 0 {
			l.closeNow(c)
		}
		return
	}
	if q > l.srv.outputLimit || !c.readable() {
		return
	}
	l.apply(c, c.h.OnData(c))
}

// apply carries out a protocol verdict for a connection the loop holds.
func (l *loop) apply(c *conn, v engine.Verdict) {
	switch v {
	case engine.Wait:
		c.idle.Store(false)
	case engine.Idle:
		c.idle.Store(true)
		if l.srv.draining.Load() {
			c.closeWant.Store(true)
			l.service(c)
		}
	case engine.Dispatch:
		c.idle.Store(false)
		c.owner.Store(ownWorker)
		l.busy = true
		l.srv.pool.submit(c)

	case engine.Close:
		c.closeWant.Store(true)
		l.service(c)
	}
}

// fileDeadline files the connection on the wheel at its earliest deadline, if
// that is earlier than where it is filed.
func (l *loop) fileDeadline(c *conn) {
	next := earliest(c.rdl.Load(), c.wdl.Load())
	if next == 0 {
		return // a filed entry is checked and dropped when it fires
	}
	if c.tn.at != 0 && c.tn.at <= next {
		return // fires first, then re-files (see fire)
	}
	l.wheel.add(&c.tn, next)
	c.wheelAt.Store(next)
}

func earliest(a, b int64) int64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// fire handles a connection whose wheel entry came due.
func (l *loop) fire(c *conn) {
	c.wheelAt.Store(0)
	now := l.now
	r, w := c.rdl.Load(), c.wdl.Load()
	switch c.owner.Load() {
	case ownWorker:
		c.mu.Lock()
		if c.waiting&waitIn != 0 && r != 0 && r <= now || c.waiting&waitOut != 0 && w != 0 && w <= now {
			c.wakeLocked(waitIn | waitOut)
		}
		c.mu.Unlock()
		// Keep watching while a worker holds it: it may hand the connection
		// back with a deadline already passed.
		if next := earliest(future(r, now), future(w, now)); next != 0 {
			l.wheel.add(&c.tn, next)
			c.wheelAt.Store(next)
		} else if r != 0 || w != 0 {
			l.wheel.add(&c.tn, now+wheelTick)
			c.wheelAt.Store(now + wheelTick)
		}
		return
	case ownLoop:
		if w != 0 && w <= now && c.queued() > 0 {
			l.srv.logger().Debug("write timeout; closing connection", "remote", c.remote)
			l.closeNow(c)
			return
		}
		if r != 0 && r <= now {
			c.rdl.Store(0)
			if c.closeWant.Load() {
				l.closeNow(c)
				return
			}
			if c.pp != nil {
				l.srv.logger().Warn("proxy protocol: connection refused", "remote", c.remote,
					"reason", "no whole header within "+c.pp.Wait().String())
				l.closeNow(c)
				return
			}
			l.apply(c, c.h.OnTimeout(c))
			if c.owner.Load() != ownLoop {
				return // closed, or dispatched (the worker's deadlines take over)
			}
		}
		l.fileDeadline(c)
	}
}

func future(t, now int64) int64 {
	if t > now {
		return t
	}
	return 0
}

// closeNow closes a connection the loop holds.
func (l *loop) closeNow(c *conn) {
	if c.owner.Load() != ownLoop {
		return
	}
	c.owner.Store(ownClosed)
	if c.proto != nil {
		c.h.OnClose(c)
		c.proto = nil
	}
	l.forget(c)
	l.srv.connEnded(c)
}

// forget removes the connection from the loop and closes its descriptor.
func (l *loop) forget(c *conn) {
	if c.tn.at != 0 {
		l.wheel.remove(&c.tn)
		c.wheelAt.Store(0)
	}
	if c.inTable {
		c.inTable = false
		l.conns[c.fd] = nil
		syscall.Close(c.fd) // also takes it out of the epoll set
	}
	c.mu.Lock()
	c.releaseOutLocked()
	c.mu.Unlock()
}

// closeIdle closes the idle connections the loop holds (graceful shutdown).
func (l *loop) closeIdle() {
	for _, c := range l.conns {
		if c != nil && c.owner.Load() == ownLoop && c.idle.Load() {
			c.closeWant.Store(true)
			l.service(c)
		}
	}
}

// closeAll closes every connection: at once if the loop holds it, else by
// shutting the socket down so that its worker's I/O fails.
func (l *loop) closeAll() {
	for _, c := range l.conns {
		if c == nil {
			continue
		}
		if c.owner.Load() == ownLoop {
			l.closeNow(c)
		} else {
			c.forceClose()
		}
	}
}

func (l *loop) shutdown() {
	for _, c := range l.conns {
		if c != nil && c.owner.Load() == ownLoop {
			l.closeNow(c)
		}
	}
	for _, ln := range l.listeners {
		syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, ln.fd(l), nil)
		ln.removed()
	}
	for _, ln := range l.paused {
		ln.removed()
	}
	l.listeners, l.paused = nil, nil
	l.file.Close()
	syscall.Close(l.efd)
}
