package engine

import (
	"context"
	"crypto/tls"
	"time"
)

// HandshakeTLS completes the TLS handshake of a connection from a TLS
// listener within timeout (0: none, but the connection's context still ends
// it), and records the result in c.TLS, where the protocol and ALPN's choice
// (c.TLS.NegotiatedProtocol) read it. A connection that is not TLS, or whose
// handshake is done, returns nil at once. A silent or slow client holds
// nothing past the timeout.
func (c *Conn) HandshakeTLS(timeout time.Duration) error {
	tc, ok := c.NetConn.(*tls.Conn)
	if !ok || c.TLS != nil {
		return nil
	}
	ctx := c.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	st := tc.ConnectionState()
	c.TLS = &st
	return nil
}
