package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/internal/testutil"
)

// serveBuilt builds cfg and serves it until the test ends.
func serveBuilt(t *testing.T, cfg *config.Config) *Built {
	t.Helper()
	built, err := Build(cfg, BuildOptions{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { built.Close() })
	srv, err := New(built.Config)
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
	return built
}

// client is an HTTPS client that asks every address for name (SNI and
// Host), does not follow redirects and keeps no connection.
func client(name string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{ServerName: name, InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

type result struct {
	status     int
	body, hsts string
	location   string
	serial     int64
}

func fetch(t *testing.T, c *http.Client, url, host string) result {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s (Host %s): %v", url, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, body: string(b), hsts: resp.Header.Get("Strict-Transport-Security"),
		location: resp.Header.Get("Location")}
	if resp.TLS != nil {
		r.serial = resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	return r
}

// A configuration with TLS listeners: certificates by SNI, a site's HSTS on
// https only (error pages too), the plain listener's redirect to the TLS
// port, one tls.Config for listeners with the same table, and SIGHUP's
// reload of the certificates.
func TestBuildTLS(t *testing.T) {
	dir := t.TempDir()
	defCert, defKey := testutil.WriteCert(t, dir, "default", testutil.CertSpec{Serial: 1})
	aCert, aKey := testutil.WriteCert(t, dir, "a", testutil.CertSpec{Names: []string{"a.test"}, Serial: 2})
	bCert, bKey := testutil.WriteCert(t, dir, "b", testutil.CertSpec{Names: []string{"*.b.test"}, Serial: 3})
	tlsTable := func(timeout string) *config.TLS {
		t := &config.TLS{Cert: defCert, Key: defKey, Certs: []config.CertFiles{{Cert: aCert, Key: aKey}, {Cert: bCert, Key: bKey}}}
		if timeout != "" {
			t.HandshakeTimeout = &config.Duration{Duration: time.Second}
		}
		return t
	}
	httpsAddr, plainAddr, redirectAddr := testutil.FreeAddr(t), testutil.FreeAddr(t), testutil.FreeAddr(t)
	const sts = "max-age=31536000; includeSubDomains"
	cfg := &config.Config{
		Listen: []config.Listen{
			{Addr: httpsAddr, TLS: tlsTable("")},
			{Addr: "127.0.0.1:0", TLS: tlsTable("1s")},
			{Addr: plainAddr},
			{Addr: redirectAddr, RedirectHTTPS: true},
		},
		Site: []config.Site{
			{Hosts: []string{"a.test"}, HSTS: sts, Route: []config.Route{{Path: "/a", Respond: &config.Respond{Body: "a"}}}},
			{Hosts: []string{"*.b.test"}, Route: []config.Route{{Path: "/", Respond: &config.Respond{Body: "b"}}}},
		},
		AccessLog: config.AccessLog{Path: "off"},
	}
	built := serveBuilt(t, cfg)
	eps := built.Config.Endpoints
	if eps[0].TLS == nil || eps[0].TLS != eps[1].TLS || eps[0].HandshakeTimeout != 0 || eps[1].HandshakeTimeout != time.Second {
		t.Fatalf("TLS endpoints: %p %p, timeouts %v %v", eps[0].TLS, eps[1].TLS, eps[0].HandshakeTimeout, eps[1].HandshakeTimeout)
	}
	if eps[2].TLS != nil || eps[3].TLS != nil || eps[2].Handler != nil || eps[3].Handler == nil {
		t.Fatal("plain endpoints")
	}

	base := "https://" + httpsAddr
	for _, c := range []struct {
		sni, host, path string
		want            result
	}{
		{"a.test", "a.test", "/a", result{status: 200, body: "a", hsts: sts, serial: 2}},
		{"a.test", "a.test", "/missing", result{status: 404, body: "404 Not Found\n", hsts: sts, serial: 2}},
		{"x.b.test", "x.b.test", "/", result{status: 200, body: "b", serial: 3}},
		{"", "127.0.0.1", "/", result{status: 421, body: "421 Misdirected Request\n", serial: 1}},
	} {
		got := fetch(t, client(c.sni), base+c.path, c.host)
		if got != c.want {
			t.Errorf("%s %s%s: %+v, want %+v", c.sni, c.host, c.path, got, c.want)
		}
	}
	// Plain http: no HSTS, ever.
	if got := fetch(t, client(""), "http://"+plainAddr+"/a", "a.test"); got.status != 200 || got.hsts != "" {
		t.Errorf("plain http: %+v", got)
	}
	// The redirecting listener: 308 to the TLS listener's port, and 404
	// on the ACME challenge path.
	_, port, _ := net.SplitHostPort(httpsAddr)
	if got := fetch(t, client(""), "http://"+redirectAddr+"/p%20q?x=1", "a.test:80"); got.status != 308 || got.location != "https://a.test:"+port+"/p%20q?x=1" || got.hsts != "" {
		t.Errorf("redirect: %+v", got)
	}
	if got := fetch(t, client(""), "http://"+redirectAddr+"/.well-known/acme-challenge/token", "a.test"); got.status != 404 {
		t.Errorf("ACME challenge path: %+v", got)
	}

	// SIGHUP: a renewed certificate serves the next handshake.
	tmp := t.TempDir()
	nc, nk := testutil.WriteCert(t, tmp, "a2", testutil.CertSpec{Names: []string{"a.test"}, Serial: 22})
	os.Rename(nc, aCert)
	os.Rename(nk, aKey)
	if err := built.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, client("a.test"), base+"/a", "a.test"); got.serial != 22 {
		t.Errorf("after the reload: serial %d, want 22", got.serial)
	}
}

// Certificates that cannot be served are problems at the key naming their
// file; a certificate no site serves is a warning, not a problem.
func TestBuildTLSProblems(t *testing.T) {
	dir := t.TempDir()
	good, goodKey := testutil.WriteCert(t, dir, "good", testutil.CertSpec{Names: []string{"a.test"}})
	orphan, orphanKey := testutil.WriteCert(t, dir, "orphan", testutil.CertSpec{Names: []string{"shop.test", "*.shop.test"}})
	wild, wildKey := testutil.WriteCert(t, dir, "wild", testutil.CertSpec{Names: []string{"*.b.test"}})
	expired, expiredKey := testutil.WriteCert(t, dir, "expired", testutil.CertSpec{Names: []string{"a.test"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	site := func(hosts ...string) config.Site {
		return config.Site{Hosts: hosts, Route: []config.Route{{Path: "/", Demo: true}}}
	}
	build := func(tt *config.TLS, sites ...config.Site) (*Built, error) {
		return Build(&config.Config{Listen: []config.Listen{{Addr: "127.0.0.1:0", TLS: tt}}, Site: sites,
			AccessLog: config.AccessLog{Path: "off"}}, BuildOptions{Stderr: io.Discard, Check: true})
	}
	_, err := build(&config.TLS{Cert: expired, Key: expiredKey}, site("a.test"))
	if err == nil || !strings.Contains(err.Error(), "listen.tls: "+expired+": expired on ") || !strings.Contains(err.Error(), "hint: renew it") {
		t.Errorf("expired: %v", err)
	}
	_, err = build(&config.TLS{Certs: []config.CertFiles{{Cert: good, Key: orphanKey}}}, site("a.test"))
	if err == nil || !strings.Contains(err.Error(), orphanKey+": not the key of "+good) {
		t.Errorf("mismatched key: %v", err)
	}

	b, err := build(&config.TLS{Cert: good, Key: goodKey, Certs: []config.CertFiles{{Cert: orphan, Key: orphanKey}, {Cert: wild, Key: wildKey}}},
		site("a.test"), site("x.b.test"))
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if len(b.Warnings) != 1 || !b.Warnings[0].Warning ||
		!strings.Contains(b.Warnings[0].Msg, "certificate "+orphan+" is for shop.test, *.shop.test, which no site serves") {
		t.Errorf("warnings: %v", b.Warnings)
	}
	// A default site serves every name.
	b, err = build(&config.TLS{Cert: good, Key: goodKey, Certs: []config.CertFiles{{Cert: orphan, Key: orphanKey}}}, site())
	if err != nil || len(b.Warnings) != 0 {
		t.Errorf("with a default site: %v, warnings %v", err, b.Warnings)
	}
	b.Close()
}

func TestServesAny(t *testing.T) {
	for _, c := range []struct {
		host, name string
		want       bool
	}{
		{"a.test", "a.test", true},
		{"A.Test.", "a.test", true},
		{"a.test", "b.test", false},
		{"*.a.test", "x.a.test", true},
		{"*.a.test", "x.y.a.test", true}, // a site wildcard takes any depth
		{"*.a.test", "*.a.test", true},
		{"*.a.test", "a.test", false},
		{"x.a.test", "*.a.test", true},
		{"x.y.a.test", "*.a.test", false}, // a certificate's "*" is one label
		{"a.test", "*.a.test", false},
	} {
		if got := servesAny([]string{c.host}, []string{c.name}); got != c.want {
			t.Errorf("host %q, certificate name %q: %v, want %v", c.host, c.name, got, c.want)
		}
	}
}
