package wsgi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"gatehouse/proto/cgienv"
	"gatehouse/proto/http1"
	"gatehouse/upstream"
	"gatehouse/web"
	"gatehouse/web/webcgi"
)

// bodyChunk bounds one B frame: the worker asks again for more.
const bodyChunk = 64 << 10

var (
	errMount       = &web.Error{Status: 404, Err: cgienv.ErrMount}
	errPath        = &web.Error{Status: 400, Err: cgienv.ErrPath}
	errWorkerDied  = &web.Error{Status: 502, Err: errors.New("wsgi: worker ended during the request")}
	errWorkerProto = &web.Error{Status: 502, Err: errProtocol}
	errTimeout     = &web.Error{Status: 504, Err: errors.New("wsgi: request over its timeout")}
	errAppRaised   = &web.Error{Status: 500, Err: errors.New("wsgi: the application raised an exception")}
	errBadHead     = &web.Error{Status: 500, Err: errors.New("wsgi: the application gave an invalid status or header")}
	errBadLength   = &web.Error{Status: 502, Err: errors.New("wsgi: the application gave an invalid or conflicting Content-Length")}
)

// outcome says what a request left its slot in.
type outcome int

const (
	slotFine     outcome = iota // back to the pool
	slotBroken                  // the worker is killed and replaced
	slotTimedOut                // dumpAndKill has it
)

// ServeHTTP runs the request in a worker thread. Its failures are logged
// here, rate-limited (webcgi.Failures), not by the server per request.
func (p *Pool) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	bp := framePool.Get().(*[]byte)
	req, err := p.requestFrame(r, (*bp)[:0])
	if cap(req) <= maxPooledFrame {
		*bp = req // grown for a larger request: keep the larger buffer
		defer framePool.Put(bp)
	}
	switch {
	case errors.Is(err, cgienv.ErrMount):
		return p.requests.Check(r, errMount, "app", p.cfg.App)
	case errors.Is(err, cgienv.ErrPath):
		return p.requests.Check(r, errPath, "app", p.cfg.App)
	}
	qt := queueTimer{d: p.cfg.QueueTimeout}
	defer qt.stop()
	for {
		pl, err := p.acquire(r.Context(), req, &qt)
		if err != nil {
			return p.requests.Check(r, err, "app", p.cfg.App)
		}
		x := exchange{p: p, s: pl.s, fc: pl.s.fc, w: w, r: r, seq: pl.seq}
		lost, err := x.serve(pl, &qt)
		if lost {
			continue // the worker was lost before it ran this request: another one runs it
		}
		if x.logged {
			return web.Logged(err)
		}
		return p.requests.Check(r, err, "app", p.cfg.App)
	}
}

// framePool holds the buffers R frames are built in: 2 KiB, grown to what a
// request needs up to maxPooledFrame (a request with larger fields builds
// its frame in a buffer of its own, not kept).
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxPooledFrame = 16 << 10

// serve runs the exchange once the slot is this request's (at once, or when
// the requests queued ahead of it have ended), and ends its turn. lost
// reports a request that its worker never began, which can go to another
// slot.
func (x *exchange) serve(pl place, qt *queueTimer) (lost bool, err error) {
	p, s := x.p, x.s
	if pl.queued {
		x.w.WatchClient() // a request without a body: a client that leaves withdraws it
		st, err := p.wait(x.r.Context(), pl, qt)
		if err != nil {
			return false, err // withdrawn: the slot's next turn reads the worker's answer
		}
		if st != turnGo {
			s.queuedBytes.Add(-s.size[pl.seq%maxDepth])
			p.handOn(s, pl.seq, st) // the requests behind this one share its fate
			p.leave(s.w)
			if st == turnLost {
				return true, nil
			}
			x.fail("", "wsgi worker failed before the request could be answered", "worker", s.w.id, "pid", s.w.pid,
				"method", x.method(), "target", x.target())
			return false, errWorkerDied
		}
	}
	if pl.werr != nil {
		// The worker is gone (EPIPE) and its R frame did not reach it whole:
		// nothing ran, and the request goes to another slot.
		x.endedBeforeX = true
		p.release(s, x, slotBroken)
		return true, nil
	}
	upstream.Connected(x.r) // the worker is on it: what a connection is to the others
	p.begin(s, pl.seq)
	s.arm(p.cfg.Timeout)
	o, err := x.run()
	p.release(s, x, o)
	return false, err
}

