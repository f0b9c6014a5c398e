package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"gatehouse/engine"
	"gatehouse/middleware/acme"
	"gatehouse/serve/h2"
	shttp "gatehouse/serve/http1"
	suwsgi "gatehouse/serve/uwsgi"
	"gatehouse/web"
	"gatehouse/web/nethttp"
)

// acmeALPN is the protocol of TLS-ALPN-01 validations (middleware/acme's
// ALPNProto), offered on listeners whose certificates come from ACME.
const acmeALPN = acme.ALPNProto

// connHandler serves the connections of one endpoint: it decides, per
// accepted connection, what serves it.
type connHandler interface {
	engine.Handler
	protocol() string // for the log
	// plainHTTP reports whether the endpoint is HTTP without TLS, which the
	// epoll engine can run; event then returns its event handler.
	plainHTTP() bool
	event() engine.EventHandler
	// proxy is the endpoint's PROXY protocol (nil: none), which the epoll
	// engine reads itself.
	proxy() *engine.ProxyProtocol
}

// dispatcher is the connection dispatcher of an HTTP endpoint: plain HTTP/1.1
// straight to serve/http1; on a TLS endpoint the handshake first, then the
// protocol ALPN chose: "h2" to Go's own HTTP/2 server (serve/h2), anything
// else ("http/1.1", or no ALPN) to serve/http1. On an h2c endpoint, a plain
// connection that begins with the HTTP/2 preface goes to serve/h2, one that
// begins with an HTTP/1.x request line to serve/http1, and one that begins
// with neither is closed (see h2.Sniff).
type dispatcher struct {
	http             *shttp.Server
	h2               *h2.Server // nil: no HTTP/2 on this endpoint
	tls              bool
	h2c              bool
	handshakeTimeout time.Duration // Endpoint.HandshakeTimeout
	timeout          time.Duration // the head's: for the h2c sniff
	maxLine          int           // the request line's limit, for the h2c sniff
	log              *slog.Logger
	pp               *engine.ProxyProtocol // Endpoint.Proxy
	tlsConfig        *tls.Config           // with pp: TLS starts here, after the header
}

func (d *dispatcher) ServeConn(c *engine.Conn) {
	if d.pp != nil {
		if _, err := d.pp.Accept(c); err != nil {
			d.log.Warn("proxy protocol: connection refused", "remote", c.Remote, "reason", err)
			c.NetConn.Close()
			return
		}
		if d.tls {
			c.NetConn = tls.Server(c.NetConn, d.tlsConfig)
		}
	}
	switch {
	case d.tls:
		if !handshake(c, d.handshakeTimeout, d.log) {
			return
		}
		if c.TLS.NegotiatedProtocol == acmeALPN {
			// A TLS-ALPN-01 validation (RFC 8737): the handshake, with the
			// challenge certificate, was the whole exchange.
			c.NetConn.Close()
			return
		}
		if d.h2 != nil && c.TLS.NegotiatedProtocol == "h2" {
			d.h2.ServeConn(c)
			return
		}
	case d.h2c:
		// The wait for the first bytes is HTTP/1.1's wait for a first
		// request: idle (a shutdown closes the connection at once), within
		// the head's timeout, and a connection that sends nothing is
		// closed without a word.
		if !c.SetIdle() {
			c.NetConn.Close()
			return
		}
		got, err := h2.Sniff(c.NetConn, d.timeout, d.maxLine)
		if !c.SetActive() {
			return // closed by a shutdown while it waited
		}
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, io.EOF) {
				d.log.Debug("h2c sniff failed", "remote", c.Remote, "err", err)
			}
			c.NetConn.Close()
			return
		}
		switch got {
		case h2.SniffedHTTP2:
			d.h2.ServeConn(c)
			return
		case h2.SniffedNeither:
			// Neither protocol: an invalid preface (RFC 9113 §3.4) ends the
			// connection without a reply.
			d.log.Debug("h2c endpoint: neither HTTP/1.x nor the HTTP/2 preface; closed", "remote", c.Remote)
			c.NetConn.Close()
			return
		}
	}
	d.http.ServeConn(c)
}

func (d *dispatcher) protocol() string {
	switch {
	case d.tls:
		return "https"
	case d.h2c:
		return "http+h2c"
	}
	return ProtocolHTTP
}

// plainHTTP: an h2c endpoint runs on the goroutine engine, where the
// dispatcher can wait for a connection's first bytes and hand it on.
func (d *dispatcher) plainHTTP() bool              { return !d.tls && !d.h2c }
func (d *dispatcher) event() engine.EventHandler   { return d.http }
func (d *dispatcher) proxy() *engine.ProxyProtocol { return d.pp }

