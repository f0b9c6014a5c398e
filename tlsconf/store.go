package tlsconf

import (
	"crypto/tls"
	"math/big"
	"strings"
	"time"
)

// store is a listener's certificates as one load found them: built once,
// never changed, read by every handshake without a lock.
type store struct {
	byName map[string][]*tls.Certificate // lower-case names and "*.suffix" wildcards
	def    *tls.Certificate              // nil: unknown names fail
	info   []Cert
}

// Cert describes a certificate being served.
type Cert struct {
	Index    int      // its place in Config.Certs; -1 for Config.Default
	File     string   // the certificate's file
	Names    []string // its DNS names, lower case ("*.example.com" for a wildcard)
	Serial   *big.Int
	NotAfter time.Time
	Default  bool // served to clients whose name no certificate holds
}

// normalize is a name as certificates and the store hold it: lower case,
// without the final dot of a fully qualified name.
func normalize(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// lookup chooses the certificate for a handshake: the exact name, then the
// wildcard one level up (RFC 6125 §6.4.3: "*" stands for one whole label,
// the leftmost), then the default; nil if there is none.
func (s *store) lookup(hello *tls.ClientHelloInfo) *tls.Certificate {
	name := normalize(hello.ServerName)
	if name != "" {
		if c := choose(hello, s.byName[name]); c != nil {
			return c
		}
		if i := strings.IndexByte(name, '.'); i > 0 {
			if c := choose(hello, s.byName["*"+name[i:]]); c != nil {
				return c
			}
		}
	}
	return s.def
}

// choose picks, among certificates for one name, the first the client can
// use (an ECDSA one for a client that signs only with RSA will not do); the
// first if it can use none, so that the handshake fails on the client's
// terms and not as an unknown name.
func choose(hello *tls.ClientHelloInfo, cs []*tls.Certificate) *tls.Certificate {
	switch len(cs) {
	case 0:
		return nil
	case 1:
		return cs[0]
	}
	for _, c := range cs {
		if hello.SupportsCertificate(c) == nil {
			return c
		}
	}
	return cs[0]
}

// add files c under each of its names.
func (s *store) add(c *tls.Certificate, names []string) {
	for _, n := range names {
		s.byName[n] = append(s.byName[n], c)
	}
}