// exchange is one request's conversation with a worker thread.
type exchange struct {
	p  *Pool
	s  *slot
	fc *frameConn
	w  web.ResponseWriter
	r  *web.Request

	seq          uint32     // the request's number on the slot, which its A frames carry
	headSet      bool       // the application's status and headers are on w
	discarding   bool       // the client or the application failed: read to X, pass nothing
	logged       bool       // a failure of this request is in the log already
	endedBeforeX bool       // the worker's pipe ended before this request's X: it never began the ones queued behind
	result       error      // what ServeHTTP returns once X arrives
	trace        traceState // of the request's wsgi.errors lines
}

// fail logs a failure of the request through the pool's rate limiter, as
// one of the kind named by key and msg.
func (x *exchange) fail(key, msg string, args ...any) {
	x.logged = true
	x.p.requests.Log(slog.LevelError, key, msg, args...)
}

// method and target name the request in the log; a drained exchange's
// client has gone (Pool.drain).
func (x *exchange) method() string {
	if x.r == nil {
		return ""
	}
	return x.r.Method()
}

func (x *exchange) target() string {
	if x.r == nil {
		return "(withdrawn)"
	}
	return string(x.r.Target())
}

// run reads the worker's frames for the request until X. A drained exchange
// (no request, no writer: Pool.drain) is discarding from the start.
func (x *exchange) run() (outcome, error) {
	fc := x.fc
	if x.w != nil {
		x.w.WatchClient() // without a body: a client that leaves aborts the request
	}
	for {
		t, n, err := fc.next()
		if err != nil {
			return x.readFailed(err)
		}
		if !x.discarding && t != frameGet && x.r.Context().Err() != nil {
			// A G frame is answered from the body even so: what the client
			// sent before it left (nothing, for a request without a body) is
			// the application's to read, to its end; only a body cut short
			// fails. The response it then starts is what gets dropped.
			x.clientGone(t)
		}
		switch t {
		case frameGet:
			if err := x.body(n); err != nil {
				return x.readFailed(err)
			}
			if x.w != nil {
				x.w.WatchClient() // once the body is read to its end
			}
		case frameHead:
			b, err := fc.payload(n)
			if err != nil {
				return x.readFailed(err)
			}
			if !x.discarding {
				x.head(b)
			}
		case frameData:
			if x.discarding {
				err = fc.discard(n)
			} else {
				err = fc.stream(n, x.write)
				if err == nil && !x.discarding && !fc.buffered() {
					// The worker has nothing more yet: what it sent goes to
					// the client now (PEP 3333 forbids holding a block back).
					x.clientErr(x.w.Flush())
				}
			}
			if err != nil && !x.discarding {
				return x.readFailed(err)
			}
		case frameFile:
			if err := x.file(n); err != nil {
				return x.readFailed(err)
			}
		case frameLog:
			b, err := fc.payload(n)
			if err != nil {
				return x.readFailed(err)
			}
			for line := range strings.SplitSeq(strings.TrimRight(string(b), "\n"), "\n") {
				x.p.log.Log(context.Background(), x.trace.level(streamErrors, line), "wsgi.errors",
					"worker", x.s.w.id, "pid", x.s.w.pid, "line", line)
			}
		case frameTrace:
			b, err := fc.payload(n)
			if err != nil {
				return x.readFailed(err)
			}
			x.fail(string(b), "wsgi application raised", "worker", x.s.w.id, "pid", x.s.w.pid,
				"method", x.method(), "target", x.target(), "traceback", string(b))
			if x.result == nil {
				x.result = errAppRaised
			}
		case frameEnd:
			if n != 0 {
				return x.readFailed(errProtocol)
			}
			if !x.s.disarm() {
				// The timeout struck as the response ended: the worker is
				// being replaced, but this response is whole.
				return slotTimedOut, x.result
			}
			if x.result == nil && !x.headSet && x.r != nil {
				x.result = errBadHead
				x.fail("", "wsgi application returned without calling start_response", "worker", x.s.w.id,
					"method", x.method(), "target", x.target())
			}
			return slotFine, x.result
		default:
			return x.readFailed(errProtocol)
		}
	}
}

