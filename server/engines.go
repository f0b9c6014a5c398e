package server

import (
	"context"
	"errors"
	"fmt"
	"net"

	"gatehouse/engine"
	"gatehouse/engine/epoll"
	"gatehouse/listen"
)

// httpEngine runs every endpoint's connections: the epoll engine where it
// can (plain HTTP on TCP and Unix listeners on Linux), the goroutine engine
// for the rest (TLS, uwsgi, other systems). One of each for all endpoints,
// each listener with its own connection handler.
type httpEngine interface {
	Serve(l net.Listener, h connHandler) error
	Shutdown(ctx context.Context) error
	Close() error
	Conns() int
	name(l net.Listener, h connHandler) string // the engine l runs on, for the log
	// listenConfig adjusts a plain HTTP listener's config for the engine:
	// SO_REUSEPORT for a TCP listener whose loops each get a socket.
	listenConfig(lc listen.Config) listen.Config
}

// engines is both engines behind one face; ev is nil when epoll is not chosen
// or not available.
type engines struct {
	gr *engine.Server
	ev *epoll.Server
}

func newHTTPEngine(cfg Config) (httpEngine, error) {
	e := &engines{gr: &engine.Server{Logger: cfg.Logger, MaxConns: cfg.MaxConns}}
	switch cfg.Accept {
	case "", "shared", "reuseport":
	default:
		return nil, fmt.Errorf("server: unknown accept mode %q (want shared or reuseport)", cfg.Accept)
	}
	switch cfg.Engine {
	case "", "epoll":
		if epoll.Supported {
			e.ev = &epoll.Server{Logger: cfg.Logger, MaxConns: cfg.MaxConns,
				ReusePort: cfg.Accept == "reuseport"}
		} else if cfg.Engine == "epoll" {
			cfg.Logger.Warn("no epoll on this system; using the goroutine engine")
		}
	case "goroutine":
	default:
		return nil, fmt.Errorf("server: unknown engine %q (want epoll or goroutine)", cfg.Engine)
	}
	return e, nil
}

func (e *engines) listenConfig(lc listen.Config) listen.Config {
	if e.ev != nil && e.ev.ReusePort {
		if network, _ := listen.Network(lc.Addr); network == "tcp" {
			lc.ReusePort = true
		}
	}
	return lc
}

// epoll reports whether l's connections run on the epoll engine: plain
// HTTP, on a listener the engine supports.
func (e *engines) epoll(l net.Listener, h connHandler) bool {
	return e.ev != nil && h.plainHTTP() && epoll.Supports(l)
}

func (e *engines) name(l net.Listener, h connHandler) string {
	if e.epoll(l, h) {
		return "epoll"
	}
	return "goroutine"
}

func (e *engines) Serve(l net.Listener, h connHandler) error {
	if e.epoll(l, h) {
		return e.ev.ServeProxied(l, h.event(), h.proxy())
	}
	return e.gr.ServeHandler(l, h) // the dispatcher reads a PROXY header itself
}

// Shutdown shuts both engines down at once, under one deadline.
func (e *engines) Shutdown(ctx context.Context) error {
	if e.ev == nil {
		return e.gr.Shutdown(ctx)
	}
	errc := make(chan error, 1)
	go func() { errc <- e.ev.Shutdown(ctx) }()
	return errors.Join(e.gr.Shutdown(ctx), <-errc)
}

func (e *engines) Close() error {
	if e.ev != nil {
		e.ev.Close()
	}
	return e.gr.Close()
}

func (e *engines) Conns() int {
	n := e.gr.Conns()
	if e.ev != nil {
		n += e.ev.Conns()
	}
	return n
}
