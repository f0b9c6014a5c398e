package server

import (
	"crypto/x509"

	"gatehouse/backend/proxy"
	"gatehouse/config"
	"gatehouse/tlsconf"
	"gatehouse/upstream"
	"gatehouse/web"
)

// proxy builds a proxy route: an HTTP upstream, by address or by the name
// of an [[upstream]], behind the route's buffering (an application, as
// nginx buffers proxied requests and responses).
func (b *Built) proxy(rc *routeCtx) (web.Handler, error) {
	x := rc.r.Proxy
	pp, _ := config.ParseProxyPass(x.Pass) // validated
	c := proxy.Config{
		Host: x.Host, Trust: b.trust, Forwarded: x.Forwarded, Via: x.Via, Upgrade: x.Upgrade,
		ReadTimeout: dur(x.ReadTimeout, 0), WriteTimeout: dur(x.WriteTimeout, 0), TunnelIdle: dur(x.TunnelIdle, 0),
		RetryWindow: dur(x.RetryWindow, 0), Logger: b.Logger,
	}
	if x.MaxResponseHeader != nil {
		c.MaxResponseHeader = int(x.MaxResponseHeader.Bytes)
	}
	if x.Retries != nil {
		c.Retries = *x.Retries
		if c.Retries == 0 {
			c.Retries = -1 // retries = 0: never
		}
	}
	name := pp.Upstream
	if name == "" {
		name = pp.Addr
	}
	var err error
	if c.Pool, c.Upstream, err = b.pass(name); err != nil {
		return nil, err // its [[upstream]]'s problem, reported already
	}
	if pp.TLS {
		c.Upstream.Dial = tlsconf.UpstreamDial("", nil)
	}
	h, err := proxy.New(c)
	if perr := passProblem("proxy", err); perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, &routeProblem{"proxy", "", err}
	}
	b.closers = append(b.closers, h.Close)
	return h, nil
}

// httpUpstream completes the pool of an [[upstream]] of kind http or https:
// the proxy's connect and idle timeouts and connection bounds where the
// table sets none, and TLS for https.
func httpUpstream(u config.Upstream, c *upstream.Config) error {
	proxy.PoolDefaults(c)
	if u.Kind == "https" {
		roots, err := loadCA(u.TLSCA)
		if err != nil {
			return err
		}
		c.Dial = tlsconf.UpstreamDial(u.TLSServerName, roots)
	}
	return nil
}

// loadCA reads an upstream's tls_ca; "" is the system's roots (nil).
func loadCA(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	return tlsconf.LoadCA(file)
}
