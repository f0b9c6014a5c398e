package http1

import (
	"time"

	"gatehouse/engine"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// The same connection state machine, driven by an event-loop engine
// (engine/epoll): the loop reads and parses request heads (OnData), a worker
// runs the handler and writes the response (Serve). Between requests the
// connection holds no conn: it goes back to the pool, and only the number of
// requests served stays with the engine's connection (its Word).

var _ engine.EventHandler = (*Server)(nil)

// OnOpen gives a new connection the head timeout: one that sends nothing is a
// slowloris too. It implements engine.EventHandler.
func (s *Server) OnOpen(ev engine.EventConn) engine.Verdict {
	*ev.Word() = 0
	if d := s.cfg.ReadHeaderTimeout; d > 0 {
		ev.SetReadDeadlineNano(time.Now().UnixNano() + int64(d))
	}
	return engine.Idle
}

// OnData reads what has arrived and parses a request head; a complete head (or
// one that must be refused) goes to a worker. It never blocks.
func (s *Server) OnData(ev engine.EventConn) engine.Verdict {
	c, _ := ev.Proto().(*conn)
	if c == nil {
		c = connPool.Get().(*conn)
		c.startEvent(s, ev)
	}
	for {
		if c.rbuf == nil {
			c.rbuf, c.r, c.w = &c.inline, 0, 0
		}
		c.roomForHead()
		n, err := ev.TryRead(c.rbuf.b[c.w:])
		if n > 0 {
			c.w += n
			_, perr := c.parser.Parse(c.rbuf.b[c.r:c.w], &c.head)
			switch {
			case perr == nil:
				return engine.Dispatch
			case perr != http1.ErrNeedMore:
				c.refusal = perr
				return engine.Dispatch
			}
			c.startHeadTimer()
			continue
		}
		if err == engine.ErrWouldBlock {
			if c.r == c.w {
				c.endEvent()
				return engine.Idle
			}
			return engine.Wait
		}
		if c.w > c.r {
			c.log().Debug("connection closed inside a request head", "remote", c.remote, "err", err)
		}
		c.endEvent()
		return engine.Close
	}
}

// startHeadTimer starts the head timeout when the first bytes of a head are
// buffered, as readHead does on the goroutine engine.
func (c *conn) startHeadTimer() {
	if !c.headStarted {
		c.headStarted = true
		c.setReadDeadline(c.coarse(), c.cfg.ReadHeaderTimeout)
	}
}

// OnTimeout handles the read deadline of a connection between requests: an
// idle or silent connection (empty lines are no head: see headBegun) closes
// without a word, a partial head gets 408.
func (s *Server) OnTimeout(ev engine.EventConn) engine.Verdict {
	c, _ := ev.Proto().(*conn)
	if c == nil || !c.headBegun() {
		if *ev.Word() == 0 {
			s.cfg.Logger.Debug("closing silent connection", "remote", ev.RemoteAddrPort())
		}
		if c != nil {
			c.endEvent()
		}
		return engine.Close
	}
	c.refusal = errHeaderTimeout
	return engine.Dispatch
}

// Serve runs on a worker: it answers the parsed request and every complete
// pipelined one behind it, then hands the connection back to the loop. It
// implements engine.EventHandler.
func (s *Server) Serve(ev engine.EventConn) engine.Verdict {
	c := ev.Proto().(*conn)
	if err := c.refusal; err != nil {
		c.refusal = nil
		c.refuse(err)
		c.endEvent()
		return engine.Close
	}
	for {
		c.headStarted = false
		if !c.serveRequest() {
			c.flush()
			hijacked := c.hijacked
			c.endEvent()
			if hijacked {
				return engine.Detached
			}
			return engine.Close
		}
		if c.r < c.w {
			_, err := c.parser.Parse(c.rbuf.b[c.r:c.w], &c.head)
			if err == nil {
				continue
			}
			if err != http1.ErrNeedMore {
				c.refuse(err)
				c.endEvent()
				return engine.Close
			}
			// Part of the next head is here: send what is pending and let
			// the loop wait for the rest.
			if !c.flush() {
				c.endEvent()
				return engine.Close
			}
			c.startHeadTimer()
			return engine.Wait
		}
		if !c.flush() {
			c.endEvent()
			return engine.Close
		}
		c.setReadDeadline(c.coarse(), c.cfg.IdleTimeout)
		c.endEvent()
		return engine.Idle
	}
}

// OnClose releases the state of a connection closed between requests.
func (s *Server) OnClose(ev engine.EventConn) {
	if c, _ := ev.Proto().(*conn); c != nil {
		c.endEvent()
	}
}

// startEvent attaches a pooled conn to an event-loop connection.
func (c *conn) startEvent(s *Server, ev engine.EventConn) {
	c.srv, c.cfg, c.ev, c.nc = s, &s.cfg, ev, ev
	c.remote, c.local, c.ctx, c.drain = ev.RemoteAddrPort(), ev.LocalAddrPort(), ev.Context(), ev
	c.rc, c.tls = nil, nil
	if rc, err := ev.SyscallConn(); err == nil {
		c.rc = rc
	}
	c.r, c.w, c.bodyBase, c.broken, c.hijacked = 0, 0, 0, false, false
	c.nreq = int(*ev.Word())
	c.refusal, c.headStarted = nil, false
	c.rdl, c.wdl, c.watchN = 0, 0, 0
	c.base, c.now = time.Time{}, ev.Now() // clock() reads the wall clock when first asked
	c.parser.Limits = c.cfg.Limits
	c.parser.Reset()
	c.body.dec.Limits = c.cfg.Limits
	c.body.dec.MaxExt = c.cfg.MaxChunkExt
	ev.SetProto(c)
}

// endEvent detaches the conn from its event-loop connection and pools it.
func (c *conn) endEvent() {
	ev := c.ev
	*ev.Word() = int64(c.nreq)
	ev.SetProto(nil)
	c.releaseBuffers()
	c.req.Init(web.Head{}, web.Conn{}, web.NoBody)
	c.head.Reset()
	c.srv, c.cfg, c.ev, c.nc, c.rc, c.tls = nil, nil, nil, nil, nil, nil
	c.ctx, c.drain, c.refusal = nil, nil, nil
	connPool.Put(c)
}
