package tlsspec

import (
	"crypto/tls"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint16
		ok   bool
	}{
		{"1.2", tls.VersionTLS12, true}, {"1.3", tls.VersionTLS13, true},
		{"1.1", 0, false}, {"1.0", 0, false}, {"TLS1.2", 0, false}, {"", 0, false},
	} {
		got, ok := ParseVersion(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestParseGroup(t *testing.T) {
	for _, c := range []struct {
		in   string
		want tls.CurveID
		ok   bool
	}{
		{"X25519MLKEM768", tls.X25519MLKEM768, true}, {"x25519mlkem768", tls.X25519MLKEM768, true},
		{"SecP256r1MLKEM768", tls.SecP256r1MLKEM768, true}, {"SecP384r1MLKEM1024", tls.SecP384r1MLKEM1024, true},
		{"X25519", tls.X25519, true}, {"secp256r1", tls.CurveP256, true}, {"P-256", tls.CurveP256, true},
		{"prime256v1", tls.CurveP256, true}, {"P-384", tls.CurveP384, true}, {"secp521r1", tls.CurveP521, true},
		{"P-224", 0, false}, {"ffdhe2048", 0, false}, {"", 0, false},
	} {
		g, ok := ParseGroup(c.in)
		if g.ID != c.want || ok != c.ok {
			t.Errorf("ParseGroup(%q) = %v, %v; want %v, %v", c.in, g.ID, ok, c.want, c.ok)
		}
	}
}

// Groups follows Go's own default order, hybrids first, so that naming
// them all in the table's order changes nothing.
func TestGroupsHybridsFirst(t *testing.T) {
	seenClassic := false
	for _, g := range Groups {
		if !g.Hybrid {
			seenClassic = true
		} else if seenClassic {
			t.Errorf("%s after a classic curve", g.Name)
		}
	}
}
