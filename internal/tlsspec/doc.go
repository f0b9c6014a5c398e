// Package tlsspec holds the TLS names gatehouse's configuration uses, each
// written once: protocol versions ("1.2", "1.3") and key exchange groups
// (RFC 8446 §4.2.7, the IANA TLS Supported Groups registry), which config
// validates and tlsconf turns into crypto/tls values.
//
// It sits at layer 0 so that config (which may import nothing else of
// gatehouse) and tlsconf, which owns the TLS configuration, share it.
package tlsspec
