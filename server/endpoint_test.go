package server

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
	"gatehouse/listen"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// whoami answers with its name, the request's scheme and whether it came
// over TLS.
func whoami(name string) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		proto := "-"
		if st := r.TLS(); st != nil {
			proto = st.NegotiatedProtocol
		}
		_, err := fmt.Fprintf(w, "%s %s %s", name, r.Scheme(), proto)
		return err
	})
}

func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return srv
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Each endpoint serves its own handler, or the root; its scheme is its own;
// on both engines; and Swap replaces only the root.
func TestEndpointsHandlersAndSchemes(t *testing.T) {
	for _, eng := range []string{"epoll", "goroutine"} {
		t.Run(eng, func(t *testing.T) {
			srv := startServer(t, Config{Engine: eng, Handler: whoami("root"), Endpoints: []Endpoint{
				{Listen: listen.Config{Addr: "127.0.0.1:0"}},
				{Listen: listen.Config{Addr: "127.0.0.1:0"}, Handler: whoami("admin")},
				{Listen: listen.Config{Addr: "127.0.0.1:0"}, Scheme: "https"}, // behind a TLS proxy
			}})
			a := srv.Addrs()
			for i, want := range []string{"root http -", "admin http -", "root https -"} {
				if got := get(t, http.DefaultClient, "http://"+a[i].String()+"/"); got != want {
					t.Errorf("endpoint %d: %q, want %q", i, got, want)
				}
			}
			<-srv.Swap(whoami("new root"))
			for i, want := range []string{"new root http -", "admin http -"} {
				if got := get(t, http.DefaultClient, "http://"+a[i].String()+"/"); got != want {
					t.Errorf("after the swap, endpoint %d: %q, want %q", i, got, want)
				}
			}
			http.DefaultClient.CloseIdleConnections()
		})
	}
}

// A TLS endpoint: the dispatcher's handshake, ALPN's http/1.1 for a client
// that offers only it, the state and the scheme on the request; plain HTTP
// beside it on the same engine. (HTTP/2 by ALPN: h2_test.go.)
func TestTLSEndpoint(t *testing.T) {
	cert := testutil.SelfSigned(t)
	srv := startServer(t, Config{Handler: whoami("root"), Endpoints: []Endpoint{
		{Listen: listen.Config{Addr: "127.0.0.1:0"}, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}},
		{Listen: listen.Config{Addr: "127.0.0.1:0"}},
	}})
	a := srv.Addrs()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}}}
	if got := get(t, c, "https://"+a[0].String()+"/"); got != "root https http/1.1" {
		t.Fatalf("over TLS: %q", got)
	}
	if got := get(t, http.DefaultClient, "http://"+a[1].String()+"/"); got != "root http -" {
		t.Fatalf("plain: %q", got)
	}
	c.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
}

