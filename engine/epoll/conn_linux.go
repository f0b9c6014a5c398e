package epoll

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"gatehouse/engine"
	"gatehouse/internal/rawio"
)

// Who holds a connection: its loop (waiting for bytes, or draining queued
// output), a worker (running Serve), or nobody any more.
const (
	ownLoop uint32 = iota
	ownWorker
	ownDetached
	ownClosed
)

// What a worker waits for.
const (
	waitIn uint8 = 1 << iota
	waitOut
)

// conn is one connection of an event loop. Its fields are in three groups: set
// once at accept; the loop's own (wheel node, close flags); and those shared with
// the worker holding it, under mu or atomic.
//
// Readiness is edge-triggered: the loop counts EPOLLIN and EPOLLOUT edges in
// rseq and wseq. A reader that found nothing waits only if no edge came since it
// looked (the count is unchanged), so no wake-up is lost. A read that returns
// less than asked for emptied the socket: the bytes are consumed up to the edge
// counted before it (rcons), so no extra read is made just to see EAGAIN.
type conn struct {
	fd     int
	l      *loop
	h      engine.EventHandler // its listener's
	remote netip.AddrPort
	local  netip.AddrPort

	tn        timerNode[*conn] // the loop's wheel entry
	wheelAt   atomic.Int64     // tn.at, readable by workers
	closeWant atomic.Bool      // close once the output queue is empty
	inTable   bool             // loop: in l.conns

	owner      atomic.Uint32
	rseq, wseq atomic.Uint32 // edges seen by the loop
	rcons      atomic.Uint32 // rseq when a read last found the socket empty
	hup        atomic.Bool   // the peer closed or reset: always worth reading
	idle       atomic.Bool   // the protocol said Idle
	rdl, wdl   atomic.Int64  // deadlines, Unix nanoseconds; 0: none

	mu      sync.Mutex
	waiting uint8         // under mu: what the parked worker waits for
	wake    chan struct{} // under mu: the parked worker's
	out     []byte        // under mu: queued output, from outPool
	outLen  atomic.Int64  // len(out), readable without mu
	werr    error         // under mu: sticky write error
	broken  bool          // under mu: force-closed (shut down); I/O fails
	brk     atomic.Bool   // broken, readable without mu
	done    chan struct{} // under mu: the context's, made on demand
	ended   bool          // under mu: the context is canceled
	afters  []afterFunc   // under mu: the context's AfterFuncs not yet stopped
	afterID uint64        // under mu: the last AfterFunc's id

	proto any
	word  int64
	pp    *engine.ProxyProtocol // loop: a PROXY header is still to come
}

var (
	_ engine.EventConn   = (*conn)(nil)
	_ engine.PeerWatcher = (*conn)(nil)
)

// The errors I/O fails with, as net.Conn's: a force-closed connection, and a
// deadline passed (errors.Is(err, os.ErrDeadlineExceeded) holds, as callers test).
var (
	errClosed  = net.ErrClosed
	errTimeout = os.ErrDeadlineExceeded
)

var wakePool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// outPool holds output queue buffers.
var outPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (c *conn) Proto() any                            { return c.proto }
func (c *conn) SetProto(p any)                        { c.proto = p }
func (c *conn) Word() *int64                          { return &c.word }
func (c *conn) Now() int64                            { return c.l.clock.Load() }
func (c *conn) RemoteAddrPort() netip.AddrPort        { return c.remote }
func (c *conn) LocalAddrPort() netip.AddrPort         { return c.local }
func (c *conn) Draining() bool                        { return c.l.srv.draining.Load() }
func (c *conn) Context() context.Context              { return (*connCtx)(c) }
func (c *conn) SyscallConn() (syscall.RawConn, error) { return (*rawConn)(c), nil }

func (c *conn) LocalAddr() net.Addr  { return addrOf(c.local) }
func (c *conn) RemoteAddr() net.Addr { return addrOf(c.remote) }

func addrOf(ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return &net.UnixAddr{Net: "unix"}
	}
	return net.TCPAddrFromAddrPort(ap)
}

// readable reports whether bytes may be waiting: an edge came since a read last
// found the socket empty, or the peer hung up (the EOF is there to read).
func (c *conn) readable() bool { return c.rseq.Load() != c.rcons.Load() || c.hup.Load() }

