package tlsconf

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// handshake runs one TLS handshake between cs and a client configured by cc
// over an in-memory connection, and returns the client's view of it.
func handshake(t *testing.T, cs *Certs, cc *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	srv := tls.Server(a, cs.TLSConfig())
	done := make(chan error, 1)
	go func() {
		err := srv.Handshake()
		if err == nil {
			_, err = srv.Write([]byte("x")) // after the session tickets (TLS 1.3)
		}
		done <- err
	}()
	if cc.ServerName == "" && !cc.InsecureSkipVerify {
		cc.InsecureSkipVerify = true
	}
	cli := tls.Client(b, cc)
	cli.SetDeadline(time.Now().Add(10 * time.Second))
	err := cli.Handshake()
	if err == nil {
		_, err = cli.Read(make([]byte, 1)) // takes the tickets in
	} else {
		b.Close() // the server may be waiting for a read
	}
	<-done
	return cli.ConnectionState(), err
}

// serial returns the serial of the certificate a client asking for name gets.
func serial(t *testing.T, cs *Certs, name string) (int64, error) {
	t.Helper()
	st, err := handshake(t, cs, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err != nil {
		return 0, err
	}
	return st.PeerCertificates[0].SerialNumber.Int64(), nil
}

func quiet() *testutil.LogBuffer { return &testutil.LogBuffer{} }

// The certificate is chosen by the name the client asks for: exact (any
// case, with or without the final dot), then the wildcard one label up,
// then the default; without a default, an unknown name (or none) fails the
// handshake with unrecognized_name, and nothing panics.
func TestSNISelection(t *testing.T) {
	dir := t.TempDir()
	ac, ak := testutil.WriteCert(t, dir, "a", testutil.CertSpec{Names: []string{"a.example.com"}, Serial: 1})
	wc, wk := testutil.WriteCert(t, dir, "wild", testutil.CertSpec{Names: []string{"*.example.com"}, Serial: 2})
	oc, ok := testutil.WriteCert(t, dir, "org", testutil.CertSpec{Names: []string{"example.org", "www.example.org"}, Serial: 3})
	dc, dk := testutil.WriteCert(t, dir, "def", testutil.CertSpec{Serial: 9})
	certs := []Pair{{ac, ak}, {wc, wk}, {oc, ok}}

	withDefault, err := New(Config{Certs: certs, Default: &Pair{dc, dk}, Logger: quiet().Logger()})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := New(Config{Certs: certs, Logger: quiet().Logger()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		want   int64 // with the default
		strict int64 // without: 0 is a failed handshake
	}{
		{"a.example.com", 1, 1},
		{"A.Example.COM", 1, 1},
		{"a.example.com.", 1, 1},
		{"b.example.com", 2, 2},
		{"x.b.example.com", 9, 0}, // "*" is one label
		{"example.com", 9, 0},     // the wildcard does not hold the bare name
		{"www.example.org", 3, 3},
		{"example.org", 3, 3},
		{"localhost", 9, 0}, // the default's own name
		{"unknown.test", 9, 0},
		{"", 9, 0}, // no SNI, as a client connecting by address
	} {
		got, err := serial(t, withDefault, c.name)
		if err != nil || got != c.want {
			t.Errorf("%q with a default: serial %d (%v), want %d", c.name, got, err, c.want)
		}
		got, err = serial(t, strict, c.name)
		switch {
		case c.strict == 0 && (err == nil || !strings.Contains(err.Error(), "unrecognized name")):
			t.Errorf("%q without a default: serial %d, %v; want the unrecognized_name alert", c.name, got, err)
		case c.strict != 0 && (err != nil || got != c.strict):
			t.Errorf("%q without a default: serial %d (%v), want %d", c.name, got, err, c.strict)
		}
	}
}

// With an ECDSA and an RSA certificate for one name, a client that can use
// only RSA gets the RSA one; others the first.
func TestChooseByKeyType(t *testing.T) {
	dir := t.TempDir()
	ec, ek := testutil.WriteCert(t, dir, "ec", testutil.CertSpec{Names: []string{"example.com"}, Serial: 1})
	rc, rk := testutil.WriteCert(t, dir, "rsa", testutil.CertSpec{Names: []string{"example.com"}, Serial: 2, RSA: true})
	cs, err := New(Config{Certs: []Pair{{ec, ek}, {rc, rk}}, Logger: quiet().Logger()})
	if err != nil {
		t.Fatal(err)
	}
	hello := func(suite uint16) *tls.ClientHelloInfo {
		return &tls.ClientHelloInfo{ServerName: "example.com", CipherSuites: []uint16{suite},
			SupportedVersions: []uint16{tls.VersionTLS12}, SupportedCurves: []tls.CurveID{tls.CurveP256},
			SupportedPoints: []uint8{0}, SignatureSchemes: []tls.SignatureScheme{tls.PKCS1WithSHA256, tls.ECDSAWithP256AndSHA256}}
	}
	for _, c := range []struct {
		suite uint16
		want  int64
	}{{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 1}, {tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, 2}} {
		got, _ := cs.getCertificate(hello(c.suite))
		if got == nil || got.Leaf.SerialNumber.Int64() != c.want {
			t.Errorf("suite %s: %v, want serial %d", tls.CipherSuiteName(c.suite), got, c.want)
		}
	}
	// Over a real handshake, a modern client gets the first.
	if got, err := serial(t, cs, "example.com"); err != nil || got != 1 {
		t.Errorf("handshake: serial %d (%v), want 1", got, err)
	}
}

// A certificate that cannot be served is refused with its file and the
// reason: at start (New), and at reload (the old ones keep serving).
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good, goodKey := testutil.WriteCert(t, dir, "good", testutil.CertSpec{Names: []string{"example.com"}})
	_, otherKey := testutil.WriteCert(t, dir, "other", testutil.CertSpec{Names: []string{"example.com"}})
	expired, expiredKey := testutil.WriteCert(t, dir, "expired", testutil.CertSpec{Names: []string{"example.com"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	future, futureKey := testutil.WriteCert(t, dir, "future", testutil.CertSpec{Names: []string{"example.com"},
		NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})
	noName, noNameKey := testutil.WriteCert(t, dir, "noname", testutil.CertSpec{IPOnly: true})
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not PEM at all\n"), 0o644)
	missing := filepath.Join(dir, "missing.pem")

	for _, c := range []struct {
		name     string
		cfg      Config
		file     string
		contains string
		index    int  // -1: the default
		key      bool // the key file is at fault
	}{
		{"missing certificate", Config{Default: &Pair{missing, goodKey}}, missing, "no such file", -1, false},
		{"missing key", Config{Default: &Pair{good, missing}}, missing, "no such file", -1, true},
		{"garbage certificate", Config{Default: &Pair{garbage, goodKey}}, garbage, "holds no PEM certificate", -1, false},
		{"swapped", Config{Default: &Pair{goodKey, good}}, goodKey, "are cert and key swapped?", -1, false},
		{"garbage key", Config{Default: &Pair{good, garbage}}, garbage, "not the key of " + good, -1, true},
		{"mismatched key", Config{Default: &Pair{good, otherKey}}, otherKey, "private key does not match public key", -1, true},
		{"expired", Config{Default: &Pair{expired, expiredKey}}, expired, "expired on ", -1, false},
		{"not yet valid", Config{Default: &Pair{future, futureKey}}, future, "not valid before ", -1, false},
		{"no name to choose it by", Config{Certs: []Pair{{noName, noNameKey}}}, noName, "names no host", 0, false},
		{"a bad one among good ones", Config{Certs: []Pair{{good, goodKey}, {expired, expiredKey}}}, expired, "expired", 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.Logger = quiet().Logger()
			_, err := New(c.cfg)
			var ce *CertError
			if !errors.As(err, &ce) || ce.File != c.file || !strings.Contains(err.Error(), c.contains) ||
				ce.Index != c.index || ce.KeyFile != c.key {
				t.Fatalf("New: %#v; want a CertError for %s (certificate %d, key %v) containing %q", err, c.file, c.index, c.key, c.contains)
			}
		})
	}
	if _, err := New(Config{}); err == nil {
		t.Error("no certificate at all: no error")
	}
	// An issuer alone (ACME) is enough: it serves the names it manages.
	if _, err := New(Config{Issuer: fakeIssuer{}, Logger: quiet().Logger()}); err != nil {
		t.Errorf("an issuer and no files: %v", err)
	}
	// The default needs no name: clients that ask for none get it.
	if _, err := New(Config{Default: &Pair{noName, noNameKey}, Logger: quiet().Logger()}); err != nil {
		t.Errorf("a default without DNS names: %v", err)
	}
}

// swap replaces a certificate's files by a new certificate's, as a renewal
// does: written beside them and renamed over them, so that no reader ever
// sees half a file.
func swap(t *testing.T, certFile, keyFile string, spec testutil.CertSpec) {
	t.Helper()
	tmp := t.TempDir()
	c, k := testutil.WriteCert(t, tmp, "new", spec)
	if err := os.Rename(c, certFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(k, keyFile); err != nil {
		t.Fatal(err)
	}
}

// Reload serves the new certificate to the next handshake; a broken file
// keeps the old one, logged with the file and the reason; and sessions
// resume across reloads, because the tls.Config, which holds the ticket
// keys, is the same one.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	cf, kf := testutil.WriteCert(t, dir, "site", testutil.CertSpec{Names: []string{"example.com"}, Serial: 1})
	log := quiet()
	cs, err := New(Config{Default: &Pair{cf, kf}, Name: "127.0.0.1:443", Logger: log.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := cs.TLSConfig()
	sessions := tls.NewLRUClientSessionCache(4)
	resuming := &tls.Config{ServerName: "example.com", InsecureSkipVerify: true, ClientSessionCache: sessions}
	if st, err := handshake(t, cs, resuming); err != nil || st.DidResume {
		t.Fatalf("first handshake: %v, resumed %v", err, st.DidResume)
	}

	swap(t, cf, kf, testutil.CertSpec{Names: []string{"example.com"}, Serial: 2})
	if err := cs.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, err := serial(t, cs, "example.com"); err != nil || got != 2 {
		t.Fatalf("after the reload: serial %d (%v), want 2", got, err)
	}
	if cs.TLSConfig() != cfg {
		t.Fatal("Reload replaced the tls.Config")
	}
	// The session from before the reload resumes.
	if st, err := handshake(t, cs, resuming); err != nil || !st.DidResume {
		t.Fatalf("handshake after the reload: %v, resumed %v; want a resumed session", err, st.DidResume)
	}
	log.WaitFor(t, "tls: certificates reloaded")

	// A broken certificate: the old one keeps serving, and the log says
	// which file and why.
	os.WriteFile(cf, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o644)
	err = cs.Reload()
	if err == nil {
		t.Fatal("a broken certificate reloaded")
	}
	if got, err := serial(t, cs, "example.com"); err != nil || got != 2 {
		t.Fatalf("after a broken reload: serial %d (%v), want the old 2", got, err)
	}
	log.WaitFor(t, "certificates not reloaded; the old ones keep serving")
	if l := log.String(); !strings.Contains(l, "file="+cf) || !strings.Contains(l, "holds no PEM certificate") || !strings.Contains(l, "listener=127.0.0.1:443") {
		t.Fatalf("log:\n%s", l)
	}
	// An expired renewal is refused the same way.
	swap(t, cf, kf, testutil.CertSpec{Names: []string{"example.com"}, Serial: 3, NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	if err := cs.Reload(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired renewal: %v", err)
	}
	if got, _ := serial(t, cs, "example.com"); got != 2 {
		t.Fatalf("after an expired renewal: serial %d, want the old 2", got)
	}
}

// ReloadIfChanged reloads only when a file changed, and tries a failed
// reload again only when a file changes again.
func TestReloadIfChanged(t *testing.T) {
	dir := t.TempDir()
	cf, kf := testutil.WriteCert(t, dir, "site", testutil.CertSpec{Names: []string{"example.com"}, Serial: 1})
	cs, err := New(Config{Certs: []Pair{{cf, kf}}, Logger: quiet().Logger()})
	if err != nil {
		t.Fatal(err)
	}
	if tried, _ := cs.ReloadIfChanged(); tried {
		t.Fatal("reloaded with nothing changed")
	}
	swap(t, cf, kf, testutil.CertSpec{Names: []string{"example.com"}, Serial: 2})
	if tried, err := cs.ReloadIfChanged(); !tried || err != nil {
		t.Fatalf("after a renewal: tried %v, %v", tried, err)
	}
	if got, _ := serial(t, cs, "example.com"); got != 2 {
		t.Fatalf("serial %d, want 2", got)
	}
	// Half a renewal: a new certificate, the old key.
	_, otherKey := testutil.WriteCert(t, t.TempDir(), "other", testutil.CertSpec{Names: []string{"example.com"}})
	key, _ := os.ReadFile(kf)
	swap(t, cf, kf, testutil.CertSpec{Names: []string{"example.com"}, Serial: 3})
	os.WriteFile(kf, key, 0o600) // the old key back: a mismatch
	if tried, err := cs.ReloadIfChanged(); !tried || err == nil {
		t.Fatalf("mismatched key: tried %v, %v", tried, err)
	}
	if tried, _ := cs.ReloadIfChanged(); tried {
		t.Fatal("a failed reload was tried again with nothing changed")
	}
	if got, _ := serial(t, cs, "example.com"); got != 2 {
		t.Fatalf("serial %d, want the old 2", got)
	}
	_ = otherKey
}

// Watch polls until its context ends.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	cf, kf := testutil.WriteCert(t, dir, "site", testutil.CertSpec{Names: []string{"example.com"}, Serial: 1})
	log := quiet()
	cs, err := New(Config{Certs: []Pair{{cf, kf}}, Logger: log.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { cs.Watch(ctx, 10*time.Millisecond); close(done) }()
	swap(t, cf, kf, testutil.CertSpec{Names: []string{"example.com"}, Serial: 2})
	log.WaitFor(t, "tls: certificates reloaded")
	cancel()
	<-done
	if got, _ := serial(t, cs, "example.com"); got != 2 {
		t.Fatalf("serial %d, want 2", got)
	}
}

// fakeIssuer manages one name and answers it with one certificate.
type fakeIssuer struct{ cert *tls.Certificate }

func (fakeIssuer) Manages(name string) bool { return name == "issued.test" }
func (f fakeIssuer) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.cert, nil
}

// The issuer answers the names it manages, ahead of every file (a TLS-ALPN-01
// validation asks for such a name); other names are the files' as before.
func TestIssuerFirst(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WriteCert(t, dir, "issued", testutil.CertSpec{Names: []string{"issued.test", "file.test"}})
	issued := &tls.Certificate{}
	cs, err := New(Config{Default: &Pair{cert, key}, Issuer: fakeIssuer{issued}, Logger: quiet().Logger()})
	if err != nil {
		t.Fatal(err)
	}
	get := cs.TLSConfig().GetCertificate
	if c, err := get(&tls.ClientHelloInfo{ServerName: "issued.test"}); err != nil || c != issued {
		t.Errorf("a managed name: %v, %v; want the issuer's certificate", c, err)
	}
	for _, name := range []string{"file.test", ""} {
		if c, err := get(&tls.ClientHelloInfo{ServerName: name}); err != nil || c == nil || c == issued {
			t.Errorf("%q: %v, %v; want the file's certificate", name, c, err)
		}
	}
}
