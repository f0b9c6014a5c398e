package tlsspec

import (
	"crypto/tls"
	"strings"
)

// Versions are the protocol versions a listener may require at least, by
// the name the configuration gives them. TLS 1.0 and 1.1 are not among them:
// RFC 8996 deprecates both (no AEAD suite, SHA-1 in the handshake's
// signatures), and Go's server refuses them by default.
var Versions = []Version{{"1.2", tls.VersionTLS12}, {"1.3", tls.VersionTLS13}}

// Version is one protocol version.
type Version struct {
	Name string
	ID   uint16
}

// ParseVersion returns the version named name ("1.2" or "1.3").
func ParseVersion(name string) (uint16, bool) {
	for _, v := range Versions {
		if v.Name == name {
			return v.ID, true
		}
	}
	return 0, false
}

// Group is a key exchange group (a "curve" in older TLS words).
type Group struct {
	Name string // as the IANA registry writes it
	ID   tls.CurveID
	// Hybrid: a post-quantum hybrid (ML-KEM with an elliptic curve), which
	// only TLS 1.3 negotiates.
	Hybrid bool
}

// Groups are the key exchange groups a listener may offer, in Go 1.26's
// default order of preference: the post-quantum hybrids first, then the
// elliptic curves.
var Groups = []Group{
	{"X25519MLKEM768", tls.X25519MLKEM768, true},
	{"SecP256r1MLKEM768", tls.SecP256r1MLKEM768, true},
	{"SecP384r1MLKEM1024", tls.SecP384r1MLKEM1024, true},
	{"x25519", tls.X25519, false},
	{"secp256r1", tls.CurveP256, false},
	{"secp384r1", tls.CurveP384, false},
	{"secp521r1", tls.CurveP521, false},
}

// aliases are the other names the same curves go by (OpenSSL's and Go's).
var aliases = map[string]string{
	"p-256": "secp256r1", "prime256v1": "secp256r1",
	"p-384": "secp384r1", "p-521": "secp521r1",
}

// ParseGroup returns the group named name, without regard to case; the
// NIST curves are also known as "P-256", "P-384", "P-521" and (OpenSSL's
// name) "prime256v1".
func ParseGroup(name string) (Group, bool) {
	n := strings.ToLower(name)
	if a, ok := aliases[n]; ok {
		n = a
	}
	for _, g := range Groups {
		if strings.ToLower(g.Name) == n {
			return g, true
		}
	}
	return Group{}, false
}

// GroupNames is every group's name, for hints.
func GroupNames() []string {
	names := make([]string, len(Groups))
	for i, g := range Groups {
		names[i] = g.Name
	}
	return names
}
