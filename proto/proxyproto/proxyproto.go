package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
)

// Limits (spec §2.1 and §2.2).
const (
	// MaxV1 is the longest version 1 header: "PROXY TCP6" and two full
	// IPv6 addresses and ports, with CRLF (§2.1: 107 bytes).
	MaxV1 = 107
	// MaxV2Payload bounds what follows a version 2 header's 16 bytes: the
	// addresses and TLVs. The field allows 65535; proxies send tens of
	// bytes (a few TLVs), so more is refused rather than buffered.
	MaxV2Payload = 2048
	// MaxLen is the most bytes a header can take: what a reader must be
	// able to peek at.
	MaxLen = 16 + MaxV2Payload
)

// Header is what a PROXY header says.
type Header struct {
	Version uint8 // 1 or 2
	// Local is a connection the proxy made itself (v2 LOCAL, v1 UNKNOWN, or
	// an address family without addresses, such as AF_UNIX or UNSPEC): no
	// client address is given, and the connection's own stand.
	Local bool
	// Source is the client's address and port; Dest the address and port
	// it connected to. Zero when Local.
	Source, Dest netip.AddrPort
}

// Errors. Every one but ErrNeedMore means the connection is not a proxied
// one it can serve.
var (
	ErrNeedMore  = errors.New("proxyproto: need more bytes")
	ErrNotProxy  = errors.New("proxyproto: no PROXY header")
	ErrV1        = errors.New("proxyproto: malformed version 1 header")
	ErrV1TooLong = errors.New("proxyproto: version 1 header longer than 107 bytes")
	ErrV2        = errors.New("proxyproto: malformed version 2 header")
	ErrV2TooLong = errors.New("proxyproto: version 2 header over the limit")
)

var (
	v1Prefix = []byte("PROXY ")
	v2Sig    = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// Parse reads the header at the start of b and returns it and its length,
// or ErrNeedMore when b is a true prefix of a header that is not whole yet.
func Parse(b []byte) (Header, int, error) {
	switch {
	case len(b) == 0:
		return Header{}, 0, ErrNeedMore
	case b[0] == 'P':
		if !bytes.HasPrefix(b, v1Prefix) {
			if bytes.HasPrefix(v1Prefix, b) {
				return Header{}, 0, ErrNeedMore
			}
			return Header{}, 0, ErrNotProxy
		}
		return parseV1(b)
	case b[0] == '\r':
		if !bytes.HasPrefix(b, v2Sig) {
			if bytes.HasPrefix(v2Sig, b) {
				return Header{}, 0, ErrNeedMore
			}
			return Header{}, 0, ErrNotProxy
		}
		return parseV2(b)
	}
	return Header{}, 0, ErrNotProxy
}

// parseV1 reads "PROXY TCP4 src dst sport dport\r\n" or "PROXY UNKNOWN ...\r\n"
// (§2.1): single spaces, decimal ports without leading zeros, addresses of
// the family named.
func parseV1(b []byte) (Header, int, error) {
	end := bytes.Index(b[:min(len(b), MaxV1)], []byte("\r\n"))
	if end < 0 {
		if len(b) >= MaxV1 {
			return Header{}, 0, ErrV1TooLong
		}
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return Header{}, 0, ErrV1 // a bare LF
		}
		return Header{}, 0, ErrNeedMore
	}
	line := b[len(v1Prefix):end]
	n := end + 2
	h := Header{Version: 1}
	if bytes.HasPrefix(line, []byte("UNKNOWN")) && (len(line) == 7 || line[7] == ' ') {
		// §2.1: the rest of an UNKNOWN line is ignored.
		h.Local = true
		return h, n, nil
	}
	f := bytes.Split(line, []byte(" "))
	if len(f) != 5 {
		return Header{}, 0, ErrV1
	}
	var want6 bool
	switch string(f[0]) {
	case "TCP4":
	case "TCP6":
		want6 = true
	default:
		return Header{}, 0, ErrV1
	}
	src, ok1 := v1Addr(f[1], want6)
	dst, ok2 := v1Addr(f[2], want6)
	sp, ok3 := v1Port(f[3])
	dp, ok4 := v1Port(f[4])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return Header{}, 0, ErrV1
	}
	h.Source, h.Dest = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	return h, n, nil
}

func v1Addr(b []byte, want6 bool) (netip.Addr, bool) {
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" || a.Is6() != want6 {
		return netip.Addr{}, false
	}
	return a, true
}

func v1Port(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 || len(b) > 1 && b[0] == '0' {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return uint16(n), n <= 65535
}

// parseV2 reads the binary header (§2.2): the signature, version 2 and a
// command (LOCAL or PROXY), the family and transport, the length of what
// follows, then the addresses and TLVs, which are skipped.
func parseV2(b []byte) (Header, int, error) {
	if len(b) < 16 {
		return Header{}, 0, ErrNeedMore
	}
	verCmd, fam := b[12], b[13]
	if verCmd>>4 != 2 {
		return Header{}, 0, ErrV2
	}
	size := int(binary.BigEndian.Uint16(b[14:16]))
	if size > MaxV2Payload {
		return Header{}, 0, ErrV2TooLong
	}
	n := 16 + size
	if len(b) < n {
		return Header{}, 0, ErrNeedMore
	}
	body := b[16:n]
	h := Header{Version: 2}
	switch verCmd & 0xf {
	case 0: // LOCAL: the proxy's own connection (a health check)
		h.Local = true
		return h, n, nil
	case 1: // PROXY
	default:
		return Header{}, 0, ErrV2
	}
	switch fam {
	case 0x11: // TCP over IPv4
		if len(body) < 12 {
			return Header{}, 0, ErrV2
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[0:4])), binary.BigEndian.Uint16(body[8:10]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom4([4]byte(body[4:8])), binary.BigEndian.Uint16(body[10:12]))
	case 0x21: // TCP over IPv6
		if len(body) < 36 {
			return Header{}, 0, ErrV2
		}
		h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[0:16])).Unmap(), binary.BigEndian.Uint16(body[32:34]))
		h.Dest = netip.AddrPortFrom(netip.AddrFrom16([16]byte(body[16:32])).Unmap(), binary.BigEndian.Uint16(body[34:36]))
	case 0x00, 0x31: // UNSPEC, or a Unix stream socket: no client address to use
		h.Local = true
	default: // datagrams (UDP, Unix datagrams) on a stream listener
		return Header{}, 0, ErrV2
	}
	return h, n, nil
}
