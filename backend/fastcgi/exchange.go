package fastcgi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/proto/fcgi"
	"gatehouse/proto/http1"
	"gatehouse/upstream"
	"gatehouse/web"
)

// longAgo is a deadline in the past: setting it makes blocked reads and
// writes on a connection return at once.
var longAgo = time.Unix(1, 0)

// exchange runs one request on c: the first write (ex.out), the rest of the
// body from a goroutine, and the response read on this one. It releases c,
// as reusable only when the exchange ended exactly at the end of an
// END_REQUEST record with everything sent.
func (h *Handler) exchange(ex *exchange, w web.ResponseWriter, r *web.Request, c *upstream.Conn) error {
	ctx := r.Context()
	var end time.Time
	if h.cfg.Timeout > 0 {
		end = time.Now().Add(h.cfg.Timeout)
	}
	// The client going away, or the server shutting down, ends the wait for
	// the application: the closed connection then aborts the script.
	canceled := make(chan struct{})
	stopWatch := context.AfterFunc(ctx, func() {
		c.SetDeadline(longAgo)
		close(canceled)
	})

	var rs readState
	var snd *sender
	c.SetWriteDeadline(deadline(h.cfg.WriteTimeout, end))
	err := ctx.Err()
	if err == nil {
		_, err = c.Write(ex.out)
	}
	if err == nil {
		if !ex.bodyDone {
			snd = &sender{done: make(chan struct{})}
			go h.send(ctx, ex, c, end, snd)
		} else {
			w.WatchClient() // a client that leaves aborts the request
		}
		err = h.read(ex, w, r, c, end, &rs)
	} else {
		err = h.connError(ctx, c, err, "write to")
	}

	reusable := err == nil && rs.clean && !h.cfg.NoKeepConn
	if snd != nil {
		select {
		case <-snd.done:
		default:
			// The answer is complete (or failed) while body is still being
			// sent: stop the sender. The flag stops it between writes; the
			// past deadline ends a write blocked on an application that no
			// longer reads. A sender waiting for the client's body stops at
			// its next write.
			snd.stop.Store(true)
			c.SetWriteDeadline(longAgo)
			<-snd.done
		}
		reusable = reusable && snd.complete
	}
	if !stopWatch() {
		<-canceled // the deadline was moved: c is of no further use
		reusable = false
	}
	c.Release(reusable)

	if snd != nil && snd.bodyErr {
		return snd.err // the client's body failed first; the application saw a close
	}
	if err == errRetry && !(c.Reused() && !rs.gotAny && snd == nil) {
		err = &web.Error{Status: 502, Err: fmt.Errorf("fastcgi: %s closed the connection before answering", c.Upstream())}
	}
	return err
}

// connError classifies a failed read or write on c.
func (h *Handler) connError(ctx context.Context, c *upstream.Conn, err error, op string) error {
	switch {
	case ctx.Err() != nil:
		return &web.Error{Status: 503, Err: fmt.Errorf("fastcgi: request canceled: %w", context.Cause(ctx))}
	case errors.Is(err, os.ErrDeadlineExceeded):
		// 504, not the 408 web.StatusOf gives os.ErrDeadlineExceeded: the
		// application, not the client, was slow.
		return &web.Error{Status: 504, Err: fmt.Errorf("fastcgi: %s %s: timed out: %w", op, c.Upstream(), err)}
	case c.Reused():
		return errRetry // exchange decides whether a retry is safe
	}
	return &web.Error{Status: 502, Err: fmt.Errorf("fastcgi: %s %s: %w", op, c.Upstream(), err)}
}

// sender streams the body after the first write, as STDIN records, while
// the response is read: an application may answer before it has read the
// whole body, and waiting for either side alone could deadlock both.
type sender struct {
	done     chan struct{}
	stop     atomic.Bool // the exchange is over: send nothing more
	err      error
	bodyErr  bool // err is the client's: its body could not be read
	complete bool // the STDIN stream was ended
}

const sendChunk = 32 << 10

var sendBufs = sync.Pool{New: func() any {
	b := make([]byte, fcgi.HeaderLen+sendChunk+2*fcgi.HeaderLen)
	return &b
}}