// requestFrame appends the R frame to out: the request's variables as
// NAME\0VALUE pairs. It is built before a slot is taken.
func (p *Pool) requestFrame(r *web.Request, out []byte) ([]byte, error) {
	out = append(out, frameRequest, 0, 0, 0, 0)
	err := cgienv.Build(webcgi.Request(r), &p.mount, func(name, value string) {
		out = append(out, name...)
		out = append(out, 0)
		out = append(out, value...)
		out = append(out, 0)
	})
	if err != nil {
		return out, err
	}
	out = out[:len(out)-1] // no NUL after the last value
	binary.BigEndian.PutUint32(out[1:], uint32(len(out)-frameHeader))
	return out, nil
}

// abort writes an A frame naming this request, so that a worker already on the
// next one ignores it.
func (x *exchange) abort() error {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], x.seq)
	return x.fc.send(frameAbort, b[:])
}

// body answers a G frame with the next piece of the request body (B), or its
// end (E). A body the client cannot deliver (too large, malformed, too slow)
// aborts the application's read (A) and becomes the response.
func (x *exchange) body(n int) error {
	fc := x.fc
	b, err := fc.payload(n)
	if err != nil {
		return err
	}
	if n != 4 {
		return errProtocol
	}
	if x.discarding {
		return x.abort()
	}
	want := min(int(binary.BigEndian.Uint32(b)), bodyChunk)
	if want <= 0 {
		want = bodyChunk
	}
	out := fc.out[:0]
	if cap(out) < frameHeader+want {
		out = make([]byte, 0, frameHeader+bodyChunk)
	}
	out = out[:frameHeader+want]
	k, rerr := x.r.Body().Read(out[frameHeader:])
	fc.out = out
	if k > 0 {
		out[0] = frameBody
		binary.BigEndian.PutUint32(out[1:], uint32(k))
		return fc.write(out[:frameHeader+k])
	}
	switch {
	case rerr == io.EOF:
		return fc.send(frameBodyEnd, nil)
	case rerr != nil:
		// The client's body failed: the application is told it ended badly,
		// and the client gets the body's error (413, 400, 408), unless it
		// has left, which is then what cut the body short.
		x.result = rerr
		if err := x.r.Context().Err(); err != nil {
			x.result = fmt.Errorf("wsgi: client went away: %w", err)
		}
		x.discarding = true
		return x.abort()
	}
	return fc.send(frameBody, nil) // an empty read: the worker asks again
}

// head applies an H frame: STATUS\0NAME\0VALUE... An invalid status or field
// (a CR or LF in a value would split the response) becomes a 500.
func (x *exchange) head(b []byte) {
	status, rest, _ := bytes.Cut(b, []byte{0})
	code, ok := parseStatus(status)
	if !ok {
		x.badHead("invalid status", status)
		return
	}
	h := x.w.Header()
	length := int64(-1)
	for len(rest) > 0 {
		var name, value []byte
		name, rest, _ = bytes.Cut(rest, []byte{0})
		value, rest, _ = bytes.Cut(rest, []byte{0})
		if !http1.IsToken(name) || !http1.IsFieldValue(string(value)) {
			h.Reset()
			x.badHead("invalid header field", name)
			return
		}
		if hopByHop(name) {
			continue // PEP 3333: the server's business, not the application's
		}
		if http1.EqualFold(name, "content-length") {
			// The response's framing: one value of 1*DIGIT (RFC 9110 §8.6).
			// Repeats of the same value are merged into one, as §8.6 lets a
			// recipient do (a middleware setting the length again is
			// harmless); different values could frame the body two ways, so
			// the response is refused, as the uwsgi gateway refuses it.
			n, ok := http1.ParseContentLength(value)
			switch {
			case !ok:
				h.Reset()
				x.badLength("invalid Content-Length", value)
				return
			case length >= 0 && n != length:
				h.Reset()
				x.badLength("conflicting Content-Length values", value)
				return
			case length >= 0:
				continue
			}
			length = n
		}
		h.AddBytes(name, value)
	}
	x.w.WriteHeader(code)
	x.headSet = true
}

func (x *exchange) badHead(why string, what []byte) {
	x.fail(why+"\x00"+string(what), "wsgi application gave an invalid response head", "worker", x.s.w.id,
		"reason", why, "value", string(what), "target", string(x.r.Target()))
	x.result = errBadHead
	x.discarding = true
}

// badLength refuses a response whose Content-Length cannot frame it: 502, as
// for an upstream server's response that could be read two ways.
func (x *exchange) badLength(why string, what []byte) {
	x.fail(why+"\x00"+string(what), "wsgi application gave an invalid response head", "worker", x.s.w.id,
		"reason", why, "value", string(what), "target", string(x.r.Target()))
	x.result = errBadLength
	x.discarding = true
}

