// Package epoll is gatehouse's event-loop engine for Linux. A few loops (one per
// GOMAXPROCS by default) own non-blocking sockets: they accept, wait for bytes
// with edge-triggered epoll, and let the protocol read and parse on the loop.
// Each request is then handed to a bounded pool of worker goroutines, where the
// handler may block (a Python worker, php-fpm, an upstream) without stalling
// the loop. Writes go out directly from the worker; what the socket does not
// take is queued and sent on EPOLLOUT, and a writer waits only while its queue
// is over OutputLimit. Deadlines (head, body, idle, write) sit on a timer wheel
// per loop; each loop has an eventfd through which workers wake it.
//
// Idle keep-alive connections hold no goroutine and no buffer: only a small
// record and their place in the epoll set.
//
// The engine knows nothing of HTTP: protocols implement engine.EventHandler
// (serve/http1 does). On other systems the package builds, Supported is false
// and Serve fails with ErrUnsupported; callers use the goroutine engine there.
package epoll

import (
	"errors"
	"time"
)

// Defaults of Server's fields.
const (
	// DefaultMaxWorkers bounds the handlers running at once. Requests beyond it
	// wait in a queue (their connections are not read meanwhile).
	DefaultMaxWorkers = 10000
	// DefaultOutputLimit is the output one connection may queue: a handler
	// writing more waits for the client to read, and a connection with more
	// queued is not read.
	DefaultOutputLimit = 256 << 10
	// workerIdle is how long an idle worker goroutine stays before it exits.
	workerIdle = 10 * time.Second
)

// ErrUnsupported is returned by Serve where there is no epoll (not Linux), and
// for listeners without a socket descriptor (TLS).
var ErrUnsupported = errors.New("epoll: engine not supported for this listener or system")
