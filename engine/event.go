package engine

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// This file is the contract between an event-loop engine (engine/epoll) and the
// protocols it runs (serve/http1). It lives here, below both, so that neither
// imports the other.

// Verdict tells an event-loop engine what to do with a connection after a
// protocol callback.
type Verdict uint8

const (
	// Wait: wait for more bytes; the protocol keeps its state (a partial head).
	Wait Verdict = iota
	// Idle: between requests, nothing buffered, no protocol state held. An idle
	// connection is closed at once when the server drains.
	Idle
	// Dispatch: run EventHandler.Serve on a worker goroutine.
	Dispatch
	// Close: close the connection once its queued output is sent.
	Close
	// Detached: the protocol took the connection over (EventConn.Detach).
	Detached
)

// EventHandler is a protocol served on an event-loop engine. OnOpen, OnData and
// OnTimeout run on the loop (or on a worker that holds the connection) and must
// not block: they parse what is there and return Dispatch when there is work.
// Serve runs on a worker goroutine, where handlers may block.
//
// The engine calls at most one of these at a time for a connection, so a
// protocol needs no locking for its own state.
type EventHandler interface {
	// OnOpen is called once a connection is accepted (to set the first read
	// deadline); it returns Idle, or Close to refuse the connection.
	OnOpen(c EventConn) Verdict
	// OnData is called when bytes may have arrived. The protocol reads them
	// with TryRead.
	OnData(c EventConn) Verdict
	// OnTimeout is called when the read deadline passes while no worker holds
	// the connection.
	OnTimeout(c EventConn) Verdict
	// Serve runs on a worker after OnData or OnTimeout returned Dispatch.
	Serve(c EventConn) Verdict
	// OnClose releases the protocol's state when the connection closes.
	OnClose(c EventConn)
}

// ErrWouldBlock is returned by TryRead when no bytes are waiting.
var ErrWouldBlock = errors.New("engine: no bytes waiting")

// PeerWatcher is an EventConn that applies a peer's close only when asked:
// CancelIfPeerGone cancels the connection's context if the peer has closed
// or reset it (http1 calls it from ResponseWriter.WatchClient).
type PeerWatcher interface {
	CancelIfPeerGone()
}

// EventConn is a connection owned by an event loop. Its net.Conn methods are for
// the worker that holds the connection: Read waits (never on the loop) for bytes
// or the read deadline, Write sends at once and queues what the socket does not
// take, waiting only while the queue is over the engine's output bound.
// SyscallConn gives sendfile(2) access; its Write waits for EPOLLOUT.
type EventConn interface {
	net.Conn
	syscall.Conn
	// TryRead reads what is waiting without blocking: n > 0, or ErrWouldBlock,
	// or io.EOF and other errors.
	TryRead(p []byte) (int, error)
	// SetReadDeadlineNano and SetWriteDeadlineNano are SetReadDeadline and
	// SetWriteDeadline in Unix nanoseconds (0: none), without time.Time.
	SetReadDeadlineNano(t int64)
	SetWriteDeadlineNano(t int64)
	// Detach takes the connection out of the engine for an upgrade: the
	// returned net.Conn (on Go's own poller) is the caller's. Worker only.
	Detach() (net.Conn, error)
	// Proto and SetProto keep the protocol's per-request state (nil when idle).
	Proto() any
	SetProto(p any)
	// Now is the loop's clock in Unix nanoseconds, read once per loop turn
	// (never more than a few milliseconds old while a worker runs), for Date
	// fields and deadlines without a clock read per request.
	Now() int64
	// Word is a per-connection integer the protocol keeps across idle periods
	// without holding state (HTTP/1: requests served).
	Word() *int64
	// RemoteAddrPort and LocalAddrPort are zero for Unix sockets.
	RemoteAddrPort() netip.AddrPort
	LocalAddrPort() netip.AddrPort
	// Context is canceled when the connection ends or the server is force-closed.
	Context() context.Context
	// Draining reports whether the server is shutting down.
	Draining() bool
}
