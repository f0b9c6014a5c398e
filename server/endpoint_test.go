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

// A client that connects to a TLS endpoint and says nothing is dropped when
// the head's timeout passes: the handshake holds nothing longer.
func TestTLSHandshakeTimeout(t *testing.T) {
	cert := testutil.SelfSigned(t)
	srv := startServer(t, Config{Handler: whoami("root"), HTTP: shttp.Config{ReadHeaderTimeout: 300 * time.Millisecond},
		Endpoints: []Endpoint{{Listen: listen.Config{Addr: "127.0.0.1:0"}, TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}}})
	conn, err := net.Dial("tcp", srv.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = bufio.NewReader(conn).ReadByte()
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("silent TLS client: %v after %v", err, time.Since(start))
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