func (h *Handler) send(ctx context.Context, ex *exchange, c *upstream.Conn, end time.Time, s *sender) {
	defer close(s.done)
	bp := sendBufs.Get().(*[]byte)
	defer sendBufs.Put(bp)
	buf := *bp
	for ex.bodyLeft > 0 {
		k := int(min(ex.bodyLeft, sendChunk))
		n, err := ex.src.Read(buf[fcgi.HeaderLen : fcgi.HeaderLen+k])
		if n > 0 {
			ex.bodyLeft -= int64(n)
			fcgi.AppendHeader(buf[:0], fcgi.TypeStdin, requestID, n)
			rec := fcgi.AppendPadding(buf[:fcgi.HeaderLen+n], n)
			if ex.bodyLeft == 0 {
				rec = fcgi.AppendRecord(rec, fcgi.TypeStdin, requestID, nil)
			}
			c.SetWriteDeadline(deadline(h.cfg.WriteTimeout, end))
			// Checked after the deadline is set: whoever stops the sender
			// sets the flag, then a past deadline, so one of the two is seen.
			if s.stop.Load() || ctx.Err() != nil {
				s.err = errStopped
				return
			}
			if _, werr := c.Write(rec); werr != nil {
				// The application stopped reading: its answer, if any, is
				// still read; the connection is not reused.
				s.err = werr
				return
			}
			if ex.bodyLeft == 0 {
				s.complete = true
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			s.err, s.bodyErr = bodyError(err), true
			c.Close() // stops the application and the reader
			return
		}
	}
}

var errStopped = errors.New("fastcgi: body not sent: the exchange ended")

// readState is what the response read learned.
type readState struct {
	gotAny bool // a byte of the response arrived
	clean  bool // END_REQUEST ended the stream at a record boundary
}

var (
	errNoHead     = &web.Error{Status: 502, Err: fcgi.ErrNoHead}
	errOverloaded = &web.Error{Status: 503, RetryAfter: 1, Err: errors.New("fastcgi: application overloaded")}
)

// read reads records until END_REQUEST: the head of STDOUT becomes the
// response head, the rest of STDOUT is written as it comes, STDERR is
// logged line by line.
func (h *Handler) read(ex *exchange, w web.ResponseWriter, r *web.Request, c *upstream.Conn, end time.Time, rs *readState) error {
	var p fcgi.Parser
	buf := ex.rbuf
	start, stop := 0, 0
	headDone, bodyOK, dirty := false, true, false
	ctx := r.Context()
	for {
		for start < stop {
			f, n, err := p.Next(buf[start:stop])
			start += n
			if err == fcgi.ErrNeedMore {
				break
			}
			if err != nil {
				return h.protocolError(c, err)
			}
			if f.RequestID != requestID {
				if f.RequestID == fcgi.NullRequestID && !f.Type.Stream() {
					continue // a management record (UNKNOWN_TYPE...): nothing to do
				}
				return h.protocolError(c, fmt.Errorf("%v record for request %d", f.Type, f.RequestID))
			}
			switch f.Type {
			case fcgi.TypeStdout:
				if headDone {
					if bodyOK && len(f.Content) > 0 {
						if _, err := w.Write(f.Content); err != nil {
							return fmt.Errorf("fastcgi: write response: %w", err)
						}
						dirty = true
					}
					continue
				}
				ex.headBuf = append(ex.headBuf, f.Content...)
				hn, err := fcgi.ParseHead(ex.headBuf, h.cfg.MaxHeadBytes, &ex.head)
				if err == fcgi.ErrNeedMore {
					if f.EndOfStream() {
						return errNoHead
					}
					continue
				}
				if err != nil {
					return h.protocolError(c, err)
				}
				headDone = true
				hdr := w.Header()
				for _, fl := range ex.head.Fields {
					if !http1.HopByHop(fl.Name) {
						hdr.AddBytes(fl.Name, fl.Value)
					}
				}
				w.WriteHeader(ex.head.Status)
				dirty = true // the head goes out too if the body is slow to come
				// RFC 9110 §15.3.5, §15.4.5: 204 and 304 have no content,
				// whatever the script printed.
				bodyOK = ex.head.Status != 204 && ex.head.Status != 304
				if rest := ex.headBuf[hn:]; bodyOK && len(rest) > 0 {
					if _, err := w.Write(rest); err != nil {
						return fmt.Errorf("fastcgi: write response: %w", err)
					}
				}
			case fcgi.TypeStderr:
				h.stderr(ex, r, c, f.Content)
			case fcgi.TypeEndRequest:
				h.stderrFlush(ex, r, c)
				er, err := fcgi.ParseEndRequest(f.Content)
				if err != nil {
					return h.protocolError(c, err)
				}
				switch er.ProtocolStatus {
				case fcgi.StatusRequestComplete:
				case fcgi.StatusOverloaded, fcgi.StatusCantMpxConn:
					return errOverloaded
				default:
					return h.protocolError(c, fmt.Errorf("request refused with protocol status %d", er.ProtocolStatus))
				}
				if !headDone {
					return errNoHead
				}
				// Another request may follow on c only if the stream ends
				// exactly here (after any padding of this record).
				_, n, err := p.Next(buf[start:stop])
				start += n
				rs.clean = err == fcgi.ErrNeedMore && start == stop && p.Boundary()
				return nil
			default:
				return h.protocolError(c, fmt.Errorf("unexpected %v record", f.Type))
			}
		}
		switch {
		case start == stop:
			start, stop = 0, 0
		case start > 0:
			stop = copy(buf, buf[start:stop])
			start = 0
		}
		if stop == len(buf) {
			return h.protocolError(c, errors.New("record larger than the read buffer"))
		}
		// Send what came before waiting for more: output is streamed as the
		// application produces it, never gathered whole.
		if dirty {
			if err := w.Flush(); err != nil {
				return fmt.Errorf("fastcgi: write response: %w", err)
			}
			dirty = false
		}
		c.SetReadDeadline(deadline(h.cfg.ReadTimeout, end))
		// After setting the deadline: the cancellation's past deadline may
		// have been set before it, and overwritten.
		if ctx.Err() != nil {
			return h.connError(ctx, c, ctx.Err(), "read from")
		}
		n, err := c.Read(buf[stop:])
		if n > 0 {
			rs.gotAny = true
			stop += n
			continue
		}
		if err == nil {
			continue
		}
		if err == io.EOF && rs.gotAny {
			err = io.ErrUnexpectedEOF // closed in the middle of the response
		}
		if rs.gotAny && errors.Is(err, os.ErrDeadlineExceeded) || !rs.gotAny || ctx.Err() != nil {
			return h.connError(ctx, c, err, "read from")
		}
		return &web.Error{Status: 502, Err: fmt.Errorf("fastcgi: read from %s: %w", c.Upstream(), err)}
	}
}

func (h *Handler) protocolError(c *upstream.Conn, err error) error {
	return &web.Error{Status: 502, Err: fmt.Errorf("fastcgi: from %s: %w", c.Upstream(), err)}
}
