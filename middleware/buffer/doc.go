// Package buffer keeps slow clients away from application workers: it reads a
// request body to its end before the handler runs, and takes a response from
// the handler as fast as the handler writes it, so that a worker (a Python
// process, a php-fpm child, a uWSGI worker, a CGI script) is busy only for
// the time the application needs, never for the time a client needs.
//
// The threat is the one nginx's request and response buffering stop in front
// of gunicorn and php-fpm: a client that trickles its body a byte at a time,
// or asks for a large response and reads none of it, holds a worker for as
// long as it likes; a few such clients, as many as there are workers, hold
// them all and every other request waits or is refused.
//
// Requests: a body is read into memory up to Config.BodyMemory, the rest into
// an unlinked temporary file, bounded by the server's body limit and timeout
// as an unbuffered read would be; then the handler runs, with the body in its
// place and its length known (a chunked body becomes one with a
// Content-Length). StreamRequests turns this off, for streaming uploads.
//
// Responses: the handler's writes go to memory up to Config.ResponseMemory,
// then to an unlinked temporary file up to Config.MaxTempFile, after which
// they wait for the client. A response that is whole when the handler
// returns goes out in one piece, with a Content-Length. A larger one, and a
// response the handler flushes, is sent by a goroutine of its own while the
// handler goes on, so that what was flushed reaches the client at once (PEP
// 3333's rule that no block is held back holds) without the handler ever
// waiting for the client. Server-Sent Events (text/event-stream) and
// responses that carry X-Accel-Buffering: no pass through unbuffered, as
// nginx does; StreamResponses passes every response through.
//
// With StreamRequests, the handler reads its body from the connection while
// the response is buffered: until the body is in, what the handler flushes
// goes out from the handler's own goroutine (and waits for the client), since
// a connection is not read and written by two goroutines of gatehouse's.
//
// A handler that fails before anything reached the client has its buffered
// response dropped, so the server answers with an error page rather than a
// half response.
package buffer
