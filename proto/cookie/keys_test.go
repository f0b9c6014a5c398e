package cookie

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func secret(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustKeys(t testing.TB, secrets ...[]byte) *Keys {
	t.Helper()
	k, err := NewKeys(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := mustKeys(t, secret(1))
	v, err := k.Seal(nil, "__Host-gh_session", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != SealedLen(5) {
		t.Fatalf("len %d, SealedLen says %d", len(v), SealedLen(5))
	}
	if bytes.Contains(v, []byte("hello")) {
		t.Fatal("the plaintext shows")
	}
	c := Cookie{Name: "__Host-gh_session", Value: string(v), Path: "/", Secure: true}
	if err := c.Check(); err != nil {
		t.Fatalf("a sealed value is not a cookie value: %v", err)
	}
	got, err := k.Open(nil, "__Host-gh_session", v)
	if err != nil || string(got) != "hello" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	v2, _ := k.Seal(nil, "__Host-gh_session", []byte("hello"))
	if bytes.Equal(v, v2) {
		t.Fatal("two seals of one plaintext are equal: the nonce is not random")
	}
	empty, _ := k.Seal(nil, "a", nil)
	if got, err := k.Open(nil, "a", empty); err != nil || len(got) != 0 {
		t.Fatalf("empty plaintext: %q, %v", got, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	k := mustKeys(t, secret(1))
	// A value with a '-' or '_' in it, which the standard alphabet writes
	// otherwise (a random nonce leaves them out one time in six or so).
	var v []byte
	for v == nil || !bytes.ContainsAny(v, "-_") {
		v, _ = k.Seal(nil, "s", []byte("user=alice"))
	}
	raw, _ := base64.RawURLEncoding.DecodeString(string(v))
	enc := func(b []byte) []byte { return []byte(base64.RawURLEncoding.EncodeToString(b)) }
	flip := func(i int) []byte {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return enc(b)
	}
	other := mustKeys(t, secret(2))
	fromOther, _ := other.Seal(nil, "s", []byte("user=alice"))
	for _, c := range []struct {
		name  string
		value []byte
		err   error
	}{
		{"empty", nil, ErrSealed},
		{"one byte", []byte("A"), ErrSealed},
		{"truncated by one", v[:len(v)-1], ErrSealed},
		{"truncated to the overhead", enc(raw[:overhead-1]), ErrSealed},
		{"tag cut", enc(raw[:len(raw)-1]), ErrSealed},
		{"version flipped", flip(0), ErrSealed},
		{"key ID flipped", flip(1), ErrUnknownKey},
		{"nonce flipped", flip(headerLen), ErrSealed},
		{"ciphertext flipped", flip(overhead - chacha20poly1305Overhead), ErrSealed},
		{"tag flipped", flip(len(raw) - 1), ErrSealed},
		{"bad base64", []byte("!!!!" + string(v[4:])), ErrSealed},
		{"padded base64", append(bytes.Clone(v), '='), ErrSealed},
		{"standard alphabet", []byte(strings.NewReplacer("-", "+", "_", "/").Replace(string(v))), ErrSealed},
		{"sealed by a key not held", fromOther, ErrUnknownKey},
		{"too long", bytes.Repeat([]byte("A"), MaxCookie+1), ErrSealed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if bytes.Equal(c.value, v) {
				t.Fatal("the case did not change the value")
			}
			got, err := k.Open([]byte("x"), "s", c.value)
			if !errors.Is(err, c.err) || string(got) != "x" {
				t.Fatalf("Open = %q, %v; want %v", got, err, c.err)
			}
		})
	}
	// The name is the associated data: a value sealed for one cookie does
	// not open as another.
	if _, err := k.Open(nil, "t", v); !errors.Is(err, ErrSealed) {
		t.Fatalf("opened under another name: %v", err)
	}
}

// chacha20poly1305Overhead is the tag's size, so that "ciphertext flipped"
// flips the first ciphertext byte.
const chacha20poly1305Overhead = 16

func TestRotation(t *testing.T) {
	old := mustKeys(t, secret(1))
	sealedOld, _ := old.Seal(nil, "s", []byte("old"))
	rotated := mustKeys(t, secret(2), secret(1))
	if got, err := rotated.Open(nil, "s", sealedOld); err != nil || string(got) != "old" {
		t.Fatalf("an old key's value after rotation: %q, %v", got, err)
	}
	sealedNew, _ := rotated.Seal(nil, "s", []byte("new"))
	if _, err := old.Open(nil, "s", sealedNew); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("the new key sealed, the old keys opened it? %v", err)
	}
	if got, err := mustKeys(t, secret(2)).Open(nil, "s", sealedNew); err != nil || string(got) != "new" {
		t.Fatalf("the first key does not seal: %q, %v", got, err)
	}
	retired := mustKeys(t, secret(2))
	if _, err := retired.Open(nil, "s", sealedOld); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a removed key still opens: %v", err)
	}
	if rotated.ID(0) == rotated.ID(1) || rotated.ID(0) != retired.ID(0) {
		t.Fatal("key IDs are not per key")
	}
}

func TestSealLimit(t *testing.T) {
	k := mustKeys(t, secret(1))
	name := "__Host-gh_session"
	// The largest plaintext whose cookie fits in 4096 bytes, and one more.
	n := 0
	for len(name)+SealedLen(n+1) <= MaxCookie {
		n++
	}
	v, err := k.Seal(nil, name, make([]byte, n))
	if err != nil || len(name)+len(v) > MaxCookie {
		t.Fatalf("at the limit: %d bytes, %v", len(name)+len(v), err)
	}
	if _, err := k.Seal(nil, name, make([]byte, n+1)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("past the limit: %v", err)
	}
	if got, err := k.Open(nil, name, v); err != nil || len(got) != n {
		t.Fatalf("open at the limit: %d, %v", len(got), err)
	}
}

func TestMAC(t *testing.T) {
	k := mustKeys(t, secret(1))
	m := k.MAC(nil, "csrf", []byte("sid"), []byte("rand"))
	if len(m) != MACSize || !k.VerifyMAC(m, "csrf", []byte("sid"), []byte("rand")) {
		t.Fatal("a MAC does not verify")
	}
	for _, c := range []struct {
		purpose string
		parts   [][]byte
	}{
		{"other", [][]byte{[]byte("sid"), []byte("rand")}},
		{"csrf", [][]byte{[]byte("si"), []byte("drand")}}, // same bytes, other split
		{"csrf", [][]byte{[]byte("sidrand")}},
		{"csrf", [][]byte{[]byte("sid"), []byte("rane")}},
	} {
		if k.VerifyMAC(m, c.purpose, c.parts...) {
			t.Errorf("%q %q verifies", c.purpose, c.parts)
		}
	}
	bad := bytes.Clone(m)
	bad[0] ^= 1
	for _, b := range [][]byte{bad, m[:MACSize-1], nil, append(bytes.Clone(m), 0)} {
		if k.VerifyMAC(b, "csrf", []byte("sid"), []byte("rand")) {
			t.Errorf("%x verifies", b)
		}
	}
	rotated := mustKeys(t, secret(2), secret(1))
	if !rotated.VerifyMAC(m, "csrf", []byte("sid"), []byte("rand")) {
		t.Fatal("an old key's MAC does not verify after rotation")
	}
	// A secret's MAC key is not its seal key, and no two secrets share one.
	if bytes.Equal(k.keys[0].mac, rotated.keys[0].mac) {
		t.Fatal("two secrets, one MAC key")
	}
}

func TestParseKeys(t *testing.T) {
	a := base64.RawURLEncoding.EncodeToString(secret(1))
	b := base64.StdEncoding.EncodeToString(secret(2))
	short := base64.RawURLEncoding.EncodeToString(secret(1)[:KeySize-1])
	long := base64.RawURLEncoding.EncodeToString(append(secret(1), 1))
	for _, c := range []struct {
		name, file string
		keys       int
		err        string
	}{
		{"one", a + "\n", 1, ""},
		{"comments and blanks", "# new\n" + a + "\n\n  # old\n\t" + b + "  \r\n", 2, ""},
		{"no newline at the end", a, 1, ""},
		{"empty", "", 0, "no key"},
		{"only comments", "# x\n\n", 0, "no key"},
		{"31 bytes", short, 0, "line 1: key of 31 bytes, want 32"},
		{"33 bytes", "# x\n" + long, 0, "line 2: key of 33 bytes, want 32"},
		{"not base64", a + "\nnot a key!", 0, "line 2: not a base64 key"},
		{"16 keys", strings.Repeat(a+"\n", MaxKeys), MaxKeys, ""},
		{"17 keys", strings.Repeat(a+"\n", MaxKeys+1), 0, "17 keys, at most 16"},
		{"64 KiB", a + "\n#" + strings.Repeat("x", MaxKeyFile-len(a)-2), 1, ""},
		{"64 KiB and one", a + "\n#" + strings.Repeat("x", MaxKeyFile-len(a)-1), 0, "at most 65536"},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, err := ParseKeys([]byte(c.file))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || k.Len() != c.keys {
				t.Fatalf("%v, %v keys", err, k)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	a, b := GenerateKey(), GenerateKey()
	if a == b {
		t.Fatal("two keys alike")
	}
	k, err := ParseKeys([]byte(a + "\n" + b))
	if err != nil || k.Len() != 2 {
		t.Fatalf("generated keys do not parse: %v", err)
	}
}

// FuzzOpen: no input panics Open, and only what the keys sealed opens:
// a changed byte anywhere in a sealed value fails.
func FuzzOpen(f *testing.F) {
	k := mustKeys(f, secret(1), secret(2))
	sealed, _ := k.Seal(nil, "s", []byte("user=alice"))
	f.Add("s", sealed, -1)
	f.Add("s", sealed, 0)
	f.Add("s", sealed, len(sealed)-1)
	f.Add("t", sealed, -1)
	f.Add("s", []byte("AQ"), -1)
	f.Add("s", []byte(""), -1)
	f.Fuzz(func(t *testing.T, name string, value []byte, flip int) {
		orig := bytes.Clone(value)
		if flip >= 0 && flip < len(value) {
			value = bytes.Clone(value)
			value[flip] ^= 0x20
		}
		out, err := k.Open(nil, name, value)
		if err != nil {
			return
		}
		if bytes.Equal(value, sealed) && name == "s" {
			if string(out) != "user=alice" {
				t.Fatalf("opened to %q", out)
			}
			return
		}
		if flip >= 0 && flip < len(value) && bytes.Equal(orig, sealed) {
			t.Fatalf("a changed value opened: %q", value)
		}
		// Anything else that opens must be a value the keys sealed.
		if _, err := k.Open(nil, name, value); err != nil {
			t.Fatal("Open is not deterministic")
		}
	})
}

// FuzzParseKeys: no file panics the parser; a file it takes has 1 to 16
// keys, each of which seals what it opens.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte(base64.RawURLEncoding.EncodeToString(secret(1))))
	f.Add([]byte("# c\n" + base64.StdEncoding.EncodeToString(secret(2)) + "\n"))
	f.Add([]byte("====\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeys(data)
		if err != nil {
			return
		}
		if k.Len() < 1 || k.Len() > MaxKeys {
			t.Fatalf("%d keys", k.Len())
		}
		v, err := k.Seal(nil, "a", []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := k.Open(nil, "a", v); err != nil || string(got) != "x" {
			t.Fatalf("%q, %v", got, err)
		}
	})
}
