// Package server assembles gatehouse from its parts: listeners, the connection
// engine, the HTTP/1.1 server (and Go's HTTP/2 server, through serve/h2) and
// the handler tree, and runs them with a graceful lifecycle. It is the only package (with cmd) that knows every layer.
package server

import (
	"context"
	"crypto/tls"
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
	"gatehouse/serve/h2"
	shttp "gatehouse/serve/http1"
	suwsgi "gatehouse/serve/uwsgi"
	"gatehouse/web"
)

// DefaultShutdownGrace is how long in-flight requests may take to finish after a
// shutdown signal before their connections are closed.
const DefaultShutdownGrace = 30 * time.Second

// Config describes a running server.
type Config struct {
	// Endpoints are where the server listens, the protocol it speaks on
	// each and what each serves. At least one.
	Endpoints []Endpoint
	// HTTP holds the HTTP/1.1 limits and timeouts (and the access log) of
	// every HTTP endpoint; see serve/http1.Config. An endpoint's Scheme
	// replaces HTTP.Scheme.
	HTTP shttp.Config
	// HTTP2 holds the HTTP/2 limits of the endpoints that serve it (TLS
	// endpoints by ALPN, h2c endpoints); see serve/h2.Config. Zero fields
	// take net/http's defaults for the HTTP/2 settings (250 streams, 1 MiB
	// frames) and HTTP's values for what both protocols bound
	// (MaxHeaderBytes from HTTP.Limits, IdleTimeout, WriteTimeout). Its
	// Request and Unencrypted are set per endpoint, from HTTP.
	HTTP2 h2.Config
	// UWSGI holds the uwsgi endpoints' limits and timeouts (Allow is per
	// endpoint); see serve/uwsgi.Config.
	UWSGI suwsgi.Config
	// Handler is the root: what every endpoint without a handler of its own
	// serves. It can be replaced while the server runs (Server.Swap).
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

// Protocols an endpoint speaks.
const (
	ProtocolHTTP  = "http"  // HTTP/1.x
	ProtocolUWSGI = "uwsgi" // the uwsgi protocol, behind nginx's uwsgi_pass
)

// Endpoint is one listening address, the protocol spoken there and the
// handler it serves.
type Endpoint struct {
	Listen listen.Config
	// Protocol is ProtocolHTTP (the default, "" too) or ProtocolUWSGI.
	Protocol string
	// Handler serves this endpoint instead of the root (an admin or metrics
	// endpoint). nil: the root, Config.Handler.
	Handler web.Handler
	// Scheme is what requests on an HTTP endpoint report: "http" (the
	// default) or "https". A TLS endpoint is always "https".
	Scheme string
	// TLS, on an HTTP endpoint, terminates TLS with this configuration: the
	// handshake, bounded by HandshakeTimeout, happens before the protocol is
	// chosen by ALPN: "h2" is served by Go's HTTP/2 server (serve/h2),
	// "http/1.1" or none by gatehouse's HTTP/1.1 server. Without NextProtos
	// the endpoint offers ["h2", "http/1.1"], h2 first (the server's order
	// wins); NextProtos ["http/1.1"] turns HTTP/2 off. TLS connections run
	// on the goroutine engine. nil: plain.
	TLS *tls.Config
	// HandshakeTimeout bounds a TLS endpoint's handshake, from the accept
	// on, so that a client that says nothing (or half a ClientHello) holds
	// nothing longer; the head's timeout starts after it. 0:
	// DefaultHandshakeTimeout (10 s); negative: none (shutdown still ends
	// it).
	HandshakeTimeout time.Duration
	// H2C, on a plain HTTP endpoint, also serves HTTP/2 without TLS to
	// clients that start with its preface (prior knowledge, RFC 9113 §3.3:
	// curl --http2-prior-knowledge, gRPC, h2load), beside HTTP/1.1 on the
	// same port. "Upgrade: h2c" is never honoured (RFC 9113 dropped it;
	// through proxies it smuggles requests): such requests are answered as
	// HTTP/1.1. An h2c endpoint runs on the goroutine engine. false (the
	// default): HTTP/1.x only; ignored elsewhere but refused with TLS or
	// uwsgi.
	H2C bool
	// Allow lists the TCP peers a uwsgi endpoint serves; nil: loopback
	// only (see serve/uwsgi.Config.Allow).
	Allow []netip.Prefix
	// Proxy, on an HTTP endpoint, takes connections from load balancers
	// only, each starting with a PROXY protocol header (v1 or v2) that
	// names the client, read before anything else (before TLS too), on
	// either engine; see engine.ProxyProtocol. nil: none.
	Proxy *engine.ProxyProtocol
}

// Server is a configured, possibly running, gatehouse.
type Server struct {
	cfg       Config
	log       *slog.Logger
	root      *Root
	eng       httpEngine
	conns     []connHandler // per endpoint
	h2        []*h2.Server  // the HTTP/2 servers of the endpoints that have one
	mu        sync.Mutex
	listeners []net.Listener
	errc      chan error
}

// New checks cfg and returns a server ready to Start.
func New(cfg Config) (*Server, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("server: no endpoints")
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
	if cfg.UWSGI.Logger == nil {
		cfg.UWSGI.Logger = cfg.Logger
	}
	cfg.Endpoints = slices.Clone(cfg.Endpoints)
	s := &Server{cfg: cfg, log: cfg.Logger}
	if cfg.Handler != nil {
		s.root = NewRoot(cfg.Handler)
	}
	var err error
	if s.eng, err = newHTTPEngine(cfg); err != nil {
		return nil, err
	}
	// One clone per configuration: Go keeps a tls.Config's session-ticket
	// keys in it, so endpoints given the same one (a listener on IPv4 and
	// one on IPv6) keep sharing them, and a session resumes on either.
	clones := map[*tls.Config]*tls.Config{}
	for i, ep := range s.cfg.Endpoints {
		if ep.TLS != nil && len(ep.TLS.NextProtos) == 0 {
			c := clones[ep.TLS]
			if c == nil {
				c = ep.TLS.Clone()
				c.NextProtos = []string{"h2", "http/1.1"} // what ALPN offers, in the server's order
				clones[ep.TLS] = c
			}
			ep.TLS = c
			s.cfg.Endpoints[i] = ep
		}
		h := ep.Handler
		if h == nil {
			if s.root == nil {
				return nil, fmt.Errorf("server: endpoint %d (%s) has no handler, and there is no root", i, ep.Listen.Addr)
			}
			h = s.root
		}
		ch, err := s.dispatcher(ep, h)
		if err != nil {
			return nil, fmt.Errorf("server: endpoint %d (%s): %w", i, ep.Listen.Addr, err)
		}
		s.conns = append(s.conns, ch)
	}
	return s, nil
}

// Swap makes h the root for every request from now on, on every endpoint
// without a handler of its own, and returns a channel that closes once the
// requests that were in the old root have finished (see Root).
func (s *Server) Swap(h web.Handler) <-chan struct{} {
	if s.root == nil {
		s.root = NewRoot(h) // no endpoint serves it; nothing to drain
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.root.Swap(h)
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
	for i, ep := range s.cfg.Endpoints {
		lc := ep.Listen
		if s.conns[i].plainHTTP() {
			lc = s.eng.listenConfig(lc)
		}
		l, err := listen.Listen(ctx, lc)
		if err != nil {
			for _, o := range ls {
				o.Close()
			}
			return err
		}
		if ep.TLS != nil && ep.Proxy == nil {
			l = tls.NewListener(l, ep.TLS) // with Proxy, the dispatcher starts TLS after the header
		}
		ls = append(ls, l)
	}
	s.listeners = ls
	s.errc = make(chan error, len(ls))
	for i, l := range ls {
		ch := s.conns[i]
		s.log.Info("listening", "addr", displayAddr(l), "protocol", ch.protocol(), "engine", s.eng.name(l, ch))
		go func() { s.errc <- s.eng.Serve(l, ch) }()
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
	s.log.Info("shutting down", "open_connections", s.eng.Conns(), "grace", s.cfg.ShutdownGrace)
	ctx := context.Background()
	if s.cfg.ShutdownGrace > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownGrace)
		defer cancel()
	}
	// HTTP/2 connections are the engine's too, but only net/http can end
	// them gracefully (GOAWAY, then close once their streams are done): it
	// shuts down beside the engine, under the same deadline. When the grace
	// runs out, the engine closes every connection, HTTP/2 ones included.
	var wg sync.WaitGroup
	for _, h := range s.h2 {
		wg.Go(func() { h.Shutdown(ctx) })
	}
	err := s.eng.Shutdown(ctx)
	wg.Wait()
	for _, h := range s.h2 {
		h.Close()
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
	for _, h := range s.h2 {
		h.Close()
	}
	return err
}
