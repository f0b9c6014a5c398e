package testutil

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Pebble is a running ACME test server on 127.0.0.1. It validates HTTP-01
// challenges on 127.0.0.1:HTTPPort and TLS-ALPN-01 on 127.0.0.1:TLSPort,
// which the server under test listens on, and resolves every name to
// 127.0.0.1 through its own DNS server.
type Pebble struct {
	Directory string         // the ACME directory URL
	CARoots   *x509.CertPool // trusts pebble's own HTTPS (and nothing else)
	HTTPPort  int
	TLSPort   int
	mgmt      string
	proc      *Proc
}

// Output returns what pebble has logged: its validations, for a failed test.
func (pb *Pebble) Output() string { return pb.proc.Output() }

// StartPebble builds (once) and starts pebble and pebble-challtestsrv, with
// validations on fresh ports and no random sleeps or nonce rejections.
func StartPebble(t testing.TB) *Pebble {
	t.Helper()
	pebble := GoTool(t, "github.com/letsencrypt/pebble/v2/cmd/pebble@v2.10.3")
	dnsBin := GoTool(t, "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@v2.10.3")
	mod := ModuleDir(t, "github.com/letsencrypt/pebble/v2@v2.10.3")
	dir := t.TempDir()
	port := func() int {
		_, p, _ := splitPort(FreeAddr(t))
		return p
	}
	pb := &Pebble{HTTPPort: port(), TLSPort: port()}
	listen, mgmt, dns := FreeAddr(t), FreeAddr(t), FreeAddr(t)
	pb.Directory, pb.mgmt = "https://"+listen+"/dir", "https://"+mgmt
	conf := map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt,
		"certificate": filepath.Join(mod, "test/certs/localhost/cert.pem"),
		"privateKey":  filepath.Join(mod, "test/certs/localhost/key.pem"),
		"httpPort":    pb.HTTPPort, "tlsPort": pb.TLSPort, "ocspResponderURL": "",
		"externalAccountBindingRequired": false, "domainBlocklist": []string{"blocked-domain.example"},
		"retryAfter": map[string]int{"authz": 1, "order": 1}, "keyAlgorithm": "ecdsa",
		"profiles": map[string]any{"default": map[string]any{"description": "default", "validityPeriod": 7776000}},
	}}
	b, _ := json.Marshal(conf)
	confPath := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(confPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	Start(t, nil, dnsBin, "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-dnsserver", dns, "-management", FreeAddr(t), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	p := Start(t, []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"}, pebble,
		"-config", confPath, "-dnsserver", dns, "-strict=false")
	p.WaitDial(t, listen)
	p.WaitDial(t, mgmt) // its own listener, which may come up after the first
	pb.proc = p
	ca, err := os.ReadFile(filepath.Join(mod, "test/certs/pebble.minica.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pb.CARoots = x509.NewCertPool()
	pb.CARoots.AppendCertsFromPEM(ca)
	return pb
}

// Root returns pebble's issuing root of this run (it makes a new one at
// every start), to verify the certificates it issued.
func (pb *Pebble) Root(t testing.TB) *x509.CertPool {
	t.Helper()
	pemBytes := pb.RootPEM(t)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("pebble's root: %q", pemBytes)
	}
	return pool
}

// RootPEM is Root as a PEM file's bytes, for curl's --cacert.
func (pb *Pebble) RootPEM(t testing.TB) []byte {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pb.CARoots}}}
	resp, err := c.Get(pb.mgmt + "/roots/0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	pemBytes, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pemBytes
}

// MiniCA is the file of the root pebble's own HTTPS certificate chains to,
// for a client of its directory (--acme-ca-root).
func (pb *Pebble) MiniCA(t testing.TB) string {
	t.Helper()
	return filepath.Join(ModuleDir(t, "github.com/letsencrypt/pebble/v2@v2.10.3"), "test/certs/pebble.minica.pem")
}

func splitPort(addr string) (string, int, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			p, err := strconv.Atoi(addr[i+1:])
			return addr[:i], p, err
		}
	}
	return "", 0, fmt.Errorf("no port in %q", addr)
}
