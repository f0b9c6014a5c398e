// Package server assembles gatehouse from its parts: listeners, the connection
// engine, the HTTP/1.1 server and the handler tree, and runs them with a graceful
// lifecycle. It is the only package (with cmd) that knows every layer.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"gatehouse/engine"
	"gatehouse/listen"
	shttp "gatehouse/serve/http1"
	suwsgi "gatehouse/serve/uwsgi"
	"gatehouse/web"
)

// DefaultShutdownGrace is how long in-flight requests may take to finish after a
// shutdown signal before their connections are closed.
const DefaultShutdownGrace = 30 * time.Second

// Config describes a running server.
type Config struct {
	// Listeners to accept HTTP on. At least one listener, HTTP or uwsgi.
	Listeners []listen.Config
	// UWSGI lists the listeners that speak the uwsgi protocol (nginx's
	// uwsgi_pass in front), with the same Handler.
	UWSGI []UWSGIListener
	// UWSGIServer holds the uwsgi listeners' limits and timeouts (Allow is
	// per listener); see serve/uwsgi.Config.
	UWSGIServer suwsgi.Config
	// HTTP holds the HTTP/1.1 limits and timeouts; see serve/http1.Config.
	HTTP shttp.Config
	// Handler answers every request.
	Handler web.Handler
	// ShutdownGrace bounds the wait for in-flight requests on shutdown.
	// Default 30 s; negative waits forever.
	ShutdownGrace time.Duration
	// MaxConns bounds concurrent connections (0: unlimited).
	MaxConns int
	// Engine runs HTTP connections: "epoll" (event loops and a worker pool;
	// the default on Linux) or "goroutine" (one goroutine per connection; the
	// default elsewhere, and always for listeners epoll cannot take). "epoll"
	// where there is no epoll falls back to "goroutine". See engines.go.
	Engine string
	// Accept is how the epoll engine's loops take connections from a TCP
	// listener: "shared" (one listening socket, watched by every loop; the
	// default, "" too) or "reuseport" (the listener is bound with SO_REUSEPORT
	// and each loop gets a socket of its own in its group; see
	// engine/epoll.Server.ReusePort). Unix listeners and the goroutine engine
	// are always shared.
	Accept string
	// Logger for lifecycle events. nil means slog.Default().
	Logger *slog.Logger
}

// UWSGIListener is a listener for the uwsgi protocol.
type UWSGIListener struct {
	Listen listen.Config
	// Allow lists the TCP peers served; nil: loopback only (see
	// serve/uwsgi.Config.Allow).
	Allow []netip.Prefix
}

// Server is a configured, possibly running, gatehouse.
type Server struct {
	cfg       Config
	log       *slog.Logger
	eng       httpEngine
	ueng      []*engine.Server // one per uwsgi listener (each has its allow-list)
	mu        sync.Mutex
	listeners []net.Listener
	errc      chan error
}

// New checks cfg and returns a server ready to Start.
func New(cfg Config) (*Server, error) {
	if len(cfg.Listeners) == 0 && len(cfg.UWSGI) == 0 {
		return nil, errors.New("server: no listeners")
	}
	if cfg.Handler == nil {
		return nil, errors.New("server: no handler")
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTP.Logger == nil {
		cfg.HTTP.Logger = cfg.Logger
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	var err error
	if s.eng, err = newHTTPEngine(cfg, shttp.New(cfg.Handler, cfg.HTTP)); err != nil {
		return nil, err
	}
	if cfg.UWSGIServer.Logger == nil {
		cfg.UWSGIServer.Logger = cfg.Logger
	}
	for _, ul := range cfg.UWSGI {
		uc := cfg.UWSGIServer
		uc.Allow = ul.Allow
		s.ueng = append(s.ueng, &engine.Server{Handler: suwsgi.New(cfg.Handler, uc), Logger: cfg.Logger, MaxConns: cfg.MaxConns})
	}
	return s, nil
}

// Start opens every listener and starts accepting. If any listener fails, the
// ones already open are closed and the error is returned.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.errc != nil {
		return errors.New("server: already started")
	}
	var ls []net.Listener
	lcs := slices.Clone(s.cfg.Listeners)
	for _, ul := range s.cfg.UWSGI {
		lcs = append(lcs, ul.Listen)
	}
	for i, lc := range lcs {
		if i < len(s.cfg.Listeners) {
			lc = s.eng.listenConfig(lc)
		}
		l, err := listen.Listen(ctx, lc)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return err
		}
		ls = append(ls, l)
	}
	s.listeners = ls
	s.errc = make(chan error, len(ls))
	nhttp := len(s.cfg.Listeners)
	for i, l := range ls {
		if i < nhttp {
			s.log.Info("listening", "addr", displayAddr(l), "protocol", "http", "engine", s.eng.name(l))
			go func() { s.errc <- s.eng.Serve(l) }()
			continue
		}
		eng := s.ueng[i-nhttp]
		s.log.Info("listening", "addr", displayAddr(l), "protocol", "uwsgi", "engine", "goroutine")
		go func() { s.errc <- eng.Serve(l) }()
	}
	return nil
}

func displayAddr(l net.Listener) string {
	if l.Addr().Network() == "unix" {
		return "unix:" + l.Addr().String()
	}
	return l.Addr().String()
}

// Addrs returns the addresses being listened on (useful with port 0).
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.Addr()
	}
	return out
}

// Run starts the server if needed and serves until ctx is done, then shuts down
// gracefully: it stops accepting, closes idle connections, and gives in-flight
// requests ShutdownGrace to finish before closing their connections. It returns
// nil after a shutdown, or the error that stopped a listener.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	started := s.errc != nil
	s.mu.Unlock()
	if !started {
		if err := s.Start(ctx); err != nil {
			return err
		}
	}
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-s.errc:
		if !errors.Is(err, engine.ErrServerClosed) {
			runErr = fmt.Errorf("server: %w", err)
			s.log.Error("listener failed", "err", err)
		}
	}
	s.Shutdown()
	return runErr
}

// Shutdown stops the server gracefully, waiting at most ShutdownGrace.
func (s *Server) Shutdown() {
	start := time.Now()
	n := s.eng.Conns()
	for _, e := range s.ueng {
		n += e.Conns()
	}
	s.log.Info("shutting down", "open_connections", n, "grace", s.cfg.ShutdownGrace)
	ctx := context.Background()
	if s.cfg.ShutdownGrace > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownGrace)
		defer cancel()
	}
	errs := make(chan error, len(s.ueng))
	for _, e := range s.ueng {
		go func() { errs <- e.Shutdown(ctx) }()
	}
	err := s.eng.Shutdown(ctx)
	for range s.ueng {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		s.log.Warn("grace period over; closed remaining connections", "took", time.Since(start).Round(time.Millisecond))
	} else {
		s.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	}
}

// Close stops the server at once, closing every connection.
func (s *Server) Close() error {
	err := s.eng.Close()
	for _, e := range s.ueng {
		err = errors.Join(err, e.Close())
	}
	return err
}