// write passes response body bytes to the client.
func (x *exchange) write(p []byte) error {
	if x.discarding {
		return nil
	}
	if !x.headSet {
		x.badHead("data before start_response", nil)
		return nil
	}
	_, err := x.w.Write(p)
	x.clientErr(err)
	return nil
}

// clientGone stops a response whose client left (the request's context was
// canceled; the writer's WatchClient has the server watch for that): the
// worker is told to stop (A; a G frame gets its A from body) and the rest is
// dropped.
func (x *exchange) clientGone(t byte) {
	x.result = fmt.Errorf("wsgi: client went away: %w", x.r.Context().Err())
	x.discarding = true
	if t != frameGet {
		x.abort() // an error: the next read reports the broken worker
	}
}

// clientErr handles a failed write to the client: the worker is told to stop
// (A) and the rest of its response is read and dropped, keeping the slot.
func (x *exchange) clientErr(err error) {
	if err == nil || x.discarding {
		return
	}
	x.discarding = true
	if err := x.abort(); err != nil {
		return // the next read reports the broken worker
	}
}

// file sends an F frame's file with sendfile(2).
func (x *exchange) file(n int) error {
	fc := x.fc
	b, err := fc.payload(n)
	if err != nil {
		return err
	}
	if n != 16 {
		return errProtocol
	}
	f, err := fc.takeFD()
	if err != nil {
		return err
	}
	defer f.Close()
	if x.discarding {
		return nil
	}
	if !x.headSet {
		x.badHead("file before start_response", nil)
		return nil
	}
	offset := int64(binary.BigEndian.Uint64(b))
	count := int64(binary.BigEndian.Uint64(b[8:]))
	if offset < 0 || count < 0 {
		return errProtocol
	}
	x.clientErr(x.w.SendFile(f, offset, count))
	return nil
}

// readFailed turns a failed read from the worker into the response: 504 on
// the timeout (the worker's stacks are logged and it is replaced), else 502.
func (x *exchange) readFailed(err error) (outcome, error) {
	x.endedBeforeX = errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	if !x.s.disarm() {
		x.logged = true // with the worker's stacks, by the timer that has it killed
		return slotTimedOut, x.final(errTimeout)
	}
	return slotBroken, x.final(x.workerFailed(err))
}

func (x *exchange) workerFailed(err error) error {
	w := x.s.w
	if errors.Is(err, errProtocol) {
		x.fail(err.Error(), "wsgi worker broke the protocol", "worker", w.id, "pid", w.pid, "err", err)
		return errWorkerProto
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// The pipe's end says only that the process is gone: how it
		// ended (a signal, an exit status) is what explains it, and it
		// comes as soon as the process has been waited for.
		select {
		case <-w.exited:
			x.fail("exit", "wsgi worker failed during a request", "worker", w.id, "pid", w.pid,
				"method", x.method(), "target", x.target(), "exit", exitStatus(w.exitErr))
			return errWorkerDied
		case <-time.After(time.Second):
		}
	}
	x.fail(err.Error(), "wsgi worker failed during a request", "worker", w.id, "pid", w.pid,
		"method", x.method(), "target", x.target(), "err", err)
	return errWorkerDied
}

// final picks the error for a request that ended without X: a client that had
// already gone away needs no error.
func (x *exchange) final(err error) error {
	if x.discarding && x.result == nil {
		return nil
	}
	if x.result != nil && !errors.Is(x.result, errBadHead) && !errors.Is(x.result, errAppRaised) {
		return x.result // the request body's own error
	}
	return err
}

// parseStatus reads "200 OK" (a reason phrase is required by PEP 3333 but a
// bare code is accepted).
func parseStatus(s []byte) (int, bool) {
	if len(s) < 3 || (len(s) > 3 && s[3] != ' ') {
		return 0, false
	}
	code := 0
	for _, c := range s[:3] {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	for _, c := range s[3:] {
		if c < ' ' && c != '\t' || c == 0x7f {
			return 0, false
		}
	}
	return code, code >= 200 && code <= 599
}

// hopByHop reports the fields PEP 3333 reserves for the server: the
// hop-by-hop fields of RFC 9110, and the two RFC 2616 also counted.
func hopByHop(name []byte) bool {
	return http1.HopByHop(name) || http1.EqualFold(name, "proxy-authenticate") || http1.EqualFold(name, "proxy-authorization")
}
