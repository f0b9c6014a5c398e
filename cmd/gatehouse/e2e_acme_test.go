package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

// Certificates from a real ACME CA (pebble, started on loopback) through the
// binary and its flags, by each challenge; curl then verifies the chain
// against pebble's root of this run.
func TestACMEFromPebble(t *testing.T) {
	pb := testutil.StartPebble(t)
	root := filepath.Join(t.TempDir(), "pebble-root.pem")
	if err := os.WriteFile(root, pb.RootPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	// verify fetches https://name:port/healthz trusting pebble's root only,
	// retrying while the certificate is being ordered.
	verify := func(t *testing.T, name, port string) {
		t.Helper()
		var out, errOut string
		var err error
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			out, errOut, err = curl(t, "--resolve", name+":"+port+":127.0.0.1", "--cacert", root,
				"https://"+name+":"+port+"/healthz")
			if err == nil {
				break
			}
		}
		if err != nil || out != "ok\n" {
			t.Fatalf("https://%s:%s/healthz: %v %q\n%s\npebble:\n%s", name, port, err, out, errOut, pb.Output())
		}
	}
	common := func(dir, name string) []string {
		return []string{"--demo", "--acme-domain", name, "--acme-ca", pb.Directory, "--acme-ca-root", pb.MiniCA(t),
			"--acme-cache", dir, "--acme-email", "ops@" + name}
	}

	t.Run("tls-alpn-01", func(t *testing.T) {
		port := strconv.Itoa(pb.TLSPort)
		dir := filepath.Join(t.TempDir(), "acme")
		p := start(t, append(common(dir, "alpn.test"), "--https", "127.0.0.1:"+port, "--http", testutil.FreeAddr(t))...)
		verify(t, "alpn.test", port)
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("cache directory %s: %v %v", dir, fi.Mode(), err)
		}
		if !p.logged("acme: certificate ready") {
			t.Errorf("no log line for the certificate:\n%s", p.stderr.String())
		}
		// A name that is not configured gets no certificate, and no order.
		if _, _, err := curl(t, "-k", "--resolve", "other.test:"+port+":127.0.0.1", "https://other.test:"+port+"/healthz"); err == nil {
			t.Error("a name not configured got a certificate")
		}
	})

	t.Run("http-01 behind the redirect", func(t *testing.T) {
		// The TLS listener is not on pebble's TLS-ALPN-01 port, so only the
		// plain listener's HTTP-01 answer can pass validation.
		httpsAddr := testutil.FreeAddr(t)
		_, httpsPort, _ := strings.Cut(httpsAddr, ":")
		plain := "127.0.0.1:" + strconv.Itoa(pb.HTTPPort)
		start(t, append(common(filepath.Join(t.TempDir(), "acme"), "web.test"),
			"--https", httpsAddr, "--http", plain, "--redirect-https")...)
		verify(t, "web.test", httpsPort)
		// Everything else on the plain listener still redirects.
		out, _, _ := curl(t, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", "Host: web.test", "http://"+plain+"/x")
		if out != "308 https://web.test:"+httpsPort+"/x" {
			t.Errorf("plain listener: %q", out)
		}
	})
}
