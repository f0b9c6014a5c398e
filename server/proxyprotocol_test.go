package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/engine"
	"gatehouse/internal/testutil"
	"gatehouse/listen"
	"gatehouse/web"
)

// remoteEcho answers with the addresses the request reports.
var remoteEcho = web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
	_, err := fmt.Fprintf(w, "%v %v", r.RemoteAddr(), r.LocalAddr())
	return err
})

// proxyServer serves remoteEcho on a PROXY protocol listener on eng.
func proxyServer(t *testing.T, eng string, pp *engine.ProxyProtocol, tlsCfg *tls.Config) (string, *testutil.LogBuffer) {
	t.Helper()
	logs := &testutil.LogBuffer{}
	srv := startServer(t, Config{Engine: eng, Handler: remoteEcho, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Endpoints: []Endpoint{{Listen: listen.Config{Addr: "127.0.0.1:0"}, Proxy: pp, TLS: tlsCfg}}})
	return srv.Addrs()[0].String(), logs
}

// exchange sends raw bytes (in parts, pause between them) and returns what
// comes back before the server closes or a second passes.
func exchange(t *testing.T, addr string, pause time.Duration, parts ...[]byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, p := range parts {
		if i > 0 {
			time.Sleep(pause)
		}
		c.Write(p)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func v2Header(src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
	s, d := src.Addr().As4(), dst.Addr().As4()
	b = append(append(b, s[:]...), d[:]...)
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, src.Port()), dst.Port())
}

const get1 = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

// TestProxyProtocol: on both engines, a PROXY header (v1, v2, in one piece
// or trickled) gives the request the client's addresses; a LOCAL header
// keeps the proxy's; a connection without one, with a malformed one, that
// does not finish it in time, or from a peer not trusted is closed without
// an answer, and logged.
func TestProxyProtocol(t *testing.T) {
	for _, eng := range []string{"epoll", "goroutine"} {
		t.Run(eng, func(t *testing.T) {
			addr, logs := proxyServer(t, eng, &engine.ProxyProtocol{Timeout: 500 * time.Millisecond}, nil)
			src, dst := netip.MustParseAddrPort("203.0.113.7:51000"), netip.MustParseAddrPort("198.51.100.2:443")
			want := "203.0.113.7:51000 198.51.100.2:443"
			v1 := "PROXY TCP4 203.0.113.7 198.51.100.2 51000 443\r\n"
			cases := []struct {
				name  string
				parts [][]byte
				want  string // in the answer; "" for none
				log   string
			}{
				{"v1", [][]byte{[]byte(v1 + get1)}, want, ""},
				{"v1 trickled", [][]byte{[]byte(v1[:9]), []byte(v1[9:30]), []byte(v1[30:] + get1)}, want, ""},
				{"v2", [][]byte{append(v2Header(src, dst), get1...)}, want, ""},
				{"v2 in two", [][]byte{v2Header(src, dst)[:10], append(v2Header(src, dst)[10:], get1...)}, want, ""},
				{"v1 UNKNOWN", [][]byte{[]byte("PROXY UNKNOWN\r\n" + get1)}, "127.0.0.1:", ""},
				{"no header", [][]byte{[]byte(get1)}, "", "no PROXY header"},
				{"malformed", [][]byte{[]byte("PROXY TCP4 203.0.113.7 198.51.100.2 99999 443\r\n" + get1)}, "", "malformed version 1"},
				{"unfinished", [][]byte{[]byte(v1[:20])}, "", "no whole header within 500ms"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					got := exchange(t, addr, 50*time.Millisecond, c.parts...)
					switch {
					case c.want == "" && got != "":
						t.Fatalf("answered %q", got)
					case c.want != "" && !strings.Contains(got, c.want):
						t.Fatalf("%q, want %q in it", got, c.want)
					}
					if c.log != "" {
						logs.WaitFor(t, c.log)
					}
				})
			}
		})
	}
}

