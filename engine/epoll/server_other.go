//go:build !linux

package epoll

import (
	"context"
	"log/slog"
	"net"

	"gatehouse/engine"
)

// Supported reports whether this system has the epoll engine: not this one.
const Supported = false

// Server is the epoll engine's server; on this system it serves nothing (see
// Supported) and callers run the goroutine engine instead.
type Server struct {
	Handler     engine.EventHandler
	Logger      *slog.Logger
	MaxConns    int
	Loops       int
	MaxWorkers  int
	OutputLimit int
	ReusePort   bool
}

// Supports reports false: there is no epoll here.
func Supports(net.Listener) bool { return false }

// Serve returns ErrUnsupported.
func (s *Server) Serve(l net.Listener) error { return ErrUnsupported }

// ServeHandler returns ErrUnsupported.
func (s *Server) ServeHandler(l net.Listener, h engine.EventHandler) error { return ErrUnsupported }

// ServeProxied returns ErrUnsupported.
func (s *Server) ServeProxied(l net.Listener, h engine.EventHandler, pp *engine.ProxyProtocol) error {
	return ErrUnsupported
}

// Shutdown returns nil: nothing runs.
func (s *Server) Shutdown(ctx context.Context) error { return nil }

// Close returns nil: nothing runs.
func (s *Server) Close() error { return nil }

// Conns returns 0.
func (s *Server) Conns() int { return 0 }

// Draining returns false.
func (s *Server) Draining() bool { return false }

// Accepted returns nil: there are no loops.
func (s *Server) Accepted() []int64 { return nil }

// Workers returns 0.
func (s *Server) Workers() int { return 0 }
