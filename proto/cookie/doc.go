// Package cookie is gatehouse's cookie codec: the Set-Cookie field it sends
// (RFC 6265 §4.1, draft-ietf-httpbis-rfc6265bis), and values sealed with an
// AEAD so that a client can neither read nor forge them.
//
// It is pure: bytes in, bytes out, no I/O. Reading the Cookie field of a
// request is web.Request.Cookie's (RFC 6265bis §5.7.4, fuzzed against
// net/http); this package writes what the server sends and opens what it
// sealed.
//
// Rules it keeps, each for the attack it stops:
//
//   - A name with the __Host- prefix is sent only Secure, with Path=/ and no
//     Domain, and one with __Secure- only Secure (RFC 6265bis §4.1.3); the
//     prefixes are matched without regard to case (§5.6, step 21), as
//     browsers now do, so "__HOST-x" gets the same rules. A __Host- cookie
//     cannot be set by a sibling subdomain or over plain http, so a cookie
//     planted through another host (cookie tossing) never carries the name
//     gatehouse reads.
//   - A cookie whose name and value are longer than 4096 bytes together, or
//     with an attribute value longer than 1024, is refused: browsers ignore
//     it (§5.6, steps 5 and 11), and a session that silently fails to stick
//     is worse than an error.
//   - Max-Age is capped at 400 days (§5.6.2), what browsers cap it at.
//   - SameSite=None needs Secure (browsers drop it otherwise).
//   - A sealed value is XChaCha20-Poly1305 (golang.org/x/crypto) with a
//     random 192-bit nonce under a key derived from the operator's secret
//     (HKDF-SHA256), and the cookie's name as associated data: a value
//     sealed for one cookie does not open as another (the swap gorilla's
//     securecookie also stops by MACing the name).
//   - Keys rotate by key ID: the first key seals, every key opens, and each
//     sealed value carries the 4-byte ID of the key that sealed it.
//   - Secrets come from a key file (ParseKeys), never from code; a key is
//     32 random bytes, made by GenerateKey (gatehouse keygen).
package cookie
