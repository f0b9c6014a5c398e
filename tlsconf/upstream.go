package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
)

// UpstreamDial returns a dial function (for upstream.Config.Dial) that
// speaks TLS to the server it connects to, as a client: HTTP/1.1 by ALPN,
// TLS 1.2 or later, and the server's certificate verified against roots
// (nil: the system's) for serverName ("": the host of each address; a Unix
// socket's server needs one). Verification cannot be turned off here: a
// proxy that believes any certificate gives the path to whoever sits on it.
func UpstreamDial(serverName string, roots *x509.CertPool) func(ctx context.Context, network, address string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		name := serverName
		if name == "" {
			if network == "unix" {
				return nil, errors.New("tls: an https upstream on a Unix socket needs tls_server_name")
			}
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			name = host
		}
		raw, err := d.DialContext(ctx, network, address)
		if err != nil {
			return nil, err
		}
		c := tls.Client(raw, &tls.Config{
			ServerName: name, RootCAs: roots, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12,
		})
		if err := c.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", address, err)
		}
		return c, nil
	}
}

// LoadCA reads a PEM file of CA certificates, for UpstreamDial.
func LoadCA(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate in it", file)
	}
	return p, nil
}
