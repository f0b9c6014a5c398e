// Package tlsconf is the TLS of a listener: its certificates, chosen per
// handshake by the name the client asks for (SNI, RFC 6066 §3), and the one
// long-lived crypto/tls configuration that serves them.
//
// The certificates are an immutable store behind an atomic pointer, which
// the configuration's GetCertificate reads on every handshake. Reload (on
// SIGHUP, or when Watch sees a file change) builds a new store from the
// files and swaps it in only if every certificate in it can be served; a
// broken file keeps the old store and is logged with its reason. The
// tls.Config itself is never replaced, so the session-ticket keys Go keeps
// in it (rotated daily, each valid 7 days) survive a reload, and clients
// resume their sessions instead of paying a full handshake each time the
// certificates change.
//
// Everything else is Go's crypto/tls with its defaults (TLS 1.3, the
// post-quantum hybrid X25519MLKEM768 first), except that TLS 1.2 offers
// only the six ECDHE suites with an AEAD cipher (CipherSuites).
package tlsconf
