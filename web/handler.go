package web

import (
	"errors"
	"net"
	"os"
)

// ErrAbortHandler, as a panic value, stops a handler and closes the connection
// without logging a stack, as net/http's ErrAbortHandler does.
var ErrAbortHandler = errors.New("web: abort handler")

// Handler answers one request. It returns an error instead of writing its own error
// page: if nothing has been written yet, the server renders the error with the
// status StatusOf gives it; otherwise the response is cut short and the connection
// closed, so the client can tell the response is incomplete.
type Handler interface {
	ServeHTTP(w ResponseWriter, r *Request) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w ResponseWriter, r *Request) error

// ServeHTTP calls f.
func (f HandlerFunc) ServeHTTP(w ResponseWriter, r *Request) error { return f(w, r) }

// Middleware wraps a handler.
type Middleware func(next Handler) Handler

// Chain wraps h in the middleware, the first one outermost:
// Chain(h, a, b) serves a(b(h)).
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// ResponseWriter builds a response. Every capability is a method; there are no
// optional interfaces to probe. It is valid only until ServeHTTP returns.
type ResponseWriter interface {
	// Header returns the response header, to change before the first Write,
	// WriteHeader, Flush or SendFile.
	Header() *Header
	// WriteHeader sets the status code. It takes effect when the head is sent; a
	// second call is ignored. 1xx codes other than 100 and 103 are not supported.
	WriteHeader(status int)
	// Write appends to the body. For a HEAD request, and for 204 and 304, body
	// bytes are counted but not sent.
	Write(p []byte) (int, error)
	// WriteString is Write for a string.
	WriteString(s string) (int, error)
	// Flush sends the head and any buffered body now. Without a Content-Length the
	// body is then sent chunked (HTTP/1.1) or delimited by closing (HTTP/1.0).
	Flush() error
	// SendFile sends count bytes of f from offset as (part of) the body, by
	// sendfile(2) where the connection allows. It does not close f.
	SendFile(f *os.File, offset, count int64) error
	// Upgrade takes the connection over, for a protocol switch (101) or a tunnel.
	// Nothing more is written by the server; the handler writes its own response
	// on the returned connection, whose first reads return any bytes the server
	// had already buffered. The connection is the caller's to close.
	Upgrade() (net.Conn, error)
	// WatchClient asks the server to cancel the request's context as soon as
	// the client closes its connection, for a handler about to wait on
	// something else (a script, php-fpm, uWSGI, a Python worker) that it
	// would then stop. Call it once the request body has been read to its
	// end; before that, reading the body is what notices a client that left.
	// Engines that watch every connection anyway (epoll) and writers that
	// cannot watch do nothing.
	WatchClient()
	// Status returns the status code set so far (0 if none yet).
	Status() int
	// Written returns the number of body bytes written so far.
	Written() int64
}