// TryRead reads what is waiting, without blocking.
func (c *conn) TryRead(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	seq := c.rseq.Load()
	for {
		n, err := rawRead(c.fd, p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.rcons.Store(seq)
			return 0, engine.ErrWouldBlock
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		if n < len(p) {
			c.rcons.Store(seq)
		}
		return n, nil
	}
}

// rawRead and rawWrite are read(2) and write(2) on non-blocking sockets. They
// never block, so they go without telling the scheduler (RawSyscall): no
// entersyscall/exitsyscall, and sysmon never hands the P off mid-call.
func rawRead(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Read reads, waiting (on a worker) for bytes or the read deadline.
func (c *conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		seq := c.rseq.Load()
		n, err := c.TryRead(p)
		if err != engine.ErrWouldBlock {
			if err != nil && c.isBroken() {
				err = errClosed
			}
			return n, err
		}
		if err := c.wait(waitIn, seq); err != nil {
			return 0, err
		}
	}
}

func (c *conn) isBroken() bool { return c.brk.Load() }

// wait parks the calling worker until the edge count of what it waits for moves
// past seq, the deadline passes, or the connection is force-closed.
func (c *conn) wait(what uint8, seq uint32) error {
	seqs, dl := &c.rseq, &c.rdl
	if what == waitOut {
		seqs, dl = &c.wseq, &c.wdl
	}
	d := dl.Load()
	if d != 0 {
		if time.Now().UnixNano() >= d {
			return errTimeout
		}
		if at := c.wheelAt.Load(); at == 0 || at > d {
			c.l.post(c, opRefile) // the loop files the deadline before we sleep
		}
	}
	c.mu.Lock()
	if c.broken {
		c.mu.Unlock()
		return errClosed
	}
	if seqs.Load() != seq {
		c.mu.Unlock()
		return nil
	}
	// Checked again under mu: the loop's wheel fires under mu too, so either
	// it sees this worker waiting or this sees the deadline passed.
	if d != 0 && time.Now().UnixNano() >= d {
		c.mu.Unlock()
		return errTimeout
	}
	ch := wakePool.Get().(chan struct{})
	c.waiting, c.wake = what, ch
	c.mu.Unlock()
	<-ch
	wakePool.Put(ch)
	return nil // the caller retries; the retry sees a timeout or the hang-up
}

// wakeLocked wakes the parked worker if it waits for any of what. Under c.mu.
func (c *conn) wakeLocked(what uint8) {
	if c.waiting&what != 0 {
		c.wake <- struct{}{}
		c.waiting, c.wake = 0, nil
	}
}

// Write sends p now, queues what the socket does not take, and waits only while
// the queue would exceed the output bound.
func (c *conn) Write(p []byte) (int, error) {
	total := len(p)
	limit := c.l.srv.outputLimit
	for len(p) > 0 {
		seq := c.wseq.Load()
		if err := c.flushQueue(); err != nil {
			return total - len(p), err
		}
		c.mu.Lock()
		if c.werr != nil {
			err := c.werr
			c.mu.Unlock()
			return total - len(p), err
		}
		if len(c.out) == 0 {
			c.mu.Unlock()
			n, err := writeAll(c.fd, p)
			p = p[n:]
			if err == nil {
				return total, nil
			}
			if err != syscall.EAGAIN {
				return total - len(p), c.setWriteErr(err)
			}
			c.mu.Lock()
		}
		if len(c.out)+len(p) <= limit {
			if c.out == nil {
				c.out = (*outPool.Get().(*[]byte))[:0]
			}
			c.out = append(c.out, p...)
			c.outLen.Store(int64(len(c.out)))
			c.mu.Unlock()
			c.noteWriteDeadline()
			return total, nil
		}
		c.mu.Unlock()
		if err := c.wait(waitOut, seq); err != nil {
			return total - len(p), c.setWriteErr(err)
		}
	}
	return total, nil
}

func writeAll(fd int, p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := rawWrite(fd, p[done:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

func (c *conn) setWriteErr(err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken {
		err = errClosed
	}
	if c.werr == nil {
		c.werr = err
	}
	return c.werr
}

// flushQueue writes queued output without waiting. It is called by whoever
// holds the connection, so it never races with another writer.
func (c *conn) flushQueue() error {
	if c.outLen.Load() == 0 && !c.brk.Load() {
		return nil // nothing queued, and no error can have been set by another
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out) == 0 {
		return c.werr
	}
	n, err := writeAll(c.fd, c.out)
	if n > 0 {
		k := copy(c.out, c.out[n:])
		c.out = c.out[:k]
		c.outLen.Store(int64(k))
	}
	if len(c.out) == 0 {
		c.releaseOutLocked()
	}
	if err != nil && err != syscall.EAGAIN && c.werr == nil {
		c.werr = err
	}
	return c.werr
}

func (c *conn) releaseOutLocked() {
	if c.out != nil {
		b := c.out[:0]
		c.out = nil
		c.outLen.Store(0)
		if cap(b) <= 1<<20 {
			outPool.Put(&b)
		}
	}
}

func (c *conn) queued() int { return int(c.outLen.Load()) }

// drainQueue waits (on a worker) until every queued byte is written.
func (c *conn) drainQueue() error {
	for {
		seq := c.wseq.Load()
		if err := c.flushQueue(); err != nil {
			return err
		}
		if c.queued() == 0 {
			return nil
		}
		if err := c.wait(waitOut, seq); err != nil {
			return c.setWriteErr(err)
		}
	}
}

// noteWriteDeadline makes sure the loop will check the write deadline of queued
// output.
func (c *conn) noteWriteDeadline() {
	if d := c.wdl.Load(); d != 0 {
		if at := c.wheelAt.Load(); at == 0 || at > d {
			c.l.post(c, opRefile)
		}
	}
}

func (c *conn) Close() error {
	c.l.post(c, opClose)
	return nil
}

func (c *conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.SetReadDeadlineNano(unixNano(t))
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.SetWriteDeadlineNano(unixNano(t))
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// SetReadDeadlineNano sets the read deadline. On the loop the wheel is updated
// at once; a worker's waits file it themselves (see wait).
func (c *conn) SetReadDeadlineNano(t int64) {
	c.rdl.Store(t)
	if t != 0 && c.owner.Load() == ownLoop {
		c.l.fileDeadline(c)
	}
}

func (c *conn) SetWriteDeadlineNano(t int64) { c.wdl.Store(t) }

// Detach hands the socket to Go's poller as a net.Conn, after sending what is
// queued. The engine forgets the connection, even when Detach fails.
func (c *conn) Detach() (net.Conn, error) {
	derr := c.drainQueue()
	c.mu.Lock()
	broken := c.broken
	c.owner.Store(ownDetached)
	c.mu.Unlock()
	syscall.EpollCtl(c.l.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	// The loop closes c.fd once it has forgotten the connection; Go's poller
	// gets a duplicate of its own (net.FileConn duplicates f's).
	defer c.l.post(c, opForget)
	switch {
	case derr != nil:
		return nil, derr
	case broken:
		return nil, errClosed
	}
	fd, err := dupCloexec(c.fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "")
	nc, err := net.FileConn(f)
	f.Close()
	return nc, err
}

func dupCloexec(fd int) (int, error) {
	r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// forceClose shuts the socket down so that a worker's I/O fails at once, without
// closing the descriptor under it (a reused number would reach another peer).
func (c *conn) forceClose() {
	c.mu.Lock()
	c.broken = true
	c.brk.Store(true)
	c.wakeLocked(waitIn | waitOut)
	c.cancelLocked()
	c.mu.Unlock()
	syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
}

// CancelIfPeerGone cancels the connection's context if the peer has closed
// or reset it, and sent nothing more (a pipelined request still in the
// socket is the client's proof of life, as on the goroutine engine). The loop cancels it when that news comes while a worker holds
// the connection; a FIN that came in the same read as the request, before
// any worker held it, is applied here, when a handler asks to watch the
// client (engine.PeerWatcher).
func (c *conn) CancelIfPeerGone() {
	if !c.hup.Load() || c.bytesWaiting() {
		return
	}
	c.mu.Lock()
	c.cancelLocked()
	c.mu.Unlock()
}

// bytesWaiting reports whether unread bytes wait in the socket.
func (c *conn) bytesWaiting() bool {
	n, err := rawio.Peek(c.fd)
	return err == nil && n > 0
}

func (c *conn) cancelLocked() {
	if !c.ended {
		c.ended = true
		if c.done != nil {
			close(c.done)
		}
		for _, a := range c.afters {
			go a.f()
		}
		c.afters = nil
	}
}

// connCtx is the connection as a context.Context: canceled when it ends.
type connCtx conn

func (x *connCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (x *connCtx) Value(any) any               { return nil }

func (x *connCtx) Done() <-chan struct{} {
	c := (*conn)(x)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.ended {
			close(c.done)
		}
	}
	return c.done
}

// afterFunc is a function the context runs when the connection ends.
type afterFunc struct {
	id uint64
	f  func()
}

// AfterFunc runs f in its own goroutine once the connection ends. It is
// context.AfterFunc's, which uses a parent's AfterFunc method when it has one
// and otherwise starts a goroutine per call to wait on Done: a backend that
// stops its upstream exchange when the client leaves (the reverse proxy, the
// FastCGI and uWSGI gateways) registers one per request.
func (x *connCtx) AfterFunc(f func()) (stop func() bool) {
	c := (*conn)(x)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		go f()
		return func() bool { return false }
	}
	c.afterID++
	id := c.afterID
	c.afters = append(c.afters, afterFunc{id: id, f: f})
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, a := range c.afters {
			if a.id == id {
				c.afters = slices.Delete(c.afters, i, i+1)
				return true
			}
		}
		return false
	}
}

func (x *connCtx) Err() error {
	c := (*conn)(x)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return context.Canceled
	}
	return nil
}

// rawConn gives sendfile(2) the descriptor; its callbacks return false to wait.
type rawConn conn

func (r *rawConn) Control(f func(fd uintptr)) error {
	f(uintptr(r.fd))
	return nil
}

func (r *rawConn) Read(f func(fd uintptr) bool) error {
	c := (*conn)(r)
	for {
		seq := c.rseq.Load()
		if f(uintptr(c.fd)) {
			return nil
		}
		if err := c.wait(waitIn, seq); err != nil {
			return err
		}
		if d := c.rdl.Load(); d != 0 && time.Now().UnixNano() >= d {
			return errTimeout
		}
	}
}

func (r *rawConn) Write(f func(fd uintptr) bool) error {
	c := (*conn)(r)
	if err := c.drainQueue(); err != nil {
		return err
	}
	for {
		seq := c.wseq.Load()
		if f(uintptr(c.fd)) {
			return nil
		}
		if err := c.wait(waitOut, seq); err != nil {
			return err
		}
		if c.isBroken() {
			return errClosed
		}
	}
}
