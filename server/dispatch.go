package server

import (
	"fmt"
	"log/slog"
	"time"

	"gatehouse/engine"
	shttp "gatehouse/serve/http1"
	suwsgi "gatehouse/serve/uwsgi"
	"gatehouse/web"
)

// connHandler serves the connections of one endpoint: it decides, per
// accepted connection, what serves it.
type connHandler interface {
	engine.Handler
	protocol() string // for the log
	// plainHTTP reports whether the endpoint is HTTP without TLS, which the
	// epoll engine can run; event then returns its event handler.
	plainHTTP() bool
	event() engine.EventHandler
}

// dispatcher is the connection dispatcher of an HTTP endpoint: plain HTTP/1.1
// straight to serve/http1; on a TLS endpoint the handshake first, then the
// protocol ALPN chose (HTTP/2 will be handed to Go's own server here).
type dispatcher struct {
	http             *shttp.Server
	tls              bool
	handshakeTimeout time.Duration // Endpoint.HandshakeTimeout
	log              *slog.Logger
}

func (d *dispatcher) ServeConn(c *engine.Conn) {
	if d.tls {
		if !handshake(c, d.handshakeTimeout, d.log) {
			return
		}
		// c.TLS.NegotiatedProtocol: "" or "http/1.1" today, the only
		// protocols a TLS endpoint offers.
	}
	d.http.ServeConn(c)
}

func (d *dispatcher) protocol() string {
	if d.tls {
		return "https"
	}
	return ProtocolHTTP
}

func (d *dispatcher) plainHTTP() bool            { return !d.tls }
func (d *dispatcher) event() engine.EventHandler { return d.http }

// uwsgiHandler serves a uwsgi endpoint (goroutine engine).
type uwsgiHandler struct{ *suwsgi.Server }

func (uwsgiHandler) protocol() string           { return ProtocolUWSGI }
func (uwsgiHandler) plainHTTP() bool            { return false }
func (uwsgiHandler) event() engine.EventHandler { return nil }

var _ engine.Handler = uwsgiHandler{}

// dispatcher builds the connection handler of an endpoint serving h.
func (s *Server) dispatcher(ep Endpoint, h web.Handler) (connHandler, error) {
	switch ep.Protocol {
	case "", ProtocolHTTP:
		c := s.cfg.HTTP
		if ep.Scheme != "" {
			c.Scheme = ep.Scheme
		}
		if ep.TLS != nil {
			c.Scheme = "https"
			for _, p := range ep.TLS.NextProtos {
				if p != "http/1.1" {
					return nil, fmt.Errorf("ALPN protocol %q is not served (only http/1.1)", p)
				}
			}
		}
		return &dispatcher{http: shttp.New(h, c), tls: ep.TLS != nil, handshakeTimeout: ep.HandshakeTimeout, log: c.Logger}, nil
	case ProtocolUWSGI:
		if ep.TLS != nil {
			return nil, fmt.Errorf("a uwsgi endpoint does not take TLS")
		}
		c := s.cfg.UWSGI
		c.Allow = ep.Allow
		return uwsgiHandler{suwsgi.New(h, c)}, nil
	}
	return nil, fmt.Errorf("unknown protocol %q (want http or uwsgi)", ep.Protocol)
}
