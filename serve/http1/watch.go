package http1

import (
	"errors"
	"os"
	"time"
)

// Watching the client while a handler waits (goroutine engine).
//
// The epoll engine sees a client close at once: its loop watches every socket.
// The goroutine engine reads only when the protocol asks, so a client that
// goes away while a handler waits on a CGI script, php-fpm or uWSGI would go
// unnoticed until the response is written. A handler about to wait calls
// web.WatchClient; with the request body read to its end and nothing else
// buffered, a goroutine then reads one byte: EOF or a reset cancels the
// request's context (nginx treats a half-close the same way), and a byte is a
// pipelined request, kept for later. It stops when the handler returns.

// watchClient starts the watch, when it applies.
func (c *conn) watchClient() {
	if c.ec == nil || c.watching || c.hijacked || !c.body.active || !c.body.done || c.r != c.w {
		return // epoll watches already; or the body, or pipelined bytes, are the client's proof of life
	}
	if c.watchDone == nil {
		c.watchDone = make(chan struct{}, 1)
	}
	c.watching = true
	c.nc.SetReadDeadline(time.Time{})
	c.rdl = 0
	go c.watch()
}

func (c *conn) watch() {
	n, err := c.nc.Read(c.watchByte[:])
	c.watchN, c.watchErr = n, err
	if n == 0 && !errors.Is(err, os.ErrDeadlineExceeded) {
		c.log().Debug("client closed the connection while a request ran", "remote", c.remote, "err", err)
		c.ec.Gone()
	}
	c.watchDone <- struct{}{}
}

// unwatch ends the watch and waits for the goroutine; a byte it read becomes
// the start of the next request, an EOF closes the connection after this
// response.
func (c *conn) unwatch() {
	if !c.watching {
		return
	}
	c.nc.SetReadDeadline(time.Unix(1, 0))
	<-c.watchDone
	c.watching = false
	c.rdl = -1 // unknown: the next setReadDeadline sets it
	if c.watchN == 0 && !errors.Is(c.watchErr, os.ErrDeadlineExceeded) {
		c.resp.closeAfter = true
	}
	c.watchErr = nil
}

// takeWatchByte moves a byte the watch read into the read buffer, at the start
// of the next request; it reports whether there was one.
func (c *conn) takeWatchByte() bool {
	if c.watchN == 0 {
		return false
	}
	c.watchN = 0
	c.rbuf = &c.inline
	c.inlineArr[0] = c.watchByte[0]
	c.r, c.w = 0, 1
	return true
}
