package tlsconf

import (
	"crypto/tls"
	"log/slog"
	"sync"
	"sync/atomic"
)

// CipherSuites are the TLS 1.2 suites a listener offers: ECDHE key exchange
// (forward secrecy) with an AEAD cipher, Mozilla's "intermediate" list. Go's
// default list adds the ECDHE suites with AES-CBC and HMAC-SHA1; those are
// left out because CBC in TLS 1.2 is MAC-then-encrypt, the construction
// behind a decade of padding-oracle and timing attacks (Lucky Thirteen,
// CVE-2013-0169; POODLE's kin). Go's CBC code is constant-time, but every
// client that speaks TLS 1.2 with ECDHE also speaks AES-GCM, so the suites
// buy nothing and cost a "potentially vulnerable" line in every scan. The
// RSA key-exchange suites (no forward secrecy; ROBOT) are off in Go already.
// TLS 1.3's suites are all AEAD and not configurable. The order does not
// matter: Go orders suites itself, by the hardware it runs on.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Pair is a certificate file and its private key's file, both PEM. The
// certificate file may hold the chain after the leaf (intermediates, leaf
// first), as certbot's fullchain.pem does.
type Pair struct {
	Cert, Key string
}

// Config describes a listener's TLS.
type Config struct {
	// Default is the certificate served when none of Certs holds the name
	// a client asks for, or when it asks for none (a client connecting by
	// address). nil: such a handshake fails with the unrecognized_name
	// alert.
	Default *Pair
	// Certs are chosen by the DNS names among their subject alternative
	// names: the exact name first, then a wildcard ("*.example.com" for
	// "a.example.com"). Where several hold a name, the first the client can
	// use wins (an ECDSA and an RSA certificate for the same names, for old
	// clients). Default's names are looked up too, after Certs'.
	Certs []Pair
	// MinVersion is the lowest protocol version served: tls.VersionTLS12
	// (the default, 0 too) or tls.VersionTLS13.
	MinVersion uint16
	// Curves are the key exchange groups offered, most preferred first.
	// nil: Go's defaults (X25519MLKEM768, SecP256r1MLKEM768,
	// SecP384r1MLKEM1024, X25519, P-256, P-384, P-521).
	Curves []tls.CurveID
	// Issuer, when set, serves the names it manages (certificates from an
	// ACME CA), ahead of the files: a name it manages is never looked up
	// among Certs or answered with Default. nil: the files only.
	Issuer Issuer
	// Name names the listener in the log (its address).
	Name string
	// Logger receives reloads and their failures. nil: slog.Default().
	Logger *slog.Logger
}

// Certs is one listener's TLS: the long-lived tls.Config (TLSConfig) and
// the certificates it serves, which Reload replaces.
type Certs struct {
	cfg Config
	log *slog.Logger
	tls *tls.Config
	cur atomic.Pointer[store]

	mu     sync.Mutex // one Reload at a time
	stamps []stamp    // the files as the last load read them
}

// New loads the certificates c names and returns the listener's TLS. An
// error (a *CertError) names the file that cannot be served and why.
func New(c Config) (*Certs, error) {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	cs := &Certs{cfg: c, log: c.Logger}
	s, err := load(&c)
	cs.stamps = stampFiles(&c)
	if err != nil {
		return nil, err
	}
	cs.cur.Store(s)
	min := c.MinVersion
	if min == 0 {
		min = tls.VersionTLS12
	}
	cs.tls = &tls.Config{
		MinVersion:       min,
		CipherSuites:     CipherSuites,
		CurvePreferences: c.Curves,
		GetCertificate:   cs.getCertificate,
	}
	return cs, nil
}

// TLSConfig returns the listener's configuration: always the same one, for
// the listener's whole life (its session-ticket keys live in it). Callers
// may Clone it to set NextProtos; a clone shares the keys and the
// certificates.
func (cs *Certs) TLSConfig() *tls.Config { return cs.tls }

// Certificates describes the certificates being served.
func (cs *Certs) Certificates() []Cert { return cs.cur.Load().info }

// Issuer obtains certificates for some names itself (middleware/acme's
// Manager): for those, and for its challenges (TLS-ALPN-01 asks for the
// managed name), it answers the handshake.
type Issuer interface {
	Manages(name string) bool
	GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
}

func (cs *Certs) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if is := cs.cfg.Issuer; is != nil && hello.ServerName != "" && is.Manages(hello.ServerName) {
		return is.GetCertificate(hello)
	}
	if c := cs.cur.Load().lookup(hello); c != nil {
		return c, nil
	}
	// nil, nil: crypto/tls then answers with the unrecognized_name alert
	// (RFC 6066 §3), which is what the client should hear; an error of
	// ours would be sent as internal_error.
	cs.log.Debug("tls: no certificate for the name asked", "listener", cs.cfg.Name, "server_name", hello.ServerName)
	return nil, nil
}
