package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Reasons a certificate is refused, for errors.Is.
var (
	ErrExpired     = errors.New("expired")
	ErrNotYetValid = errors.New("not valid before")
	ErrNoName      = errors.New("names no host (no DNS name among its subject alternative names), so no client could ask for it")
)

// CertError is a certificate that cannot be served: which one, the file at
// fault and the reason.
type CertError struct {
	// Index is the certificate's place in Config.Certs, or -1 for
	// Config.Default.
	Index int
	// File is the file at fault: the certificate's, or its key's when
	// KeyFile is set.
	File    string
	KeyFile bool
	Err     error
}

func (e *CertError) Error() string { return e.File + ": " + e.Err.Error() }
func (e *CertError) Unwrap() error { return e.Err }

// load reads every certificate c names into a new store. Any certificate
// that cannot be served fails the whole load: a store is swapped in whole
// or not at all.
func load(c *Config) (*store, error) {
	if c.Default == nil && len(c.Certs) == 0 && c.Issuer == nil {
		return nil, errors.New("tlsconf: no certificate")
	}
	now := time.Now()
	s := &store{byName: map[string][]*tls.Certificate{}}
	for i, p := range c.Certs {
		cert, info, err := loadPair(p, now)
		if err != nil {
			err.Index = i
			return nil, err
		}
		if len(info.Names) == 0 {
			// Chosen only by name, it could never be chosen.
			return nil, &CertError{Index: i, File: p.Cert, Err: ErrNoName}
		}
		info.Index = i
		s.add(cert, info.Names)
		s.info = append(s.info, info)
	}
	if p := c.Default; p != nil {
		cert, info, err := loadPair(*p, now)
		if err != nil {
			err.Index = -1
			return nil, err
		}
		info.Index, info.Default = -1, true
		s.add(cert, info.Names)
		s.def = cert
		s.info = append(s.info, info)
	}
	return s, nil
}

// loadPair reads one certificate and its key and checks that they can be
// served now: the certificate parses, the key is its key, and it is within
// its validity (an expired certificate fails every client that checks,
// which is all of them, so serving it would only hide the problem).
func loadPair(p Pair, now time.Time) (*tls.Certificate, Cert, *CertError) {
	certPEM, err := readFile(p.Cert)
	if err != nil {
		return nil, Cert{}, &CertError{File: p.Cert, Err: err}
	}
	keyPEM, err := readFile(p.Key)
	if err != nil {
		return nil, Cert{}, &CertError{File: p.Key, KeyFile: true, Err: err}
	}
	leaf, err := parseLeaf(certPEM)
	if err != nil {
		return nil, Cert{}, &CertError{File: p.Cert, Err: err}
	}
	// The certificate is sound now, so what X509KeyPair finds wrong is the
	// key: not PEM, not a key, or not the certificate's key.
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, Cert{}, &CertError{File: p.Key, KeyFile: true, Err: fmt.Errorf("not the key of %s: %w", p.Cert, err)}
	}
	cert.Leaf = leaf
	const day = "2006-01-02 15:04:05 MST"
	switch {
	case now.After(leaf.NotAfter):
		return nil, Cert{}, &CertError{File: p.Cert, Err: fmt.Errorf("%w on %s", ErrExpired, leaf.NotAfter.UTC().Format(day))}
	case now.Before(leaf.NotBefore):
		return nil, Cert{}, &CertError{File: p.Cert, Err: fmt.Errorf("%w %s", ErrNotYetValid, leaf.NotBefore.UTC().Format(day))}
	}
	info := Cert{File: p.Cert, Serial: leaf.SerialNumber, NotAfter: leaf.NotAfter}
	for _, n := range leaf.DNSNames {
		info.Names = append(info.Names, normalize(n))
	}
	return &cert, info, nil
}

// readFile reads a file; its error leaves the path out (the CertError has
// it).
func readFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return b, err
}

// parseLeaf returns the first certificate of a PEM file, and says what the
// file holds instead when it holds none.
func parseLeaf(data []byte) (*x509.Certificate, error) {
	sawKey := false
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		switch {
		case b == nil && sawKey:
			return nil, errors.New("holds a private key and no certificate: are cert and key swapped?")
		case b == nil:
			return nil, errors.New("holds no PEM certificate (a \"BEGIN CERTIFICATE\" block)")
		case b.Type == "CERTIFICATE":
			leaf, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("bad certificate: %w", err)
			}
			return leaf, nil
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			sawKey = true
		}
	}
}
