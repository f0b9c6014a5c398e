package config

import (
	"fmt"

	"gatehouse/internal/sockaddr"
)

// validateProxy checks a listener's PROXY protocol keys (Listen.ProxyProtocol).
func (c *Config) validateProxy(p string, l Listen, bad func(path, msg, hint string)) {
	if !l.ProxyProtocol {
		if l.ProxyFrom != nil || l.ProxyTimeout != nil {
			bad(p+".proxy_from", "listen.proxy_from and proxy_timeout apply with proxy_protocol = true", "add proxy_protocol = true, or remove them")
		}
		return
	}
	if l.Protocol == "uwsgi" {
		bad(p+".proxy_protocol", "listen.proxy_protocol applies to HTTP listeners", "a uwsgi peer sends the client's address as REMOTE_ADDR")
	}
	for k, a := range l.ProxyFrom {
		if _, err := sockaddr.ParsePrefix(a); err != nil {
			bad(fmt.Sprintf("%s.proxy_from[%d]", p, k), fmt.Sprintf("listen.proxy_from %q is not an address or prefix", a), "write the load balancers' addresses: \"10.0.0.0/8\" or \"192.0.2.7\"")
		}
	}
	if l.ProxyFrom != nil && len(l.ProxyFrom) == 0 {
		bad(p+".proxy_from", "listen.proxy_from is empty: no connection could be served", "list the load balancers' addresses, or leave it out for loopback only")
	}
	if d := l.ProxyTimeout; d != nil && d.Duration <= 0 {
		bad(p+".proxy_timeout", "listen.proxy_timeout must be positive", "leave it out for 5s")
	}
}
