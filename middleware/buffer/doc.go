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
// then to unlinked temporary files holding up to Config.MaxTempFile, after
// which they wait for the client (a file takes at most 16 MiB, and goes once
// sent, so the disk holds about what waits). HEAD responses and statuses
// without a body are counted, for their length, and not stored. A response that is whole when the handler
// returns goes out in one piece, with a Content-Length. A larger one, and a
// response the handler flushes, is sent by a goroutine of its own while the
// handler goes on, so that what was flushed reaches the client at once (PEP
// 3333's rule that no block is held back holds) without the handler ever
// waiting for the client. Server-Sent Events (text/event-stream) and
// responses that carry X-Accel-Buffering: no pass through unbuffered, as
// nginx does; StreamResponses passes every response through.
//
// With StreamRequests, the handler reads its body from the connection while
// the response is buffered: until the body is in (read to its declared length
// or its end), what the handler flushes goes out from the handler's own
// goroutine and waits for the client, as it would unbuffered, rather than
// have the drainer write to the connection while the handler reads from it.
// A handler that never reads its whole body keeps it so for the request.
//
// A response that fits in memory and is not flushed goes out when the handler
// returns: buffering holds back only what the handler itself has not asked
// to send yet.
//
// A handler that fails before anything reached the client has its buffered
// response dropped, so the server answers with an error page rather than a
// half response.
package buffer
