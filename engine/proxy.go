package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"gatehouse/proto/proxyproto"
)

// DefaultProxyTimeout bounds the wait for a PROXY protocol header.
const DefaultProxyTimeout = 5 * time.Second

// ProxyProtocol is a listener whose connections come from a load balancer
// (HAProxy's send-proxy, a cloud load balancer) that starts each with a
// PROXY protocol header (proto/proxyproto) naming the client. The header is
// read before anything else on the connection, on either engine, before TLS
// too; the connection then reports the client's address as its remote one.
//
// Threat: anyone who can reach the port could send a header and claim any
// client address, which access control, rate limits and logs then believe.
// So connections are taken only from Trusted peers, and every one of them
// must start with a header: a connection from another peer, one without a
// header, with a malformed one, or one that does not finish it within
// Timeout is closed without a word (there is no protocol to answer in yet)
// and logged.
type ProxyProtocol struct {
	// Trusted are the proxies' addresses. Default (nil): loopback only.
	Trusted []netip.Prefix
	// Timeout bounds the wait for the whole header, from the accept.
	// Default DefaultProxyTimeout.
	Timeout time.Duration
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// Allowed reports whether peer may send headers. A Unix socket's peer (no
// address) always may: the socket's mode guards it.
func (p *ProxyProtocol) Allowed(peer netip.AddrPort) bool {
	if !peer.IsValid() {
		return true
	}
	list := p.Trusted
	if list == nil {
		list = loopback
	}
	a := peer.Addr().Unmap()
	for _, pr := range list {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// Wait returns the header timeout.
func (p *ProxyProtocol) Wait() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultProxyTimeout
}

// ErrUntrusted reports a connection from a peer that may not send headers.
var ErrUntrusted = errors.New("proxy protocol: connection from an untrusted peer")

// Accept reads c's header, on the goroutine engine, before anything else
// reads the connection: it peeks at the socket (MSG_PEEK) until the header
// is whole, then takes exactly its bytes, so what follows is the protocol's
// to read; it waits at most Wait(). The connection then reports the
// client's addresses (c.Remote, c.Local and the NetConn's RemoteAddr and
// LocalAddr, which net/http's HTTP/2 server reads); a LOCAL header (the
// proxy's own health check) keeps the proxy's. An error means c must be
// closed.
func (p *ProxyProtocol) Accept(c *Conn) (proxyproto.Header, error) {
	if !p.Allowed(c.Remote) {
		return proxyproto.Header{}, fmt.Errorf("%w %v", ErrUntrusted, c.Remote)
	}
	sc, ok := c.NetConn.(syscall.Conn)
	if !ok {
		return proxyproto.Header{}, errors.New("proxy protocol: the connection has no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return proxyproto.Header{}, err
	}
	c.NetConn.SetReadDeadline(time.Now().Add(p.Wait()))
	defer c.NetConn.SetReadDeadline(time.Time{})
	var h proxyproto.Header
	var done bool
	var herr error
	err = rc.Read(func(fd uintptr) bool {
		h, done, herr = PeekHeader(int(fd))
		// Not whole yet: wait for more bytes (the poller wakes on new ones).
		return done || herr != nil
	})
	switch {
	case err != nil:
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return proxyproto.Header{}, fmt.Errorf("proxy protocol: no whole header within %v", p.Wait())
		}
		return proxyproto.Header{}, err
	case herr != nil:
		return proxyproto.Header{}, herr
	}
	if !h.Local {
		c.Remote, c.Local = h.Source, h.Dest
		c.NetConn = &proxiedConn{Conn: c.NetConn, remote: net.TCPAddrFromAddrPort(h.Source), local: net.TCPAddrFromAddrPort(h.Dest)}
	}
	return h, nil
}

// proxiedConn reports the addresses a PROXY header gave. It keeps the
// descriptor reachable (SyscallConn), for sendfile and peeks.
type proxiedConn struct {
	net.Conn
	remote, local net.Addr
}

func (c *proxiedConn) RemoteAddr() net.Addr { return c.remote }
func (c *proxiedConn) LocalAddr() net.Addr  { return c.local }

func (c *proxiedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("no descriptor")
}

func (c *proxiedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.New("no half close")
}

// PeekHeader is the read of Accept and of an event loop, on a non-blocking
// socket: it peeks at fd and, once the header is whole, takes exactly its
// bytes.
// It returns done false (and no error) while the header is not whole.
func PeekHeader(fd int) (h proxyproto.Header, done bool, err error) {
	var buf [proxyproto.MaxLen]byte
	got, _, err := syscall.Recvfrom(fd, buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return h, false, nil
	case err != nil:
		return h, false, err
	case got == 0:
		return h, false, io.EOF
	}
	h, n, err := proxyproto.Parse(buf[:got])
	if err == proxyproto.ErrNeedMore {
		return h, false, nil
	}
	if err != nil {
		return h, false, err
	}
	for k := 0; k < n; {
		m, err := syscall.Read(fd, buf[k:n])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			return h, false, fmt.Errorf("proxy protocol: taking the header: %v", err)
		}
		k += m
	}
	return h, true, nil
}
