package http1

import "gatehouse/engine"

// Watching the client while a handler waits (goroutine engine).
//
// The epoll engine sees a client close at once: its loop watches every socket.
// The goroutine engine reads only when the protocol asks, so a handler about
// to wait on a CGI script, php-fpm or uWSGI calls ResponseWriter.WatchClient,
// and with the request body read to its end and nothing else buffered the
// connection is watched (engine.Conn.WatchPeer) until the handler returns. A
// byte read meanwhile is the start of a pipelined request, kept for it.

// watchClient starts the watch, when it applies.
func (c *conn) watchClient() {
	if c.hijacked || !c.body.active || !c.body.done || c.r != c.w {
		return // the body, or pipelined bytes, are the client's proof of life
	}
	if c.ec == nil {
		// epoll watches already, but a FIN that came with the request
		// reached the loop before a worker held the connection.
		if pw, ok := c.ev.(engine.PeerWatcher); ok {
			pw.CancelIfPeerGone()
		}
		return
	}
	c.ec.WatchPeer()
	c.rdl = 0 // WatchPeer cleared the read deadline
}

// unwatch ends the watch: a byte it read becomes the start of the next
// request, a client that left closes the connection after this response.
func (c *conn) unwatch() {
	if c.ec == nil || !c.ec.Watching() {
		return
	}
	b, got, gone := c.ec.StopWatch()
	c.rdl = -1 // in the past: the next setReadDeadline sets it, even to none
	switch {
	case got:
		c.watchByte, c.watchN = b, 1
	case gone:
		c.log().Debug("client closed the connection while a request ran", "remote", c.remote)
		c.resp.closeAfter = true
	}
}

// takeWatchByte moves a byte the watch read into the read buffer, at the start
// of the next request; it reports whether there was one.
func (c *conn) takeWatchByte() bool {
	if c.watchN == 0 {
		return false
	}
	c.watchN = 0
	c.rbuf = &c.inline
	c.inlineArr[0] = c.watchByte
	c.r, c.w = 0, 1
	return true
}
