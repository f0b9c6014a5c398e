// Package proxyproto parses the PROXY protocol header (HAProxy's "The
// PROXY protocol", versions 1 and 2, https://www.haproxy.org/download/2.6/doc/proxy-protocol.txt)
// that a load balancer sends at the start of a TCP connection to say whose
// connection it passes on: the client's address and port, and the address
// and port it reached.
//
// It is a codec: bytes in, a Header and the bytes it took out, ErrNeedMore
// when the header is not whole yet; no I/O. What to trust is not decided
// here: a header is believed only from the proxies a listener names
// (engine.ProxyProtocol), since anyone who can connect could send one and
// claim any address.
package proxyproto
