package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func v2(cmd, fam byte, payload []byte) []byte {
	b := append([]byte(nil), v2Sig...)
	b = append(b, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(payload)))
	return append(b, payload...)
}

func tcp4Payload() []byte {
	p := []byte{192, 0, 2, 1, 198, 51, 100, 2, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(p[8:], 51000)
	binary.BigEndian.PutUint16(p[10:], 443)
	return p
}

func tcp6Payload() []byte {
	src := netip.MustParseAddr("2001:db8::1").As16()
	dst := netip.MustParseAddr("2001:db8::2").As16()
	p := append(src[:], dst[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(p, 40000), 8443)
}

// longestV1 is a version 1 header of exactly MaxV1 bytes, §2.1's worst case.
const longestV1 = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"

// longestTCP6 is the longest header with addresses that are used.
const longestTCP6 = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"

func TestParse(t *testing.T) {
	ap := netip.MustParseAddrPort
	payloadAtLimit := append(tcp4Payload(), make([]byte, MaxV2Payload-12)...)
	cases := []struct {
		name string
		in   []byte
		want Header
		n    int
		err  error
	}{
		{"v1 TCP4", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\nGET / HTTP/1.1\r\n"),
			Header{1, false, ap("192.0.2.1:51000"), ap("198.51.100.2:443")}, 45, nil},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 40000 8443\r\n"),
			Header{1, false, ap("[2001:db8::1]:40000"), ap("[2001:db8::2]:8443")}, 47, nil},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), Header{Version: 1, Local: true}, 15, nil},
		{"v1 UNKNOWN with addresses", []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), Header{Version: 1, Local: true}, 35, nil},
		{"v1 at the limit", []byte(longestV1), Header{Version: 1, Local: true}, MaxV1, nil},
		{"v1 longest TCP6", []byte(longestTCP6), Header{1, false, ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"), ap("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535")}, len(longestTCP6), nil},
		{"v1 one past the limit", []byte(strings.Replace(longestV1, "65535 65535", "65535 065535", 1)), Header{}, 0, ErrV1TooLong},
		{"v1 port 65536", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n"), Header{}, 0, ErrV1},
		{"v1 leading zero", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 051 443\r\n"), Header{}, 0, ErrV1},
		{"v1 IPv6 as TCP4", []byte("PROXY TCP4 2001:db8::1 2001:db8::2 1 2\r\n"), Header{}, 0, ErrV1},
		{"v1 IPv4 as TCP6", []byte("PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n"), Header{}, 0, ErrV1},
		{"v1 two spaces", []byte("PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n"), Header{}, 0, ErrV1},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n"), Header{}, 0, ErrV1},
		{"v1 bare LF", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n"), Header{}, 0, ErrV1},
		{"v1 UDP4", []byte("PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n"), Header{}, 0, ErrV1},
		{"v1 unfinished", []byte("PROXY TCP4 192.0.2.1"), Header{}, 0, ErrNeedMore},
		{"v1 prefix", []byte("PRO"), Header{}, 0, ErrNeedMore},
		{"HTTP", []byte("GET / HTTP/1.1\r\n"), Header{}, 0, ErrNotProxy},
		{"P but not PROXY", []byte("POST / HTTP/1.1\r\n"), Header{}, 0, ErrNotProxy},
		{"TLS", []byte{0x16, 3, 1, 0, 5}, Header{}, 0, ErrNotProxy},
		{"empty", nil, Header{}, 0, ErrNeedMore},
		{"v2 TCP4", append(v2(1, 0x11, tcp4Payload()), "GET"...), Header{2, false, ap("192.0.2.1:51000"), ap("198.51.100.2:443")}, 28, nil},
		{"v2 TCP6", v2(1, 0x21, tcp6Payload()), Header{2, false, ap("[2001:db8::1]:40000"), ap("[2001:db8::2]:8443")}, 52, nil},
		{"v2 TCP4 with TLVs", v2(1, 0x11, append(tcp4Payload(), 0x04, 0, 3, 'a', 'b', 'c')), Header{2, false, ap("192.0.2.1:51000"), ap("198.51.100.2:443")}, 34, nil},
		{"v2 LOCAL", v2(0, 0x00, nil), Header{Version: 2, Local: true}, 16, nil},
		{"v2 UNSPEC", v2(1, 0x00, nil), Header{Version: 2, Local: true}, 16, nil},
		{"v2 unix stream", v2(1, 0x31, make([]byte, 216)), Header{Version: 2, Local: true}, 232, nil},
		{"v2 payload at the limit", v2(1, 0x11, payloadAtLimit), Header{2, false, ap("192.0.2.1:51000"), ap("198.51.100.2:443")}, MaxLen, nil},
		{"v2 payload one past", v2(1, 0x11, append(payloadAtLimit, 0)), Header{}, 0, ErrV2TooLong},
		{"v2 UDP", v2(1, 0x12, tcp4Payload()), Header{}, 0, ErrV2},
		{"v2 short addresses", v2(1, 0x11, tcp4Payload()[:8]), Header{}, 0, ErrV2},
		{"v2 version 1", append(append([]byte(nil), v2Sig...), 0x11, 0x11, 0, 0), Header{}, 0, ErrV2},
		{"v2 command 2", v2(2, 0x11, tcp4Payload()), Header{}, 0, ErrV2},
		{"v2 truncated", v2(1, 0x11, tcp4Payload())[:20], Header{}, 0, ErrNeedMore},
		{"v2 signature prefix", v2Sig[:5], Header{}, 0, ErrNeedMore},
		{"v2 bad signature", []byte("\r\n\r\nX"), Header{}, 0, ErrNotProxy},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, n, err := Parse(c.in)
			if !errors.Is(err, c.err) || n != c.n || h != c.want {
				t.Fatalf("%+v %d %v, want %+v %d %v", h, n, err, c.want, c.n, c.err)
			}
		})
	}
	if len(longestV1) != MaxV1 {
		t.Fatalf("fixture: %d bytes", len(longestV1))
	}
}

// TestPrefixes: every true prefix of a whole header asks for more bytes.
func TestPrefixes(t *testing.T) {
	for _, full := range [][]byte{[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n"), v2(1, 0x21, tcp6Payload()), []byte(longestV1)} {
		for i := range len(full) {
			if _, _, err := Parse(full[:i]); err != ErrNeedMore {
				t.Fatalf("%q: %v", full[:i], err)
			}
		}
	}
}

// FuzzParse: no input panics; a header parsed is within the input and the
// limit, and parses the same from exactly its own bytes; a v1 header's
// addresses have the family it names.
func FuzzParse(f *testing.F) {
	for _, s := range [][]byte{[]byte("PROXY TCP4 192.0.2.1 198.51.100.2 51000 443\r\n"), []byte(longestV1),
		[]byte("PROXY UNKNOWN\r\n"), v2(1, 0x11, tcp4Payload()), v2(1, 0x21, tcp6Payload()), v2(0, 0, nil), []byte("GET / HTTP/1.1\r\n")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if err != nil {
			if n != 0 || h != (Header{}) {
				t.Fatalf("error %v with %d bytes, %+v", err, n, h)
			}
			return
		}
		if n <= 0 || n > len(b) || n > MaxLen || h.Version != 1 && h.Version != 2 {
			t.Fatalf("%d bytes of %d, %+v", n, len(b), h)
		}
		h2, n2, err2 := Parse(b[:n])
		if err2 != nil || n2 != n || h2 != h {
			t.Fatalf("again: %+v %d %v", h2, n2, err2)
		}
		if !h.Local && (!h.Source.IsValid() || !h.Dest.IsValid()) {
			t.Fatalf("addresses missing: %+v", h)
		}
		if bytes.HasPrefix(b, v1Prefix) && n > MaxV1 {
			t.Fatalf("v1 of %d bytes", n)
		}
	})
}
