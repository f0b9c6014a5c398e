package httpspec

import "testing"

// TestParseQValue: every form, at the limit (three decimals) and one past.
func TestParseQValue(t *testing.T) {
	for _, c := range []struct {
		in string
		q  int
		ok bool
	}{
		{"0", 0, true}, {"1", 1000, true}, {"0.5", 500, true}, {"0.", 0, true},
		{"0.125", 125, true}, {"1.000", 1000, true}, {"0.1250", 0, false}, {"1.0000", 0, false},
		{"1.001", 0, false}, {"2", 0, false}, {"", 0, false}, {".5", 0, false}, {"0,5", 0, false}, {"0.a", 0, false},
	} {
		q, ok := ParseQValue(c.in)
		if q != c.q || ok != c.ok {
			t.Errorf("%q: %d %v, want %d %v", c.in, q, ok, c.q, c.ok)
		}
		if qb, okb := ParseQValue([]byte(c.in)); qb != q || okb != ok {
			t.Errorf("%q as bytes: %d %v", c.in, qb, okb)
		}
	}
}
