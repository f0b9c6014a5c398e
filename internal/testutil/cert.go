package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SelfSigned returns a certificate for localhost and 127.0.0.1, valid for an
// hour, for TLS tests.
func SelfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	c, _, _ := makeCert(t, CertSpec{NotAfter: time.Now().Add(time.Hour)})
	return c
}

// CertSpec describes a self-signed test certificate. Zero fields take the
// defaults given.
type CertSpec struct {
	Names     []string  // DNS names; default localhost (with 127.0.0.1 and ::1)
	Serial    int64     // default 1
	NotBefore time.Time // default an hour ago
	NotAfter  time.Time // default a day from now
	RSA       bool      // an RSA 2048 key instead of ECDSA P-256
	IPOnly    bool      // no DNS name: 127.0.0.1 and ::1 only
}

// Cert returns a self-signed certificate as spec describes.
func Cert(t testing.TB, spec CertSpec) tls.Certificate {
	t.Helper()
	c, _, _ := makeCert(t, spec)
	return c
}

// WriteCert writes a self-signed certificate as spec describes to
// dir/name.pem and its key to dir/name.key (PEM), and returns the paths.
func WriteCert(t testing.TB, dir, name string, spec CertSpec) (certFile, keyFile string) {
	t.Helper()
	_, certPEM, keyPEM := makeCert(t, spec)
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func makeCert(t testing.TB, spec CertSpec) (tls.Certificate, []byte, []byte) {
	t.Helper()
	var key crypto.Signer
	var err error
	if spec.RSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(max(spec.Serial, 1)),
		NotBefore:    spec.NotBefore, NotAfter: spec.NotAfter, DNSNames: spec.Names,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if len(spec.Names) == 0 {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		if !spec.IPOnly {
			tmpl.DNSNames = []string{"localhost"}
		}
	}
	tmpl.Subject = pkix.Name{CommonName: "localhost"}
	if len(tmpl.DNSNames) > 0 {
		tmpl.Subject.CommonName = tmpl.DNSNames[0]
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	if spec.RSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certPEM, keyPEM
}
