package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"gatehouse/config"
	"gatehouse/middleware/acme"
	"gatehouse/tlsconf"
	"gatehouse/web"
)

// acmeRenewCheck is how often the names' certificates are looked at (and
// renewed when due) after the first order.
const acmeRenewCheck = 12 * time.Hour

// DefaultACMECacheDir is where certificates from ACME are kept when
// [acme] cache_dir is not set: /var/lib/gatehouse/acme for root, the user's
// cache directory's gatehouse/acme otherwise.
func DefaultACMECacheDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/gatehouse/acme"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gatehouse", "acme")
	}
	return filepath.Join(os.TempDir(), "gatehouse-acme")
}

// acmeManager builds the [acme] certificate manager when a listener takes
// its certificates, and starts ordering them in the background (not for
// gatehouse check, which only checks the CA root file).
func (b *Built) acmeManager(cfg *config.Config, opt BuildOptions, problem func(path, msg, hint string)) {
	if !cfg.UsesACME() {
		return
	}
	a := cfg.ACME
	var roots *x509.CertPool
	if a.CARoot != "" {
		pem, err := os.ReadFile(a.CARoot)
		if err == nil {
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(pem) {
				err = errors.New("no PEM certificate in it")
			}
		}
		if err != nil {
			problem("acme.ca_root", fmt.Sprintf("acme.ca_root %q: %v", a.CARoot, err), "give the PEM file of the CA's root certificate")
			return
		}
	}
	if opt.Check {
		return
	}
	dir := a.CacheDir
	if dir == "" {
		dir = DefaultACMECacheDir()
	}
	mg, err := acme.New(acme.Config{Domains: cfg.ACMEDomains(), Email: a.Email, CA: a.CA, CARoots: roots,
		CacheDir: dir, Logger: b.Logger})
	if err != nil {
		problem("acme", err.Error(), "check acme.cache_dir: gatehouse keeps its account key and certificates there")
		return
	}
	b.acme = mg
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		mg.Prefetch(ctx, acmeRenewCheck)
	}()
	b.closers = append(b.closers, func() error { cancel(); <-done; return nil })
}

// acmeTLS is a listener's TLS configuration offering TLS-ALPN-01 beside h2
// and http/1.1: one clone per tlsconf.Certs, which shares its session-ticket
// keys.
func (b *Built) acmeTLS(c *tlsconf.Certs) *tls.Config {
	if cl := b.acmeConfigs[c]; cl != nil {
		return cl
	}
	cl := c.TLSConfig().Clone()
	cl.NextProtos = []string{"h2", "http/1.1", acme.ALPNProto}
	if b.acmeConfigs == nil {
		b.acmeConfigs = map[*tlsconf.Certs]*tls.Config{}
	}
	b.acmeConfigs[c] = cl
	return cl
}

// acmeChallenge answers the CA's HTTP-01 requests and 404 to anything else
// under the challenge path (the plain listener's redirect passes them here).
func (b *Built) acmeChallenge() web.Handler {
	return b.acme.Middleware()(web.HandlerFunc(func(web.ResponseWriter, *web.Request) error { return web.ErrNotFound }))
}

// checkIssuer stands for the ACME manager where there is none to run
// (gatehouse check builds without ordering anything).
type checkIssuer struct{}

func (checkIssuer) Manages(string) bool { return false }
func (checkIssuer) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return nil, errors.New("acme: not running")
}
