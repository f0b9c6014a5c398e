package wsgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// Frame types of the gatehouse–worker protocol (docs/wsgi-protocol.md).
const (
	// gatehouse → worker
	frameRequest = 'R' // the request's variables: NAME\0VALUE\0... (latin-1)
	frameBody    = 'B' // request body bytes, answering a G frame
	frameBodyEnd = 'E' // the request body has ended
	frameAbort   = 'A' // the client went away: stop the response
	// worker → gatehouse
	frameGet   = 'G' // send up to N (uint32) more body bytes
	frameHead  = 'H' // STATUS\0NAME\0VALUE\0... (latin-1)
	frameData  = 'D' // response body bytes
	frameFile  = 'F' // offset, count (int64 each); the file's descriptor rides along (SCM_RIGHTS)
	frameEnd   = 'X' // the response is complete; the slot is free
	frameLog   = 'L' // a line for the log (wsgi.errors)
	frameTrace = 'T' // the application raised: a traceback for the log
	frameReady = 'Y' // the worker has imported the application
)

const (
	frameHeader   = 5         // type byte, 4-byte big-endian length
	maxFrame      = 1 << 20   // the worker splits larger data
	readBufSize   = 256 << 10 // a response this large arrives in one read (pages are touched only when used)
	maxControlLen = 64        // out-of-band room for one descriptor and then some
)

var errProtocol = errors.New("wsgi: worker broke the protocol")

// frameConn is gatehouse's end of one slot: two pipes carry the frames (one
// each way) and a Unix socket carries file descriptors (F frames). One request
// at a time uses it.
//
// Pipes, not a socket pair, carry the frames: on a Unix socket, every read by
// one side signals "writable" to the other, which wakes a worker sleeping in
// recv (and gatehouse's poller) for nothing, twice per request. A pipe's
// reader and writer wait apart.
type frameConn struct {
	rd   *os.File      // frames from the worker (non-blocking, in Go's poller)
	wr   *os.File      // frames to the worker
	side *net.UnixConn // descriptors from the worker
	buf  []byte
	r, w int
	oob  []byte
	out  []byte
	// inCap is the capacity of the pipe to the worker.
	inCap int
}

// pipeSize is asked for the worker's pipe to gatehouse: a response of this
// size is written without the worker waiting for gatehouse to read.
const pipeSize = 1 << 20

// newFrameConn creates a slot's pipes and socket. It returns gatehouse's end
// and the worker's three descriptors (frames in, frames out, socket), which
// the caller passes to the worker and then closes.
func newFrameConn() (*frameConn, []*os.File, error) {
	var toWorker, fromWorker [2]int
	if err := pipeCloexec(&toWorker); err != nil {
		return nil, nil, err
	}
	if err := pipeCloexec(&fromWorker); err != nil {
		syscall.Close(toWorker[0])
		syscall.Close(toWorker[1])
		return nil, nil, err
	}
	sp, err := socketpairCloexec()
	if err != nil {
		for _, fd := range [...]int{toWorker[0], toWorker[1], fromWorker[0], fromWorker[1]} {
			syscall.Close(fd)
		}
		return nil, nil, err
	}
	growPipe(fromWorker[1], pipeSize)
	inCap := pipeCap(toWorker[1])
	syscall.SetNonblock(toWorker[1], true)
	syscall.SetNonblock(fromWorker[0], true)
	sideFile := os.NewFile(uintptr(sp[0]), "wsgi-side")
	side, err := net.FileConn(sideFile)
	sideFile.Close()
	fc := &frameConn{
		rd:    os.NewFile(uintptr(fromWorker[0]), "wsgi-from-worker"),
		wr:    os.NewFile(uintptr(toWorker[1]), "wsgi-to-worker"),
		buf:   make([]byte, readBufSize),
		oob:   make([]byte, syscall.CmsgSpace(maxControlLen)),
		inCap: inCap,
	}
	child := []*os.File{
		os.NewFile(uintptr(toWorker[0]), "wsgi-worker-in"),
		os.NewFile(uintptr(fromWorker[1]), "wsgi-worker-out"),
		os.NewFile(uintptr(sp[1]), "wsgi-worker-side"),
	}
	if err != nil {
		fc.rd.Close()
		fc.wr.Close()
		for _, f := range child {
			f.Close()
		}
		return nil, nil, err
	}
	fc.side = side.(*net.UnixConn)
	return fc, child, nil
}

