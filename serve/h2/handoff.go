package h2

import (
	"net"
	"sync"
)

// handoff is a listener whose Accept returns the connections pushed to it:
// how connections the dispatcher has accepted (and, for TLS, handshaken)
// reach net/http's Server.Serve.
type handoff struct {
	ch     chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newHandoff() *handoff {
	return &handoff{ch: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for a pushed connection, or returns net.ErrClosed once the
// listener is closed.
func (l *handoff) Accept() (net.Conn, error) {
	select {
	case <-l.closed: // closed wins over a connection pushed at the same time
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// push hands c to the Accept under way, waiting for one; it returns false,
// with c still the caller's, once the listener is closed.
func (l *handoff) push(c net.Conn) bool {
	select {
	case <-l.closed:
		return false
	default:
	}
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *handoff) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr is a placeholder: the connections come from the endpoint's own
// listener, whose address the server reports.
func (l *handoff) Addr() net.Addr { return handoffAddr{} }

type handoffAddr struct{}

func (handoffAddr) Network() string { return "handoff" }
func (handoffAddr) String() string  { return "handoff" }
