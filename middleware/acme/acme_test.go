package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// serveTLS answers handshakes on 127.0.0.1:port with mg's certificates and
// closes each connection after its handshake (a TLS-ALPN-01 validation
// speaks no HTTP).
func serveTLS(t *testing.T, mg *Manager, port int) {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{
		GetCertificate: mg.GetCertificate, NextProtos: []string{"http/1.1", ALPNProto}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.(*tls.Conn).Handshake()
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
}

// serveHTTP answers HTTP-01 challenges on 127.0.0.1:port; anything else 404.
func serveHTTP(t *testing.T, mg *Manager, port int) {
	t.Helper()
	notFound := web.HandlerFunc(func(web.ResponseWriter, *web.Request) error { return web.ErrNotFound })
	testserve.HTTPAt(t, "127.0.0.1:"+strconv.Itoa(port), "goroutine", mg.Middleware()(notFound), shttp.Config{})
}

func newManager(t *testing.T, pb *testutil.Pebble, dir string, domains ...string) *Manager {
	t.Helper()
	mg, err := New(Config{Domains: domains, CA: pb.Directory, CARoots: pb.CARoots, CacheDir: dir, Email: "ops@a.test"})
	if err != nil {
		t.Fatal(err)
	}
	return mg
}

// verify checks that c is a certificate for name that pebble's root of this
// run issued.
func verify(t *testing.T, pb *testutil.Pebble, c *tls.Certificate, name string) {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	for _, der := range c.Certificate[1:] {
		ic, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(ic)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: pb.Root(t), Intermediates: inter}); err != nil {
		t.Fatalf("the certificate for %s does not verify against pebble's root: %v", name, err)
	}
}

// A certificate from a real ACME server (pebble) by each challenge, the
// cache that keeps it across a restart, and the names that get none.
func TestIssueFromPebble(t *testing.T) {
	pb := testutil.StartPebble(t)

	t.Run("tls-alpn-01", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "acme")
		mg := newManager(t, pb, dir, "alpn.test")
		serveTLS(t, mg, pb.TLSPort) // nothing on the HTTP-01 port: only TLS-ALPN-01 can pass
		c, err := mg.GetCertificate(&tls.ClientHelloInfo{ServerName: "alpn.test", CipherSuites: ecdsaSuites})
		if err != nil {
			t.Fatal(err)
		}
		verify(t, pb, c, "alpn.test")
		// The cache: files of mode 0600 in a directory of 0700, and a new
		// Manager on it serves the same certificate without an order.
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("cache directory: %v %v", fi.Mode(), err)
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if fi, _ := e.Info(); fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("cache file %s has mode %v", e.Name(), fi.Mode())
			}
		}
		again := newManager(t, pb, dir, "alpn.test")
		c2, err := again.GetCertificate(&tls.ClientHelloInfo{ServerName: "alpn.test", CipherSuites: ecdsaSuites})
		if err != nil || string(c2.Certificate[0]) != string(c.Certificate[0]) {
			t.Fatalf("after a restart on the same cache: %v (same certificate: %v)", err, err == nil && string(c2.Certificate[0]) == string(c.Certificate[0]))
		}
	})

	t.Run("http-01", func(t *testing.T) {
		mg := newManager(t, pb, filepath.Join(t.TempDir(), "acme"), "web.test")
		serveHTTP(t, mg, pb.HTTPPort) // nothing on the TLS-ALPN-01 port
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		done := make(chan struct{})
		go func() { mg.Prefetch(ctx, time.Hour); close(done) }()
		// Prefetch orders in the background; the certificate is in the
		// cache once it has it, and a handshake then needs no order.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			if _, err := mg.m.Cache.Get(ctx, "web.test"); err == nil || time.Now().After(deadline) {
				break
			}
		}
		cancel()
		<-done
		got, err := mg.GetCertificate(&tls.ClientHelloInfo{ServerName: "web.test", CipherSuites: ecdsaSuites})
		if err != nil {
			t.Fatalf("prefetched certificate: %v\npebble:\n%s", err, pb.Output())
		}
		verify(t, pb, got, "web.test")
	})

	t.Run("unknown names", func(t *testing.T) {
		mg := newManager(t, pb, filepath.Join(t.TempDir(), "acme"), "mine.test")
		for _, name := range []string{"other.test", "127.0.0.1", ""} {
			start := time.Now()
			if _, err := mg.GetCertificate(&tls.ClientHelloInfo{ServerName: name, CipherSuites: ecdsaSuites}); err == nil {
				t.Errorf("%q got a certificate", name)
			}
			if time.Since(start) > time.Second {
				t.Errorf("%q took %v: refused after ACME traffic, not before", name, time.Since(start))
			}
		}
		if mg.Manages("other.test") || !mg.Manages("MINE.test.") {
			t.Error("Manages")
		}
	})
}

// Configuration mistakes are refused at New.
func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []Config{
		{CacheDir: dir},
		{Domains: []string{"a.test"}},
		{Domains: []string{"*.a.test"}, CacheDir: dir},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