// A client that connects to a TLS endpoint and says nothing, or half a
// ClientHello, is dropped when the handshake's own timeout passes, however
// long the head's is: the handshake holds nothing longer.
func TestTLSHandshakeTimeout(t *testing.T) {
	cert := testutil.SelfSigned(t)
	srv := startServer(t, Config{Handler: whoami("root"), HTTP: shttp.Config{ReadHeaderTimeout: time.Minute},
		Endpoints: []Endpoint{{Listen: listen.Config{Addr: "127.0.0.1:0"}, HandshakeTimeout: 300 * time.Millisecond,
			TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}})
	// The first bytes of a ClientHello: a handshake record of 512 bytes,
	// then the message type (client_hello) and its length.
	half := []byte{22, 3, 1, 2, 0, 1, 0, 1, 252, 3, 3}
	for _, send := range [][]byte{nil, half} {
		conn, err := net.Dial("tcp", srv.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write(send)
		start := time.Now()
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = bufio.NewReader(conn).ReadByte()
		if err == nil || time.Since(start) > 3*time.Second {
			t.Fatalf("client that sent %d bytes: %v after %v", len(send), err, time.Since(start))
		}
	}
}

// Plain HTTP sent to a TLS endpoint gets net/http's answer, and the
// connection is closed; other bytes that are not TLS get nothing.
func TestTLSPlainHTTP(t *testing.T) {
	cert := testutil.SelfSigned(t)
	log := &testutil.LogBuffer{}
	srv := startServer(t, Config{Handler: whoami("root"), Logger: log.Logger(),
		Endpoints: []Endpoint{{Listen: listen.Config{Addr: "127.0.0.1:0"}, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}})
	for _, c := range []struct {
		send, want string
	}{
		{"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: test\r\n\r\n", "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"},
		{"OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n", "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"},
		{"DELETE /x HTTP/1.1\r\nHost: example.com\r\n\r\n", "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"},
		{"SSH-2.0-OpenSSH_9.2\r\n", ""},
		{"\x00\x00\x00\x00\x00\x00\x00\x00", ""},
	} {
		conn, err := net.Dial("tcp", srv.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, c.send)
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || string(got) != c.want {
			t.Errorf("%q: %q (%v), want %q and the close", c.send, got, err, c.want)
		}
	}
	log.WaitFor(t, "reason=\"client sent an HTTP request to an HTTPS server\"")
}

func TestLooksLikeHTTP(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"GET /", true}, {"GET h", true}, {"HEAD ", true}, {"POST ", true}, {"PUT /", true},
		{"OPTIO", true}, {"DELET", true}, {"PATCH", true}, {"PROPF", true},
		{"get /", false}, {"FOO /", false}, {"\x16\x03\x01\x02\x00", false}, {"SSH-2", false}, {" GET ", false},
	} {
		var hdr [5]byte
		copy(hdr[:], c.in)
		if got := looksLikeHTTP(hdr); got != c.want {
			t.Errorf("%q: %v, want %v", c.in, got, c.want)
		}
	}
}

// Endpoints given one tls.Config share its session-ticket keys: a session
// made on one resumes on the other.
func TestTLSEndpointsShareTickets(t *testing.T) {
	cfg := &tls.Config{Certificates: []tls.Certificate{testutil.SelfSigned(t)}}
	srv := startServer(t, Config{Handler: whoami("root"), Endpoints: []Endpoint{
		{Listen: listen.Config{Addr: "127.0.0.1:0"}, TLS: cfg},
		{Listen: listen.Config{Addr: "127.0.0.1:0"}, TLS: cfg},
	}})
	sessions := tls.NewLRUClientSessionCache(4)
	for i, a := range srv.Addrs() {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, ServerName: "localhost", ClientSessionCache: sessions}}}
		resp, err := c.Get("https://" + a.String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resumed := resp.TLS.DidResume; resumed != (i == 1) {
			t.Fatalf("endpoint %d: resumed %v", i, resumed)
		}
	}
}

// Endpoints that cannot be served are refused at New.
func TestEndpointErrors(t *testing.T) {
	cert := testutil.SelfSigned(t)
	for _, c := range []struct {
		name string
		ep   Endpoint
		want string
	}{
		{"unknown protocol", Endpoint{Listen: listen.Config{Addr: "127.0.0.1:0"}, Protocol: "gopher"}, "unknown protocol"},
		{"uwsgi with TLS", Endpoint{Listen: listen.Config{Addr: "127.0.0.1:0"}, Protocol: ProtocolUWSGI,
			TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, "TLS"},
		{"ALPN protocol not served", Endpoint{Listen: listen.Config{Addr: "127.0.0.1:0"},
			TLS: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "spdy/3.1"}}}, "spdy/3.1"},
		{"h2 without its cipher suite", Endpoint{Listen: listen.Config{Addr: "127.0.0.1:0"},
			TLS: &tls.Config{Certificates: []tls.Certificate{cert}, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}}},
			"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{"h2c with TLS", Endpoint{Listen: listen.Config{Addr: "127.0.0.1:0"}, H2C: true,
			TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, "h2c"},
		{"h2c on uwsgi", Endpoint{Listen: listen.Config{Addr: "127.0.0.1:0"}, Protocol: ProtocolUWSGI, H2C: true}, "h2c"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(Config{Handler: whoami("root"), Endpoints: []Endpoint{c.ep}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v, want an error about %q", err, c.want)
			}
		})
	}
}