// TestProxyProtocolUntrusted: a peer outside proxy_from is refused before
// it can send a header, on both engines.
func TestProxyProtocolUntrusted(t *testing.T) {
	for _, eng := range []string{"epoll", "goroutine"} {
		t.Run(eng, func(t *testing.T) {
			addr, logs := proxyServer(t, eng, &engine.ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}, nil)
			if got := exchange(t, addr, 0, []byte("PROXY TCP4 203.0.113.7 198.51.100.2 51000 443\r\n"+get1)); got != "" {
				t.Fatalf("answered %q", got)
			}
			logs.WaitFor(t, "untrusted peer")
		})
	}
}

// TestProxyProtocolTLS: the header comes before the TLS handshake, and the
// request (over HTTP/1.1 and HTTP/2) has the client's address.
func TestProxyProtocolTLS(t *testing.T) {
	addr, _ := proxyServer(t, "", &engine.ProxyProtocol{}, testTLSConfig(t))
	for _, proto := range []string{"http/1.1", "h2"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("PROXY TCP4 203.0.113.7 198.51.100.2 51000 443\r\n"))
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		if proto == "h2" {
			body := h2Get(t, tc)
			if !strings.HasPrefix(body, "203.0.113.7:51000") {
				t.Errorf("h2: %q", body)
			}
			continue
		}
		tc.Write([]byte(get1))
		b, _ := io.ReadAll(tc)
		if !strings.Contains(string(b), "203.0.113.7:51000 198.51.100.2:443") {
			t.Errorf("http/1.1: %q", b)
		}
		tc.Close()
	}
}

// h2Get makes one HTTP/2 request on an established TLS connection.
func h2Get(t *testing.T, tc *tls.Conn) string {
	t.Helper()
	used := false
	tr := &http.Transport{ForceAttemptHTTP2: true}
	tr.DialTLSContext = func(context.Context, string, string) (net.Conn, error) {
		if used {
			return nil, fmt.Errorf("one connection only")
		}
		used = true
		return tc, nil
	}
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://x/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 {
		t.Errorf("came over %s", resp.Proto)
	}
	return string(b)
}

// TestHAProxyInFront: HAProxy (Debian's) in front, sending PROXY v1 to one
// listener and v2 to another, on both engines: the request reports the
// client's own address and port (the client connects from 127.0.0.2,
// HAProxy from 127.0.0.1), not HAProxy's.
func TestHAProxyInFront(t *testing.T) {
	for _, eng := range []string{"epoll", "goroutine"} {
		t.Run(eng, func(t *testing.T) {
			backend, _ := proxyServer(t, eng, &engine.ProxyProtocol{}, nil)
			dir := testutil.ShortTempDir(t)
			front1, front2 := testutil.FreeAddr(t), testutil.FreeAddr(t)
			cfg := fmt.Sprintf(`global
	pidfile %[1]s/haproxy.pid
defaults
	mode tcp
	timeout connect 5s
	timeout client 10s
	timeout server 10s
frontend v1
	bind %[2]s
	default_backend gatehouse_v1
frontend v2
	bind %[3]s
	default_backend gatehouse_v2
backend gatehouse_v1
	server g %[4]s send-proxy
backend gatehouse_v2
	server g %[4]s send-proxy-v2
`, dir, front1, front2, backend)
			os.WriteFile(filepath.Join(dir, "haproxy.cfg"), []byte(cfg), 0o644)
			p := testutil.Start(t, nil, "haproxy", "-db", "-f", filepath.Join(dir, "haproxy.cfg"))
			p.WaitDial(t, front1)
			p.WaitDial(t, front2)
			for _, front := range []string{front1, front2} {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 3 * time.Second}
				c, err := d.Dial("tcp", front)
				if err != nil {
					t.Fatal(err)
				}
				c.Write([]byte(get1))
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatalf("%s: %v\n%s", front, err, p.Output())
				}
				b, _ := io.ReadAll(resp.Body)
				c.Close()
				want := c.LocalAddr().String() + " " + front
				if string(b) != want {
					t.Errorf("through HAProxy at %s: %q, want %q", front, b, want)
				}
			}
		})
	}
}
