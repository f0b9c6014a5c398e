package cookie

import (
	"bytes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// KeySize is the size of a secret in a key file: 32 random bytes.
const KeySize = 32

// MaxKeys bounds the keys of one file: the current one and those being
// rotated out. Opening tries the key a value names, so more keys cost
// nothing per request, but a file with hundreds is a mistake.
const MaxKeys = 16

// MaxKeyFile bounds the size of a key file the parser reads.
const MaxKeyFile = 64 << 10

// ErrNoKey reports a key file without a key.
var ErrNoKey = errors.New("cookie: no key (make one with gatehouse keygen)")

// Keys are the secrets gatehouse seals cookies and signs tokens with. The
// first seals and signs; all open and verify, so a new key can be put first
// while values sealed with the old ones still open, until the old key is
// removed. A Keys is safe for concurrent use.
type Keys struct {
	keys []key
}

type key struct {
	id   [4]byte
	aead cipher.AEAD
	mac  []byte // the HMAC key, for MAC
}

// Purposes of the keys derived from one secret: a secret's seal key never
// signs and its signing key never seals.
const (
	infoSeal = "gatehouse cookie seal v1"
	infoMAC  = "gatehouse mac v1"
	infoID   = "gatehouse key id v1"
)

// NewKeys returns keys from secrets of KeySize bytes each, the first the one
// that seals.
func NewKeys(secrets ...[]byte) (*Keys, error) {
	if len(secrets) == 0 {
		return nil, ErrNoKey
	}
	if len(secrets) > MaxKeys {
		return nil, fmt.Errorf("cookie: %d keys, at most %d", len(secrets), MaxKeys)
	}
	k := &Keys{}
	for i, s := range secrets {
		if len(s) != KeySize {
			return nil, fmt.Errorf("cookie: key %d is %d bytes, want %d", i+1, len(s), KeySize)
		}
		sealKey, err := hkdf.Key(sha256.New, s, nil, infoSeal, chacha20poly1305.KeySize)
		if err != nil {
			return nil, err
		}
		aead, err := chacha20poly1305.NewX(sealKey)
		if err != nil {
			return nil, err
		}
		macKey, err := hkdf.Key(sha256.New, s, nil, infoMAC, 32)
		if err != nil {
			return nil, err
		}
		id, err := hkdf.Key(sha256.New, s, nil, infoID, 4)
		if err != nil {
			return nil, err
		}
		kk := key{aead: aead, mac: macKey}
		copy(kk.id[:], id)
		k.keys = append(k.keys, kk)
	}
	return k, nil
}

// ParseKeys reads a key file: one key per line, base64 (standard or URL
// alphabet, padded or not) of KeySize bytes, newest first; blank lines and
// lines starting with '#' are skipped. A problem names its line.
func ParseKeys(data []byte) (*Keys, error) {
	if len(data) > MaxKeyFile {
		return nil, fmt.Errorf("cookie: key file of %d bytes, at most %d", len(data), MaxKeyFile)
	}
	var secrets [][]byte
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		s, err := decodeKey(line)
		if err != nil {
			return nil, fmt.Errorf("cookie: line %d: %w", n+1, err)
		}
		secrets = append(secrets, s)
	}
	return NewKeys(secrets...)
}

func decodeKey(line []byte) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.StdEncoding} {
		if s, err := enc.Strict().DecodeString(string(line)); err == nil {
			if len(s) != KeySize {
				return nil, fmt.Errorf("key of %d bytes, want %d", len(s), KeySize)
			}
			return s, nil
		}
	}
	return nil, errors.New("not a base64 key")
}

