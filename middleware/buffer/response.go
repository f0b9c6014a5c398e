package buffer

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"gatehouse/internal/bytesconv"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// How a response goes out, decided at its first body write, flush or file
// (or when the handler returns without one).
const (
	undecided uint8 = iota
	buffering       // into the queue; the drainer or finish sends it
	passing         // straight to the client's writer
)

// segment is one piece of a buffered response, in order.
type segment struct {
	mem   *chunk     // memory: mem.b[:n]
	spill *spillFile // a range of one of the writer's spill files
	file  *os.File   // a range of a file the handler sent: a duplicate descriptor, closed once sent
	off   int64
	n     int64
}

// spillFile is an unlinked temporary file that holds a response's overflow.
// Bytes are only ever appended: sendfile(2) leaves the pages it sent to the
// socket, which must not change until they are on the wire, so a range once
// queued is never written again. A file that has grown past its writer's
// rotate size takes no more; a new one does, and the old one is closed when
// its last range is sent, so the disk holds about what waits.
type spillFile struct {
	f    *os.File
	end  int64 // where the next byte goes
	refs int   // segments queued or being sent
}

// writer is the web.ResponseWriter a buffered handler writes to. The handler
// (the producer) only ever appends to the queue; the client's writer w is
// used by one goroutine at a time: the producer's until the drainer starts,
// the drainer's until it ends (finish waits for it).
type writer struct {
	b      *Buffer
	w      web.ResponseWriter
	r      *web.Request
	header web.Header
	status int
	state  uint8
	noBody bool // HEAD, or a status without a body: bytes are counted, not kept
	stream bool // the configuration passes responses through (X-Accel-Buffering may say otherwise)

	written int64 // body bytes the handler wrote
	total   int64 // of them, bytes queued (memory and files)

	mu      sync.Mutex
	cond    sync.Cond // the drainer waits for work, the producer for room
	q       []segment
	qh      int   // q[qh:] waits to be sent
	mem     int   // bytes of memory segments waiting
	spilled int64 // bytes of spill segments waiting
	spill   *spillFile
	noSpill bool  // a spill file failed: memory only from then on
	running bool  // the drainer has started
	done    bool  // the producer has finished: drain and stop
	drop    bool  // the handler failed: stop without sending the rest
	err     error // the client's writer failed: sticky for the producer
	exited  chan struct{}

	// A Flush does not start the drainer at once: most come from a gateway
	// that has read all its application has sent so far, just before the
	// end of the response arrives, and the response then goes out whole,
	// on the handler's goroutine, without a hand-off. If the handler is
	// still at work flushDelay later, the Buffer's flusher starts the
	// drainer.
	armed      bool      // a Flush waits for the flusher
	cbPending  bool      // on the flusher's list, or taken off it and flushTimeout yet to end
	finishing  bool      // finish has begun: flushTimeout does nothing
	armedAt    time.Time // flusher's, under its mu
	prev, next *writer   // flusher's list, under its mu
	linked     bool      // on flusher's list, under its mu

	// reading is set while a streamed request body (request buffering off)
	// may still be read from the connection by the handler: the drainer does
	// not start then, and what must go out goes from the handler's goroutine
	// (see sendNow), as it would unbuffered.
	reading bool
	body    streamBody
}

// streamBody is a request body read from the connection while the response
// is buffered: it clears writer.reading once the body is read to its end
// (its declared length, or EOF), or has failed.
type streamBody struct {
	x    *writer
	r    io.Reader
	left int64 // bytes of a declared length still to come; -1: unknown
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	if err != nil || b.left == 0 {
		b.x.mu.Lock()
		b.x.reading = false
		b.x.mu.Unlock()
	}
	return n, err
}

var _ web.ResponseWriter = (*writer)(nil)

func (b *Buffer) getWriter(w web.ResponseWriter, r *web.Request) *writer {
	x, _ := b.ws.Get().(*writer)
	if x == nil {
		x = &writer{b: b}
		x.cond.L = &x.mu
	}
	x.w, x.r, x.stream = w, r, b.cfg.StreamResponses
	return x
}