// uwsgiHandler serves a uwsgi endpoint (goroutine engine).
type uwsgiHandler struct{ *suwsgi.Server }

func (uwsgiHandler) protocol() string             { return ProtocolUWSGI }
func (uwsgiHandler) plainHTTP() bool              { return false }
func (uwsgiHandler) event() engine.EventHandler   { return nil }
func (uwsgiHandler) proxy() *engine.ProxyProtocol { return nil }

var _ engine.Handler = uwsgiHandler{}

// dispatcher builds the connection handler of an endpoint serving h.
func (s *Server) dispatcher(ep Endpoint, h web.Handler) (connHandler, error) {
	switch ep.Protocol {
	case "", ProtocolHTTP:
		c := s.cfg.HTTP
		if ep.Scheme != "" {
			c.Scheme = ep.Scheme
		}
		offersH2 := false
		if ep.TLS != nil {
			c.Scheme = "https"
			for _, p := range ep.TLS.NextProtos {
				switch p {
				case "h2":
					offersH2 = true
				case "http/1.1", acmeALPN:
				default:
					return nil, fmt.Errorf("ALPN protocol %q is not served (only h2, http/1.1 and acme-tls/1)", p)
				}
			}
			if offersH2 && !h2CipherSuites(ep.TLS) {
				return nil, errors.New("h2 over TLS 1.2 needs TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or " +
					"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 among the cipher suites (RFC 9113 §9.2.2)")
			}
		}
		if ep.H2C {
			switch {
			case ep.TLS != nil:
				return nil, errors.New("h2c is HTTP/2 without TLS; a TLS endpoint offers h2 by ALPN")
			case !h2.SniffSupported:
				return nil, errors.New("h2c needs MSG_PEEK, which this system lacks")
			}
		}
		h1 := shttp.New(h, c)
		d := &dispatcher{http: h1, tls: ep.TLS != nil, h2c: ep.H2C, log: c.Logger, handshakeTimeout: ep.HandshakeTimeout,
			timeout: h1.Config().ReadHeaderTimeout, maxLine: h1.Config().Limits.MaxRequestLine,
			pp: ep.Proxy, tlsConfig: ep.TLS}
		if offersH2 || ep.H2C {
			d.h2 = s.newH2(h, h1.Config(), ep.H2C)
		}
		return d, nil
	case ProtocolUWSGI:
		if ep.TLS != nil {
			return nil, fmt.Errorf("a uwsgi endpoint does not take TLS")
		}
		if ep.H2C {
			return nil, fmt.Errorf("a uwsgi endpoint does not take h2c")
		}
		if ep.Proxy != nil {
			return nil, fmt.Errorf("a uwsgi endpoint does not take the PROXY protocol (its peer sends REMOTE_ADDR)")
		}
		c := s.cfg.UWSGI
		c.Allow = ep.Allow
		return uwsgiHandler{suwsgi.New(h, c)}, nil
	}
	return nil, fmt.Errorf("unknown protocol %q (want http or uwsgi)", ep.Protocol)
}

// newH2 builds the HTTP/2 server of an endpoint whose HTTP/1.1 server has
// the configuration c (defaults applied): what HTTP/2 does not set of its
// own, and the way each request is served, are HTTP/1.1's.
func (s *Server) newH2(h web.Handler, c shttp.Config, unencrypted bool) *h2.Server {
	hc := s.cfg.HTTP2
	hc.Unencrypted = unencrypted
	if hc.MaxHeaderBytes == 0 {
		hc.MaxHeaderBytes = c.Limits.MaxHeaderBytes
	}
	if hc.IdleTimeout == 0 {
		hc.IdleTimeout = c.IdleTimeout
	}
	if hc.WriteTimeout == 0 {
		hc.WriteTimeout = c.WriteTimeout
	}
	hc.Request = nethttp.Config{
		Scheme: c.Scheme, ServerName: c.ServerName, Limits: c.Limits, MaxBodyBytes: c.MaxBodyBytes,
		BodyReadTimeout: c.BodyReadTimeout, Logger: c.Logger, AccessLog: c.AccessLog,
	}
	srv := h2.New(h, hc)
	s.h2 = append(s.h2, srv)
	return srv
}

// h2CipherSuites reports whether a TLS configuration that offers h2 lets
// HTTP/2 run: over TLS 1.2, RFC 9113 §9.2.2 requires a suite that
// configured lists might lack, and net/http answers INADEQUATE_SECURITY to
// a connection without it. TLS 1.3 suites are always fine.
func h2CipherSuites(c *tls.Config) bool {
	if c.CipherSuites == nil || c.MinVersion >= tls.VersionTLS13 {
		return true
	}
	for _, id := range c.CipherSuites {
		if id == tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 || id == tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 {
			return true
		}
	}
	return false
}