// GenerateKey returns a new secret from crypto/rand, as a key file's line.
func GenerateKey() string {
	var s [KeySize]byte
	rand.Read(s[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// Len returns the number of keys.
func (k *Keys) Len() int { return len(k.keys) }

// ID returns the ID of key i (0 is the one that seals), for logs.
func (k *Keys) ID(i int) string { return fmt.Sprintf("%x", k.keys[i].id) }

// A sealed value is base64url without padding of
//
//	version (1 byte, 1) | key ID (4) | nonce (24) | ciphertext and tag (16)
//
// and the associated data is the first five bytes and the cookie's name.
const (
	version   = 1
	headerLen = 1 + 4
	nonceLen  = chacha20poly1305.NonceSizeX
	overhead  = headerLen + nonceLen + chacha20poly1305.Overhead
)

// Errors of Open.
var (
	ErrSealed     = errors.New("cookie: sealed value is malformed, tampered with, or not for this cookie")
	ErrUnknownKey = errors.New("cookie: sealed with a key that is no longer in the key file")
)

// SealedLen returns the length of the sealed value of n plaintext bytes.
func SealedLen(n int) int { return base64.RawURLEncoding.EncodedLen(overhead + n) }

// Seal appends the sealed value of plain for the cookie name to dst. It fails
// (ErrTooLong) when the cookie would be longer than MaxCookie.
func (k *Keys) Seal(dst []byte, name string, plain []byte) ([]byte, error) {
	if len(name)+SealedLen(len(plain)) > MaxCookie {
		return dst, ErrTooLong
	}
	kk := &k.keys[0]
	raw := make([]byte, headerLen+nonceLen, overhead+len(plain))
	raw[0] = version
	copy(raw[1:headerLen], kk.id[:])
	rand.Read(raw[headerLen:]) // never fails (crypto/rand)
	ad := append(raw[:headerLen:headerLen], name...)
	raw = kk.aead.Seal(raw, raw[headerLen:headerLen+nonceLen], plain, ad)
	return base64.RawURLEncoding.AppendEncode(dst, raw), nil
}

// Open appends the plaintext of value, sealed for the cookie name, to dst.
// A value that is malformed, was changed, was sealed for another cookie or
// by a key no longer held fails.
func (k *Keys) Open(dst []byte, name string, value []byte) ([]byte, error) {
	if len(value) > MaxCookie || len(value) < base64.RawURLEncoding.EncodedLen(overhead) {
		return dst, ErrSealed
	}
	raw, err := base64.RawURLEncoding.Strict().AppendDecode(nil, value)
	if err != nil || len(raw) < overhead || raw[0] != version {
		return dst, ErrSealed
	}
	for i := range k.keys {
		kk := &k.keys[i]
		if !bytes.Equal(kk.id[:], raw[1:headerLen]) {
			continue
		}
		ad := append(raw[:headerLen:headerLen], name...)
		out, err := kk.aead.Open(dst, raw[headerLen:headerLen+nonceLen], raw[headerLen+nonceLen:], ad)
		if err == nil {
			return out, nil
		}
		// Another key may share the 4-byte ID: try it too.
	}
	for i := range k.keys {
		if bytes.Equal(k.keys[i].id[:], raw[1:headerLen]) {
			return dst, ErrSealed
		}
	}
	return dst, ErrUnknownKey
}

// MACSize is the length of a MAC.
const MACSize = sha256.Size

// MAC appends to dst the HMAC-SHA256, under the first key's signing key, of
// purpose and the parts, each length-prefixed so that no two lists of parts
// sign the same bytes.
func (k *Keys) MAC(dst []byte, purpose string, parts ...[]byte) []byte {
	return mac(dst, k.keys[0].mac, purpose, parts)
}

// VerifyMAC reports whether sum is the MAC of purpose and parts under any
// key, comparing in constant time.
func (k *Keys) VerifyMAC(sum []byte, purpose string, parts ...[]byte) bool {
	var buf [MACSize]byte
	ok := 0
	for i := range k.keys {
		ok |= subtle.ConstantTimeCompare(sum, mac(buf[:0], k.keys[i].mac, purpose, parts))
	}
	return ok == 1
}

func mac(dst, key []byte, purpose string, parts [][]byte) []byte {
	var h hash.Hash = hmac.New(sha256.New, key)
	var n [4]byte
	write := func(b []byte) {
		l := len(b)
		n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
		h.Write(n[:])
		h.Write(b)
	}
	write([]byte(purpose))
	for _, p := range parts {
		write(p)
	}
	return h.Sum(dst)
}