// fill reads more bytes into the buffer.
func (f *frameConn) fill() error {
	if f.r > 0 {
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.r = 0
	}
	if f.w == len(f.buf) {
		return errProtocol // a frame header never needs a whole buffer
	}
	n, err := f.rd.Read(f.buf[f.w:])
	f.w += n
	if n > 0 {
		return nil
	}
	return err
}

// write sends p whole.
func (f *frameConn) write(p []byte) error {
	_, err := f.wr.Write(p)
	return err
}

// next returns the next frame's type and length; its payload follows.
func (f *frameConn) next() (byte, int, error) {
	for f.w-f.r < frameHeader {
		if err := f.fill(); err != nil {
			return 0, 0, err
		}
	}
	t := f.buf[f.r]
	n := binary.BigEndian.Uint32(f.buf[f.r+1:])
	f.r += frameHeader
	if n > maxFrame {
		return 0, 0, fmt.Errorf("%w: frame of %d bytes", errProtocol, n)
	}
	return t, int(n), nil
}

// payload reads a whole payload of n bytes (for small frames).
func (f *frameConn) payload(n int) ([]byte, error) {
	if n > len(f.buf) {
		out := make([]byte, n)
		k := copy(out, f.buf[f.r:f.w])
		f.r += k
		if _, err := io.ReadFull(f.rd, out[k:]); err != nil {
			return nil, err
		}
		return out, nil
	}
	for f.w-f.r < n {
		if err := f.fill(); err != nil {
			return nil, err
		}
	}
	p := f.buf[f.r : f.r+n]
	f.r += n
	return p, nil
}

// stream passes a payload of n bytes to w in the pieces it arrives in, so that
// large response bodies never sit whole in memory.
func (f *frameConn) stream(n int, w func([]byte) error) error {
	for n > 0 {
		if f.r == f.w {
			if err := f.fill(); err != nil {
				return err
			}
		}
		k := min(n, f.w-f.r)
		err := w(f.buf[f.r : f.r+k])
		f.r += k
		n -= k
		if err != nil {
			f.discard(n)
			return err
		}
	}
	return nil
}

// discard skips n payload bytes.
func (f *frameConn) discard(n int) error {
	return f.stream(n, func([]byte) error { return nil })
}

// buffered reports whether more of the worker's output is already read, so a
// flush to the client can wait for it.
func (f *frameConn) buffered() bool { return f.w > f.r }

// takeFD receives the descriptor that goes with a frameFile: the worker sends
// it on the side socket, with one byte, before it writes the frame.
func (f *frameConn) takeFD() (*os.File, error) {
	var one [1]byte
	n, oobn, _, _, err := f.side.ReadMsgUnix(one[:], f.oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	if msgs, perr := syscall.ParseSocketControlMessage(f.oob[:oobn]); perr == nil {
		for _, m := range msgs {
			if got, err := syscall.ParseUnixRights(&m); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	if n != 1 || len(fds) != 1 {
		for _, fd := range fds {
			syscall.Close(fd)
		}
		return nil, fmt.Errorf("%w: file frame without exactly one descriptor", errProtocol)
	}
	return os.NewFile(uintptr(fds[0]), "wsgi-file"), nil
}

// send writes one frame.
func (f *frameConn) send(t byte, payload []byte) error {
	f.out = append(f.out[:0], t, 0, 0, 0, 0)
	binary.BigEndian.PutUint32(f.out[1:], uint32(len(payload)))
	f.out = append(f.out, payload...)
	return f.write(f.out)
}

// reset forgets buffered state after a request that broke off mid-frame; the
// slot is then retired with its worker.
func (f *frameConn) reset() { f.r, f.w = 0, 0 }

// close closes gatehouse's end. Any goroutine may call it; a read in progress
// keeps its descriptor until it returns, which it does when the worker ends.
func (f *frameConn) close() error {
	f.rd.Close()
	f.wr.Close()
	return f.side.Close()
}
