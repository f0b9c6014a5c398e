package server

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"gatehouse/engine"
	"gatehouse/internal/httpspec"
)

// DefaultHandshakeTimeout bounds a TLS handshake when the endpoint sets no
// bound of its own: enough for a slow mobile link, short enough that a
// client that connects and says nothing holds a goroutine and a socket for
// seconds, not for the head's timeout on top.
const DefaultHandshakeTimeout = 10 * time.Second

// lingerTimeout bounds how long a connection refused before TLS reads what
// the client still sends, so that its close does not reset the connection
// before the client has read the answer.
const lingerTimeout = time.Second

// handshake completes a TLS connection's handshake within timeout
// (Endpoint.HandshakeTimeout) and reports whether the connection can be
// served; when it cannot, it has been closed. A client that sent plain
// HTTP to the TLS port gets the answer net/http gives it, "400 Bad Request,
// Client sent an HTTP request to an HTTPS server." (the 5 bytes read as a
// TLS record header look like a request line), before the close.
// Other failed handshakes are logged at debug level only: scanners and
// clients that give up make many of them, and a line each would drown
// the log.
func handshake(c *engine.Conn, timeout time.Duration, log *slog.Logger) bool {
	switch {
	case timeout == 0:
		timeout = DefaultHandshakeTimeout
	case timeout < 0:
		timeout = 0 // none
	}
	err := c.HandshakeTLS(timeout)
	if err == nil {
		return true
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) && rh.Conn != nil && looksLikeHTTP(rh.RecordHeader) {
		log.Info("request refused", "remote", c.Remote, "status", 400, "reason", "client sent an HTTP request to an HTTPS server")
		refusePlainHTTP(rh.Conn)
		return false
	}
	log.Debug("tls handshake failed", "remote", c.Remote, "err", err)
	c.NetConn.Close()
	return false
}

// looksLikeHTTP reports whether the first 5 bytes of a connection are the
// start of a request line: a method gatehouse knows and a space, or five
// capital letters of a longer method ("OPTIO"). A TLS record never starts
// so: its first byte is a content type, 20 to 24.
func looksLikeHTTP(hdr [5]byte) bool {
	s := string(hdr[:])
	if i := strings.IndexByte(s, ' '); i > 0 {
		return httpspec.IsMethod(s[:i])
	}
	for _, c := range hdr {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// refusePlainHTTP answers on the connection under TLS, closes its sending
// side and reads what the client still sends for at most lingerTimeout
// before closing, as nginx's lingering close does: closing at once with
// the rest of the request unread would reset the connection, and the
// client could lose the answer.
func refusePlainHTTP(nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(lingerTimeout))
	if _, err := io.WriteString(nc, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"); err != nil {
		return
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
	}
}
