package config

import (
	"net"
	"strings"
)

// TLS is a listener's TLS: its certificates and protocol settings. See
// docs/tls.md.
type TLS struct {
	// Cert and Key are the files (PEM) of the default certificate: the one
	// served to clients that ask for a name no certificate of Certs holds,
	// or for none (clients connecting by address). Both or neither; without
	// them, such handshakes fail.
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
	// Certs are more certificates, each chosen by the names it holds (the
	// DNS names among its subject alternative names, wildcards included)
	// when a client asks for one of them (SNI).
	Certs []CertFiles `toml:"certs"`
	// MinVersion is the lowest protocol version served: "1.2" (default) or
	// "1.3".
	MinVersion string `toml:"min_version"`
	// Curves are the key exchange groups offered, most preferred first,
	// by their IANA names ("X25519MLKEM768", "x25519", "secp256r1", ...).
	// Default: Go's, post-quantum hybrids first.
	Curves []string `toml:"curves"`
	// HandshakeTimeout bounds the handshake. Default "10s"; "0s": none.
	HandshakeTimeout *Duration `toml:"handshake_timeout"`
	// ACME serves the names of [acme] (by default every site's host name)
	// with certificates obtained from an ACME CA, such as Let's Encrypt,
	// and renewed in the background. With cert and key too, those serve
	// the other names. Default false.
	ACME bool `toml:"acme"`
	// ReloadInterval checks the files' modification times this often and
	// reloads the certificates when one changed. Default: never (SIGHUP
	// reloads them at once); "0s" too.
	ReloadInterval *Duration `toml:"reload_interval"`
}

// CertFiles are a certificate's file and its private key's file, both PEM.
type CertFiles struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// ACME is where certificates of listeners with tls.acme come from (RFC 8555).
type ACME struct {
	// Domains are the names certificates are obtained for, and no other (a
	// certificate for any name a client asks would let anyone spend the
	// CA's rate limits and fill the disk). Default: every site's host
	// that is a name (not a wildcard or an address).
	Domains []string `toml:"domains"`
	// Email is the account's contact, for the CA's notices. Default: none.
	Email string `toml:"email"`
	// CA is the ACME directory URL. Default: Let's Encrypt's production
	// directory.
	CA string `toml:"ca"`
	// CARoot is a PEM file of roots trusted, instead of the system's, for
	// the CA's own HTTPS: a private or test CA. Default: the system's.
	CARoot string `toml:"ca_root"`
	// CacheDir keeps the account key and the certificates (mode 0700, files
	// 0600). Default: /var/lib/gatehouse/acme for root, else the user's
	// cache directory's gatehouse/acme.
	CacheDir string `toml:"cache_dir"`
}

// ACMEDomains returns [acme] domains, or every site's host that is a name.
func (c *Config) ACMEDomains() []string {
	if len(c.ACME.Domains) > 0 {
		return c.ACME.Domains
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range c.Site {
		for _, h := range s.Hosts {
			h = strings.ToLower(strings.TrimSuffix(h, "."))
			if strings.Contains(h, "*") || net.ParseIP(strings.Trim(h, "[]")) != nil || seen[h] {
				continue
			}
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// UsesACME reports whether a listener's certificates come from ACME.
func (c *Config) UsesACME() bool {
	for _, l := range c.Listen {
		if l.TLS != nil && l.TLS.ACME {
			return true
		}
	}
	return false
}
