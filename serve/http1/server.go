// Package http1 serves HTTP/1.0 and HTTP/1.1 connections (RFC 9112) with
// web.Handlers: keep-alive, pipelining (answered in order), request bodies streamed
// to the handler (Content-Length or chunked), 100-continue, responses framed by
// Content-Length when known and chunked otherwise, limits and timeouts.
//
// The codec is gatehouse/proto/http1; this package owns the connection state
// machine, buffers, deadlines and the ResponseWriter.
package http1

import (
	"sync"

	"gatehouse/engine"
	"gatehouse/web"
)

// Server serves HTTP/1.x on connections handed to it by an engine.
type Server struct {
	handler web.Handler
	cfg     Config

	statusLines [600][]byte
	serverField []byte // "Server: gatehouse\r\n", or empty
}

var _ engine.Handler = (*Server)(nil)

// New returns a server running h with cfg.
func New(h web.Handler, cfg Config) *Server {
	s := &Server{handler: h, cfg: cfg.withDefaults()}
	for code := 100; code < 600; code++ {
		if text := web.StatusText(code); text != "" {
			s.statusLines[code] = appendStatusLine(nil, code, text)
		}
	}
	if s.cfg.ServerName != "-" {
		s.serverField = []byte("Server: " + s.cfg.ServerName + "\r\n")
	}
	return s
}

// Config returns the server's configuration with defaults applied.
func (s *Server) Config() Config { return s.cfg }

var connPool = sync.Pool{New: func() any { return newConn() }}

// ServeConn serves one connection until it closes. It implements engine.Handler.
func (s *Server) ServeConn(ec *engine.Conn) {
	c := connPool.Get().(*conn)
	// The server's dispatcher has done a TLS endpoint's handshake already
	// (to choose the protocol by ALPN); a TLS connection served without it
	// is handshaken here, within the head's timeout.
	if err := ec.HandshakeTLS(s.cfg.ReadHeaderTimeout); err != nil {
		s.cfg.Logger.Debug("tls handshake failed", "remote", ec.Remote, "err", err)
		ec.NetConn.Close()
		connPool.Put(c)
		return
	}
	c.start(s, ec)
	c.serve()
	c.end()
	connPool.Put(c)
}
