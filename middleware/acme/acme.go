// Package acme obtains and renews TLS certificates from an ACME certificate
// authority (RFC 8555: Let's Encrypt, or any other) for the names gatehouse
// serves, with golang.org/x/crypto/acme/autocert behind a small interface of
// its own: GetCertificate for the TLS listeners, Middleware for the HTTP-01
// challenge (the front chain, before any site or redirect), Manages, and
// Prefetch, which orders and renews in the background so that no client
// waits on an order.
//
// Certificates are issued only for the configured names. A certificate for
// any name a client sends in SNI would let anyone burn the CA's rate limits
// for this account and fill the disk (autocert's own documentation calls it
// an attack); unknown names fail before any ACME traffic.
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	xacme "golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"gatehouse/web"
	"gatehouse/web/nethttp"
)

// DefaultCA is Let's Encrypt's production directory.
const DefaultCA = xacme.LetsEncryptURL

// ALPNProto is the protocol a TLS-ALPN-01 validation offers (RFC 8737): a
// TLS listener must list it in NextProtos, and close a connection that
// negotiated it once the handshake is done (no HTTP is spoken).
const ALPNProto = xacme.ALPNProto

// ChallengePrefix is the path of HTTP-01 challenges (RFC 8555 §8.3).
const ChallengePrefix = "/.well-known/acme-challenge/"

// Config describes the certificates to obtain.
type Config struct {
	// Domains are the names certificates are obtained for; no other.
	// Required.
	Domains []string
	// Email is the account's contact. Default: none.
	Email string
	// CA is the ACME directory URL. Default DefaultCA.
	CA string
	// CARoots, when set, are the only roots trusted for the CA's own HTTPS
	// (a private or test CA). Default: the system's.
	CARoots *x509.CertPool
	// CacheDir keeps the account key and the certificates, as files of
	// mode 0600 in a directory of mode 0700. Required: without it every
	// start would order again.
	CacheDir string
	// RenewBefore is how long before expiry a certificate is renewed.
	// Default: the lesser of 30 days and a third of its lifetime.
	RenewBefore time.Duration
	// Logger receives orders, renewals and failures. nil: slog.Default().
	Logger *slog.Logger
}

// Manager obtains, caches and renews the certificates of one Config.
type Manager struct {
	m       *autocert.Manager
	domains map[string]bool
	http01  http.Handler
	log     *slog.Logger
}

// New checks cfg and returns its Manager. Nothing is ordered until
// Prefetch or a handshake asks.
func New(cfg Config) (*Manager, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("acme: no domains")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("acme: no cache directory")
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: cache directory: %w", err)
	}
	if err := os.Chmod(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: cache directory: %w", err)
	}
	if cfg.CA == "" {
		cfg.CA = DefaultCA
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	domains := map[string]bool{}
	for _, d := range cfg.Domains {
		d = normalize(d)
		if d == "" || strings.Contains(d, "*") {
			return nil, fmt.Errorf("acme: %q: a name, not a wildcard (those need DNS-01)", d)
		}
		domains[d] = true
	}
	client := &xacme.Client{DirectoryURL: cfg.CA, UserAgent: "gatehouse"}
	if cfg.CARoots != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: cfg.CARoots}
		client.HTTPClient = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	mg := &Manager{domains: domains, log: cfg.Logger}
	mg.m = &autocert.Manager{
		Prompt:      autocert.AcceptTOS,
		Cache:       autocert.DirCache(cfg.CacheDir),
		HostPolicy:  mg.policy,
		RenewBefore: cfg.RenewBefore,
		Client:      client,
		Email:       cfg.Email,
	}
	// Asking autocert for its handler is what turns HTTP-01 on beside
	// TLS-ALPN-01; unknown paths under the prefix are 404, never a redirect.
	mg.http01 = mg.m.HTTPHandler(http.NotFoundHandler())
	return mg, nil
}

func normalize(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// policy refuses every name but the configured ones, before any order. The
// HTTP-01 handler asks it with the request's Host, which may carry a port.
func (mg *Manager) policy(_ context.Context, host string) error {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if !mg.domains[normalize(host)] {
		return fmt.Errorf("acme: %q is not a configured name", host)
	}
	return nil
}

// Manages reports whether name is one of the Manager's.
func (mg *Manager) Manages(name string) bool { return mg.domains[normalize(name)] }

// GetCertificate is tls.Config.GetCertificate for the managed names: the
// cached certificate, or one ordered now (the handshake waits), or the
// TLS-ALPN-01 challenge certificate for a validation's hello.
func (mg *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return mg.m.GetCertificate(hello)
}

// Middleware answers HTTP-01 challenges (GET ChallengePrefix+token) for the
// managed names and passes everything else on. It belongs in front of site
// routing and of any redirect to https: the CA asks over plain HTTP.
func (mg *Manager) Middleware() web.Middleware {
	challenge := nethttp.Handler(mg.http01)
	return func(next web.Handler) web.Handler {
		return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			if strings.HasPrefix(string(r.RawPath()), ChallengePrefix) {
				return challenge.ServeHTTP(w, r)
			}
			return next.ServeHTTP(w, r)
		})
	}
}

// Prefetch obtains a certificate for every managed name now, then checks
// again every interval (autocert renews what is due) until ctx ends. A name
// that fails is logged and retried at the next round; the others go on.
func (mg *Manager) Prefetch(ctx context.Context, interval time.Duration) {
	for {
		for name := range mg.domains {
			if ctx.Err() != nil {
				return
			}
			start := time.Now()
			c, err := mg.m.GetCertificate(&tls.ClientHelloInfo{ServerName: name, CipherSuites: ecdsaSuites})
			if err != nil {
				mg.log.Error("acme: no certificate", "name", name, "err", err)
				continue
			}
			if c.Leaf != nil {
				mg.log.Info("acme: certificate ready", "name", name, "not_after", c.Leaf.NotAfter,
					"took", time.Since(start).Round(time.Millisecond))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// ecdsaSuites make a prefetch hello one that takes an ECDSA certificate, as
// every modern client's does.
var ecdsaSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
