// Package limits bounds a route's requests more tightly than the server
// does: a smaller body limit (413) and a deadline for the whole request
// (504), so that an upload route and an API route on one listener need not
// share one limit. The server's own limits ([http] max_body, the head and
// body timeouts) apply first, on every connection: a route can lower them,
// not raise them.
//
// The threat is the one the server's limits stop, scoped: a route that
// takes small JSON bodies should not read (and buffer to disk) 128 MiB from
// any client that sends them, and one whose backend can hang should not
// hold the request longer than the route is worth.
package limits

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"gatehouse/web"
)

// Config is a route's limits; zero fields add none.
type Config struct {
	// MaxBody bounds the request body, in bytes: a declared length over it
	// is 413 before anything is read, a chunked body 413 when it passes
	// it. 0: the server's limit only.
	MaxBody int64
	// Timeout bounds the request, from the route on to the end of its
	// response: the request's context ends, so a backend that waits (a
	// script, php-fpm, uWSGI, a Python worker, a queue) stops, and a
	// request not yet answered gets 504. 0: none of its own.
	Timeout time.Duration
}

// errBodyTooLarge is the route's 413.
var errBodyTooLarge = &web.Error{Status: 413, Err: errors.New("limits: request body over the route's max_body")}

// Check refuses a request whose declared body is over the limit.
func (c *Config) Check(r *web.Request) error {
	if c.MaxBody > 0 && r.ContentLength() > c.MaxBody {
		return &web.Error{Status: 413, Err: fmt.Errorf("limits: a body of %d bytes over the route's max_body of %d", r.ContentLength(), c.MaxBody)}
	}
	return nil
}

// Wrap returns next within the limits.
func (c Config) Wrap(next web.Handler) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if err := c.Check(r); err != nil {
			return err
		}
		if c.MaxBody > 0 && r.ContentLength() < 0 {
			body := r.Body()
			r.SetBody(&limitedBody{r: body, left: c.MaxBody}, -1)
			defer r.SetBody(body, -1)
		}
		if c.Timeout > 0 {
			ctx := r.Context()
			tctx, cancel := context.WithTimeout(ctx, c.Timeout)
			r.SetContext(tctx)
			defer func() {
				cancel()
				r.SetContext(ctx)
			}()
		}
		return next.ServeHTTP(w, r)
	})
}

// limitedBody is a chunked body cut at the route's limit: one byte more
// than the limit is the 413.
type limitedBody struct {
	r    io.Reader
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, errBodyTooLarge
	}
	return n, err
}