func (b *Buffer) putWriter(x *writer) {
	x.header.Reset()
	clear(x.q)
	x.q, x.qh = x.q[:0], 0
	x.w, x.r, x.status, x.state, x.noBody, x.stream = nil, nil, 0, undecided, false, false
	x.written, x.total, x.mem, x.spilled = 0, 0, 0, 0
	x.spill, x.noSpill = nil, false
	x.running, x.done, x.drop, x.err, x.exited = false, false, false, nil, nil
	x.armed, x.cbPending, x.finishing = false, false, false
	x.body, x.reading = streamBody{}, false
	b.ws.Put(x)
}

func (x *writer) Header() *web.Header { return &x.header }

func (x *writer) WriteHeader(status int) {
	if x.state == undecided && x.status == 0 && status >= 200 && status <= 999 {
		x.status = status
	}
}

func (x *writer) Status() int { return x.status }

func (x *writer) Written() int64 { return x.written }

// decide hands the head to the client's writer and chooses how the body goes.
// Streams pass through: Server-Sent Events, and responses whose application
// says X-Accel-Buffering: no (nginx's field, which nginx does not forward
// either); X-Accel-Buffering: yes buffers any response, as in nginx, even
// when the configuration streams responses.
func (x *writer) decide() {
	if x.status == 0 {
		x.status = 200
	}
	h := x.w.Header()
	var accel []byte
	events := false
	for i := 0; i < x.header.Len(); i++ {
		f := x.header.At(i)
		switch {
		case http1.EqualFold(f.Name, "x-accel-buffering"):
			accel = f.Value
			continue
		case http1.EqualFold(f.Name, "content-type") && isEventStream(f.Value):
			events = true
		}
		h.AddBytes(f.Name, f.Value)
	}
	x.w.WriteHeader(x.status)
	stream := x.stream || events
	switch {
	case http1.EqualFold(accel, "yes"):
		stream = false
	case http1.EqualFold(accel, "no"):
		stream = true
	}
	x.state = buffering
	if stream {
		x.state = passing
	}
	x.noBody = x.r.Method() == web.MethodHead || !http1.BodyAllowed(x.status)
}

func isEventStream(v []byte) bool {
	const t = "text/event-stream"
	return len(v) >= len(t) && http1.EqualFold(v[:len(t)], t) && (len(v) == len(t) || v[len(t)] == ';' || v[len(t)] == ' ')
}

func (x *writer) WriteString(s string) (int, error) {
	return x.Write(bytesconv.Bytes(s)) // Write only reads p
}

