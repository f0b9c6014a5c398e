package csrf

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
)

// tokenLen is the length of a token: a synchronizer token's 32 random bytes,
// or a double-submit token's HMAC-SHA256.
const tokenLen = 32

// MaskedLen is the length of a masked token as it travels: base64url of a
// 32-byte pad and the token XORed with it.
var MaskedLen = base64.RawURLEncoding.EncodedLen(2 * tokenLen)

// mask returns a masked form of token, different on every call (BREACH: a
// response compressed with attacker-chosen text beside the token must not
// repeat the same secret bytes in every response).
func mask(token []byte) string {
	var b [2 * tokenLen]byte
	rand.Read(b[:tokenLen]) // never fails (crypto/rand)
	subtle.XORBytes(b[tokenLen:], b[:tokenLen], token)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// unmask returns the token in a masked one, or false for anything that is
// not one: bad base64, a wrong length, empty.
func unmask(masked []byte, out *[tokenLen]byte) bool {
	if len(masked) != MaskedLen {
		return false
	}
	var b [2 * tokenLen]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], masked)
	if err != nil || n != len(b) {
		return false
	}
	subtle.XORBytes(out[:], b[:tokenLen], b[tokenLen:])
	return true
}
