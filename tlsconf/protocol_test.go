package tlsconf

import (
	"crypto/tls"
	"testing"

	"gatehouse/internal/testutil"
)

func newCerts(t *testing.T, c Config) *Certs {
	t.Helper()
	cf, kf := testutil.WriteCert(t, t.TempDir(), "site", testutil.CertSpec{})
	c.Default = &Pair{cf, kf}
	c.Logger = quiet().Logger()
	cs, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TLS 1.2 only with ECDHE and an AEAD cipher; nothing below TLS 1.2.
func TestProtocolDefaults(t *testing.T) {
	cs := newCerts(t, Config{})
	for _, c := range []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"TLS 1.3", &tls.Config{}, true},
		{"TLS 1.2 with AES-GCM", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 with ChaCha20", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, true},
		{"TLS 1.2 with AES-CBC only", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
				tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}, false},
	} {
		st, err := handshake(t, cs, c.client)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v (suite %s)", c.name, err, tls.CipherSuiteName(st.CipherSuite))
		}
	}
	for _, s := range cs.TLSConfig().CipherSuites {
		for _, weak := range tls.InsecureCipherSuites() {
			if s == weak.ID {
				t.Errorf("offers %s", weak.Name)
			}
		}
	}
}

// A Go client gets the post-quantum hybrid X25519MLKEM768 by default
// (research §3.1: scanners built on OpenSSL 3.0 cannot see it).
func TestPostQuantumGroup(t *testing.T) {
	cs := newCerts(t, Config{})
	st, err := handshake(t, cs, &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519}})
	if err != nil || st.CurveID != tls.X25519MLKEM768 {
		t.Fatalf("%v: group %v, want X25519MLKEM768", err, st.CurveID)
	}
	// The default client too.
	st, err = handshake(t, cs, &tls.Config{})
	if err != nil || st.CurveID != tls.X25519MLKEM768 {
		t.Fatalf("default client: %v: group %v, want X25519MLKEM768", err, st.CurveID)
	}
}

// min_version and curves.
func TestMinVersionAndCurves(t *testing.T) {
	only13 := newCerts(t, Config{MinVersion: tls.VersionTLS13})
	if _, err := handshake(t, only13, &tls.Config{MaxVersion: tls.VersionTLS12}); err == nil {
		t.Error("TLS 1.2 client served by a 1.3-only listener")
	}
	if st, err := handshake(t, only13, &tls.Config{}); err != nil || st.Version != tls.VersionTLS13 {
		t.Errorf("TLS 1.3: %v, version %x", err, st.Version)
	}
	classic := newCerts(t, Config{Curves: []tls.CurveID{tls.X25519, tls.CurveP256}})
	if st, err := handshake(t, classic, &tls.Config{}); err != nil || st.CurveID != tls.X25519 {
		t.Errorf("curves = x25519, secp256r1: %v, group %v", err, st.CurveID)
	}
	if _, err := handshake(t, classic, &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519MLKEM768}}); err == nil {
		t.Error("a client offering only X25519MLKEM768 was served by a listener without it")
	}
}
