package server

import (
	"net/netip"

	"gatehouse/config"
	"gatehouse/engine"
	"gatehouse/internal/sockaddr"
)

// proxyProtocol maps a listener's proxy_protocol keys onto
// engine.ProxyProtocol.
func proxyProtocol(l config.Listen) *engine.ProxyProtocol {
	pp := &engine.ProxyProtocol{Timeout: dur(l.ProxyTimeout, 0)}
	for _, a := range l.ProxyFrom {
		p, _ := sockaddr.ParsePrefix(a) // validated
		pp.Trusted = append(pp.Trusted, p)
	}
	if l.ProxyFrom != nil && len(l.ProxyFrom) == 0 {
		pp.Trusted = []netip.Prefix{} // validated as a problem; kept strict
	}
	return pp
}
