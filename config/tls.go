package config

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
