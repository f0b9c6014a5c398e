package h2

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/engine"
	"gatehouse/web"
	"gatehouse/web/nethttp"
)

// Server serves HTTP/2 on the connections handed to it, through one
// net/http.Server of its own.
//
// A connection stays the engine's while net/http serves it: ServeConn
// returns only when net/http has closed it, so the engine counts it among
// its open connections (MaxConns, the shutdown's wait) as any other.
type Server struct {
	cfg     Config
	hs      *http.Server
	ln      *handoff
	conns   sync.Map // net.Conn handed over -> chan struct{}, closed when net/http is done with it
	closing atomic.Bool
	start   sync.Once
	served  chan struct{} // closed when hs.Serve returns (if it ran)
	started atomic.Bool
}

var _ engine.Handler = (*Server)(nil)

// New returns a server running h with cfg.
func New(h web.Handler, cfg Config) *Server {
	cfg = cfg.withDefaults()
	logger := cfg.Request.Logger
	if logger == nil {
		logger = slog.Default()
		cfg.Request.Logger = logger
	}
	s := &Server{cfg: cfg, ln: newHandoff(), served: make(chan struct{})}
	var p http.Protocols
	p.SetHTTP2(!cfg.Unencrypted)
	p.SetUnencryptedHTTP2(cfg.Unencrypted)
	s.hs = &http.Server{
		Handler:   nethttp.HTTPHandler(h, cfg.Request),
		Protocols: &p,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: cfg.MaxConcurrentStreams,
			MaxReadFrameSize:     cfg.MaxReadFrameSize,
			WriteByteTimeout:     positive(cfg.WriteTimeout),
		},
		MaxHeaderBytes: cfg.MaxHeaderBytes,
		IdleTimeout:    positive(cfg.IdleTimeout),
		// net/http's lines are a connection's protocol errors (a bogus
		// preface, a peer that breaks the protocol): debug, as HTTP/1.1's
		// failed handshakes are. Handlers' failures are logged by the
		// adapter, which recovers their panics itself.
		ErrorLog:  slog.NewLogLogger(logger.With("protocol", "h2").Handler(), slog.LevelDebug),
		ConnState: s.connState,
	}
	return s
}

func positive(d time.Duration) time.Duration { return max(d, 0) }

// Config returns the server's configuration with defaults applied.
func (s *Server) Config() Config { return s.cfg }

// ServeConn hands c to net/http and waits until net/http has closed it. c
// is a TLS connection whose handshake is done and chose "h2", or (with
// Config.Unencrypted) a plain connection whose first bytes, still unread,
// are the client preface. It implements engine.Handler.
func (s *Server) ServeConn(c *engine.Conn) {
	nc := c.NetConn
	// Deadlines the dispatcher set (the preface's wait) are not net/http's:
	// from here its own timeouts rule the connection.
	nc.SetDeadline(time.Time{})
	done := make(chan struct{})
	s.conns.Store(nc, done)
	if !s.closing.Load() {
		s.start.Do(func() {
			s.started.Store(true)
			go func() {
				s.hs.Serve(s.ln)
				close(s.served)
			}()
		})
	}
	if s.closing.Load() || !s.ln.push(nc) {
		// Shutting down: refused as the engine refuses connections then.
		s.conns.Delete(nc)
		nc.Close()
		return
	}
	<-done
}

// connState learns from net/http when a connection handed over is closed.
func (s *Server) connState(nc net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	if done, ok := s.conns.LoadAndDelete(nc); ok {
		close(done.(chan struct{}))
	}
}

// Shutdown stops taking connections and ends each one gracefully: GOAWAY,
// then close once its streams have finished. It returns when they are all
// closed, or with ctx's error when ctx ends first (the caller then closes
// what is left: see Close).
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	err := s.hs.Shutdown(ctx)
	s.ln.Close() // when Serve never ran, Shutdown did not know it
	s.waitServe()
	return err
}

// Close closes every connection at once.
func (s *Server) Close() error {
	s.closing.Store(true)
	err := s.hs.Close()
	s.ln.Close()
	s.waitServe()
	return err
}

func (s *Server) waitServe() {
	if s.started.Load() {
		<-s.served
	}
}