func (x *writer) Write(p []byte) (int, error) {
	if x.state == undecided {
		x.decide()
	}
	if x.state == passing {
		n, err := x.w.Write(p)
		x.written += int64(n)
		return n, err
	}
	if x.noBody {
		// Nothing of it would be sent: counted, for the length a HEAD
		// response declares, and not kept.
		x.written += int64(len(p))
		x.total += int64(len(p))
		return len(p), nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for n < len(p) {
		if x.err != nil {
			return n, x.err
		}
		k, err := x.enqueue(p[n:])
		n += k
		x.written += int64(k)
		x.total += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// enqueue queues a first part of p, or waits for room when memory and file
// are full, and returns how much it queued. mu is held.
func (x *writer) enqueue(p []byte) (int, error) {
	cfg := &x.b.cfg
	// Memory, up to ResponseMemory: the last chunk's room, then a new chunk.
	if room := cfg.ResponseMemory - x.mem; room > 0 {
		if n := len(x.q); n > x.qh && x.q[n-1].mem != nil && x.q[n-1].n < chunkSize {
			s := &x.q[n-1]
			k := copy(s.mem.b[s.n:min(chunkSize, s.n+int64(room))], p)
			s.n += int64(k)
			x.mem += k
			return k, nil
		}
		c, _ := x.b.chunks.Get().(*chunk)
		if c == nil {
			c = new(chunk)
		}
		k := copy(c.b[:min(chunkSize, room)], p)
		x.push(segment{mem: c, n: int64(k)})
		x.mem += k
		return k, nil
	}
	// Then the spill file, up to MaxTempFile waiting in it.
	if cfg.MaxTempFile > 0 && !x.noSpill {
		if x.spilled > 0 && x.spilled+int64(len(p)) > cfg.MaxTempFile {
			return 0, x.waitFor(func() bool { return x.spilled+int64(len(p)) <= cfg.MaxTempFile || x.spilled == 0 })
		}
		err := x.spillWrite(p)
		if err == nil {
			return len(p), nil
		}
		// The disk failed (full, gone): memory only from now on, so the
		// handler waits for the client rather than failing.
		x.noSpill = true
		x.b.log.Error("response buffering: temporary file failed; this response now waits for its client", "err", err)
	}
	// No file: wait until the client has taken some of the memory.
	return 0, x.waitFor(func() bool { return x.mem < cfg.ResponseMemory })
}

// waitFor starts the drainer if need be and waits until ok, or the client's
// writer fails. mu is held.
func (x *writer) waitFor(ok func() bool) error {
	if !x.startDrainer() {
		return x.sendNow(false)
	}
	for !ok() && x.err == nil {
		x.cond.Wait()
	}
	return x.err
}

func (x *writer) push(s segment) {
	if s.spill != nil {
		s.spill.refs++
	}
	x.q = append(x.q, s)
	if x.running {
		x.cond.Broadcast()
	}
}

// spillRotate is the most a spill file grows to before a new one takes the
// rest (less with a smaller MaxTempFile): what was sent from a file is freed
// only with the file.
const spillRotate = 16 << 20

// spillWrite appends p to the spill file, starting a new file when there is
// none or the current one is full, and queues it (extending the last segment
// when it ends where p starts). mu is held.
func (x *writer) spillWrite(p []byte) error {
	if sf := x.spill; sf != nil && sf.end >= min(spillRotate, max(x.b.cfg.MaxTempFile, chunkSize)) {
		x.spill = nil
		if sf.refs == 0 {
			sf.f.Close()
		}
	}
	if x.spill == nil {
		f, err := os.CreateTemp(x.b.cfg.TempDir, "gatehouse-response-*")
		if err != nil {
			return fmt.Errorf("buffer: response file: %w", err)
		}
		os.Remove(f.Name()) // unlinked: freed with the descriptor
		x.spill = &spillFile{f: f}
	}
	sf := x.spill
	if _, err := sf.f.WriteAt(p, sf.end); err != nil {
		return fmt.Errorf("buffer: response file: %w", err)
	}
	n := int64(len(p))
	if k := len(x.q); k > x.qh && x.q[k-1].spill == sf && x.q[k-1].off+x.q[k-1].n == sf.end {
		x.q[k-1].n += n
	} else {
		x.push(segment{spill: sf, off: sf.end, n: n})
	}
	sf.end += n
	x.spilled += n
	// The response is larger than memory: it starts towards the client now
	// rather than after the handler (nginx sends as its buffers fill).
	x.startDrainer()
	x.cond.Broadcast()
	return nil
}

// Flush asks for what was written to reach the client without delay: the
// drainer sends it while the handler goes on. It never waits for the client
// (but while a streamed request body is read: see writer.reading).
func (x *writer) Flush() error {
	if x.state == undecided {
		x.decide()
	}
	if x.state == passing {
		return x.w.Flush()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	switch {
	case x.err != nil:
		return x.err
	case x.running:
		x.cond.Broadcast()
	case x.reading:
		return x.sendNow(true)
	case !x.armed && !x.cbPending:
		x.armed, x.cbPending = true, true
		x.b.flush.arm(x)
	}
	return nil
}

// flushTimeout runs flushDelay after a Flush: the handler is still at work
// (a stream, a slow application), so what it flushed goes out now.
func (x *writer) flushTimeout() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.armed && !x.finishing && x.state == buffering {
		x.startDrainer() // not while a streamed body is read: its next Flush sends
	}
	x.armed, x.cbPending = false, false
	x.cond.Broadcast()
}

// disarm takes the writer off the flusher's list, or waits for the flusher's
// flushTimeout if it has taken it already, so that it never runs into a
// later use of the writer. mu is held.
func (x *writer) disarm() {
	x.armed = false
	if !x.cbPending {
		return
	}
	if x.b.flush.remove(x) {
		x.cbPending = false
		return
	}
	for x.cbPending {
		x.cond.Wait()
	}
}

// SendFile queues the file range. The handler may close f when this returns,
// so a buffered range holds a duplicate of its descriptor (the same open
// file: what is sent is what f has when the drainer reaches it).
func (x *writer) SendFile(f *os.File, offset, count int64) error {
	if x.state == undecided {
		x.decide()
	}
	if x.state == passing {
		err := x.w.SendFile(f, offset, count)
		if err == nil {
			x.written += max(count, 0)
		}
		return err
	}
	if count <= 0 {
		return nil
	}
	if x.noBody {
		x.written += count
		x.total += count
		return nil
	}
	dup, err := dupFile(f)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.err != nil {
		dup.Close()
		return x.err
	}
	x.push(segment{file: dup, off: offset, n: count})
	x.written += count
	x.total += count
	return nil
}

// dupFile duplicates f's descriptor, close-on-exec: under syscall.ForkLock,
// so that a process started meanwhile (a CGI script) cannot inherit it.
func dupFile(f *os.File) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	syscall.ForkLock.RLock()
	cerr := sc.Control(func(s uintptr) {
		if fd, derr = syscall.Dup(int(s)); derr == nil {
			syscall.CloseOnExec(fd)
		}
	})
	syscall.ForkLock.RUnlock()
	switch {
	case cerr != nil:
		return nil, cerr
	case derr != nil:
		return nil, fmt.Errorf("buffer: dup: %w", derr)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

// Upgrade sends everything queued, then hands the connection over.
func (x *writer) Upgrade() (net.Conn, error) {
	if x.state == undecided {
		x.decide()
	}
	if x.state == buffering {
		x.mu.Lock()
		x.disarm()
		x.mu.Unlock()
		if err := x.sendAll(); err != nil {
			return nil, err
		}
		x.state = passing
	}
	return x.w.Upgrade()
}

// WatchClient passes the request on to the client's writer while the
// producer still owns it. Once the drainer runs, its writes are what notices
// a client that left.
func (x *writer) WatchClient() {
	x.mu.Lock()
	running := x.running
	x.mu.Unlock()
	if !running {
		x.w.WatchClient()
	}
}

// startDrainer starts the goroutine that sends the queue, and reports
// whether it runs: not while a streamed request body is being read. mu is
// held.
func (x *writer) startDrainer() bool {
	if x.running {
		return true
	}
	if x.reading {
		return false
	}
	x.running = true
	x.exited = make(chan struct{})
	go x.drain()
	return true
}

// sendNow sends the queue from the producer's goroutine, and flushes when
// asked: with a streamed request body still coming, the response waits for
// the client as it would unbuffered (the trade-off request_buffering = false
// makes). mu is held, and released meanwhile.
func (x *writer) sendNow(flush bool) error {
	x.mu.Unlock()
	defer x.mu.Lock()
	err := x.sendAll()
	if err == nil && flush {
		err = x.w.Flush()
	}
	if err != nil {
		x.mu.Lock()
		if x.err == nil {
			x.err = err
		}
		x.mu.Unlock()
	}
	return err
}

// drain sends queued segments to the client's writer as they come, flushing
// whenever it has caught up with the handler, until the handler is done.
func (x *writer) drain() {
	defer close(x.exited)
	x.mu.Lock()
	defer x.mu.Unlock()
	flushed := false // a Flush with nothing queued still sends the head
	for {
		for x.qh == len(x.q) && !x.done && !x.drop && x.err == nil {
			if !flushed {
				flushed = true
				x.mu.Unlock()
				err := x.w.Flush()
				x.mu.Lock()
				if err != nil && x.err == nil {
					x.err = err
				}
				continue
			}
			x.cond.Wait()
		}
		if x.drop || x.err != nil || x.qh == len(x.q) {
			x.release()
			x.cond.Broadcast()
			return
		}
		s := x.pop()
		x.mu.Unlock()
		err := x.send(s)
		x.mu.Lock()
		x.finished(s)
		if err != nil && x.err == nil {
			x.err = err
		}
		flushed = false
		x.cond.Broadcast()
	}
}

// pop takes the first waiting segment off the queue, whose sent front is
// dropped when the queue empties or the front is half of it. mu is held.
func (x *writer) pop() segment {
	s := x.q[x.qh]
	x.q[x.qh] = segment{}
	x.qh++
	switch {
	case x.qh == len(x.q):
		x.q, x.qh = x.q[:0], 0
	case x.qh >= 64 && x.qh >= len(x.q)/2:
		n := copy(x.q, x.q[x.qh:])
		clear(x.q[n:])
		x.q, x.qh = x.q[:n], 0
	}
	return s
}

// send writes one segment to the client's writer.
func (x *writer) send(s segment) error {
	switch {
	case s.mem != nil:
		_, err := x.w.Write(s.mem.b[:s.n])
		return err
	case s.spill != nil:
		return x.w.SendFile(s.spill.f, s.off, s.n)
	}
	return x.w.SendFile(s.file, s.off, s.n)
}

// finished accounts for a segment sent or dropped, and releases what it held.
// mu is held (or no drainer runs).
func (x *writer) finished(s segment) {
	switch {
	case s.mem != nil:
		x.mem -= int(s.n)
		x.b.chunks.Put(s.mem)
	case s.spill != nil:
		x.spilled -= s.n
		if s.spill.refs--; s.spill.refs == 0 && s.spill != x.spill {
			s.spill.f.Close() // a full file, all of it sent
		}
	default:
		s.file.Close()
	}
}

// release drops whatever is still queued. mu is held (or no drainer runs).
func (x *writer) release() {
	for _, s := range x.q[x.qh:] {
		x.finished(s)
	}
	clear(x.q)
	x.q, x.qh = x.q[:0], 0
}

// sendAll sends the queue from the producer's goroutine, the drainer stopped
// first if it ran; the drainer may start again later.
func (x *writer) sendAll() error {
	x.mu.Lock()
	if x.running {
		x.done = true
		x.cond.Broadcast()
		x.mu.Unlock()
		<-x.exited
		x.mu.Lock()
		x.running, x.done = false, false
		err := x.err
		x.mu.Unlock()
		return err
	}
	x.mu.Unlock()
	var err error
	for x.qh < len(x.q) && err == nil {
		s := x.pop()
		err = x.send(s)
		x.finished(s)
	}
	x.release()
	if err != nil {
		x.err = err
	}
	return err
}

// finish completes the response after the handler returned with err. A
// response still wholly in the queue goes out in one piece, with its length;
// a failed handler's queue is dropped, so that the server can answer with an
// error page instead (or cut a response that had started). A write to the
// client that fails here is the client's writer's to report (it keeps the
// error, closes the connection, logs a short response), as it would be
// unbuffered.
func (x *writer) finish(err error) error {
	if x.state == undecided {
		if err != nil {
			return err // nothing reached the client's writer: the server renders err
		}
		x.decide()
	}
	x.mu.Lock()
	x.finishing = true
	x.disarm()
	running := x.running
	if running {
		x.done = true
		x.drop = err != nil
		x.cond.Broadcast()
	}
	x.mu.Unlock()
	if running {
		<-x.exited
	} else if x.state == buffering {
		if err != nil {
			x.release()
			x.w.Header().Reset() // the server's error page brings its own
		} else {
			x.setLength()
			x.sendAll()
		}
	}
	if x.spill != nil {
		x.spill.f.Close() // every range of it is sent or dropped
	}
	return err
}

// setLength gives a response that is whole in the queue its Content-Length,
// unless the handler declared one: the client's writer would otherwise send a
// long body chunked, not knowing its end.
func (x *writer) setLength() {
	if x.total == 0 || !http1.BodyAllowed(x.status) {
		return
	}
	h := x.w.Header()
	if h.Has("Content-Length") {
		return
	}
	var digits [20]byte
	h.Set("Content-Length", bytesconv.String(strconv.AppendInt(digits[:0], x.total, 10)))
}
