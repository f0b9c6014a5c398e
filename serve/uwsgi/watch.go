package uwsgi

import (
	"errors"
	"os"
	"time"
)

// Watching the peer while a handler waits. A uwsgi connection carries one
// request and nothing after its body, so once the body is read the peer has
// nothing more to send: EOF, a reset or any byte means nginx gave up on the
// request (its client went away, or uwsgi_read_timeout expired) and the
// request's context is canceled, so a CGI script or an application waiting
// behind this server is stopped (web.WatchClient).

// WatchClient starts the watch when the body has been read to its end.
func (w *response) WatchClient() {
	c := w.c
	if c.watching || !c.body.active || c.body.remaining != 0 || c.r != c.w {
		return
	}
	if c.watchDone == nil {
		c.watchDone = make(chan struct{}, 1)
	}
	c.watching = true
	c.nc.SetReadDeadline(time.Time{})
	go c.watch()
}

func (c *conn) watch() {
	var b [1]byte
	_, err := c.nc.Read(b[:])
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		c.log().Debug("uwsgi peer closed the connection while a request ran", "remote", c.ec.Remote, "err", err)
		c.ec.Gone()
	}
	c.watchDone <- struct{}{}
}

// unwatch ends the watch and waits for its goroutine.
func (c *conn) unwatch() {
	if !c.watching {
		return
	}
	c.nc.SetReadDeadline(time.Unix(1, 0))
	<-c.watchDone
	c.watching = false
}
