// Package wsgi runs Python WSGI applications (PEP 3333) in worker processes
// that gatehouse starts and supervises, as gunicorn and uWSGI do.
//
// A Pool starts Config.Workers Python processes, each running the worker
// program embedded in this package (worker.py, standard library only) with
// Config.Threads threads. Each thread is a slot: gatehouse talks to it over two
// pipes carrying frames (one each way) and a Unix socket that carries file
// descriptors for wsgi.file_wrapper. The frames are documented in
// docs/wsgi-protocol.md.
//
// The pool is a web.Handler. A request waits for a free slot (up to
// QueueTimeout, then 503 with Retry-After), is described to the worker by its
// CGI variables (proto/cgienv), and its response is streamed back: the head
// when the application's first block arrives, each block as produced, a file
// by sendfile(2) from the descriptor the worker passed.
//
// Supervision: a worker that dies is replaced with backoff, and a crash loop
// is logged rather than spun; workers are recycled after MaxRequests (plus
// jitter) or above MaxRSS; a request over Timeout gets 504, the worker's Python
// stacks go to the log (faulthandler) and the worker is replaced; Reload
// replaces every worker one at a time without dropping a request.
package wsgi
