package uwsgi

// Watching the peer while a handler waits. A uwsgi connection carries one
// request and nothing after its body, so once the body is read the peer has
// nothing more to send: EOF, a reset or any byte means nginx gave up on the
// request (its client went away, or uwsgi_read_timeout expired). The engine
// watches (engine.Conn.WatchPeer) and cancels the request's context, so a CGI
// script or an application waiting behind this server is stopped
// (web.ResponseWriter's WatchClient).

// WatchClient starts the watch when the body has been read to its end.
func (w *response) WatchClient() {
	c := w.c
	if !c.body.active || c.body.remaining != 0 || c.r != c.w {
		return
	}
	c.ec.WatchPeer()
}

// unwatch ends the watch; a byte the peer sent after its body ends the
// request too (the connection carries nothing more).
func (c *conn) unwatch() {
	if _, got, gone := c.ec.StopWatch(); got || gone {
		c.log().Debug("uwsgi peer closed the connection while a request ran", "remote", c.ec.Remote)
	}
}
