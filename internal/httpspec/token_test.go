package httpspec

import (
	"strings"
	"testing"
)

// Every byte, against the ABNF of RFC 9110 §5.6.2 written out.
func TestIsTokenChar(t *testing.T) {
	const want = "!#$%&'*+-.^_`|~0123456789" +
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for c := range 256 {
		b := byte(c)
		if got := IsTokenChar(b); got != strings.ContainsRune(want, rune(b)) || c >= 0x80 && got {
			t.Errorf("IsTokenChar(%#02x) = %v", c, got)
		}
	}
}

func TestIsToken(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"", false},
		{"a", true},
		{"Content-Type", true},
		{"X-Custom_1.2~", true},
		{"!#$%&'*+-.^_`|~", true},
		{"GET", true},
		{" a", false},
		{"a ", false},
		{"a b", false},
		{"a:b", false},
		{"a\tb", false},
		{"a\x00", false},
		{"a\x7f", false},
		{"caf\xc3\xa9", false},
		{"\"quoted\"", false},
		{"a(b)", false},
		{"a,b", false},
		{"a/b", false},
		{"a@b", false},
		{"a[b]", false},
		{"a{b}", false},
		{"a;b", false},
		{"a=b", false},
		{"a?b", false},
		{"a\\b", false},
	} {
		if got := IsToken(c.in); got != c.want {
			t.Errorf("IsToken(%q) = %v, want %v", c.in, got, c.want)
		}
		if got := IsToken([]byte(c.in)); got != c.want {
			t.Errorf("IsToken([]byte(%q)) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestIsFramingField(t *testing.T) {
	for name, want := range map[string]bool{
		"Content-Length": true, "TRANSFER-ENCODING": true, "te": true, "Keep-Alive": true,
		"X-Frame-Options": false, "tf": false, "Content-Type": false, "": false,
	} {
		if IsFramingField(name) != want {
			t.Errorf("IsFramingField(%q) = %v", name, !want)
		}
	}
}
