package fcgi

import (
	"bytes"
	"strings"
	"testing"
)

// Lengths at the 1-byte limit (127), one past it (128), and at the 31-bit
// limit of the 4-byte form (§3.4).
func TestPairLengths(t *testing.T) {
	cases := []struct {
		name        string
		nlen, vlen  int
		wantHeader  []byte
		wantEncoded int
	}{
		{"empty", 0, 0, []byte{0, 0}, 2},
		{"127/127", 127, 127, []byte{127, 127}, 2 + 254},
		{"128 name", 128, 1, []byte{0x80, 0, 0, 128, 1}, 5 + 129},
		{"128 value", 3, 128, []byte{3, 0x80, 0, 0, 128}, 5 + 131},
		{"65536 value", 1, 65536, []byte{1, 0x80, 1, 0, 0}, 5 + 65537},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name, value := strings.Repeat("N", c.nlen), strings.Repeat("v", c.vlen)
			b, err := AppendPair(nil, name, value)
			if err != nil || len(b) != c.wantEncoded || PairLen(c.nlen, c.vlen) != c.wantEncoded ||
				!bytes.HasPrefix(b, c.wantHeader) {
				t.Fatalf("% x... (%d bytes, %v)", b[:min(len(b), 8)], len(b), err)
			}
			n, v, used, err := ParsePair(b)
			if err != nil || used != len(b) || string(n) != name || string(v) != value {
				t.Fatalf("parse: %d %v", used, err)
			}
			for cut := 0; cut < len(b); cut += max(1, len(b)/50) {
				if _, _, _, err := ParsePair(b[:cut]); err != ErrNeedMore {
					t.Fatalf("cut at %d: %v", cut, err)
				}
			}
		})
	}
}

func TestPairLimit(t *testing.T) {
	if got := appendLen(nil, MaxPairLen); !bytes.Equal(got, []byte{0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("MaxPairLen: % x", got)
	}
	// The high bit is the form flag, so no 4-byte length can say more than
	// MaxPairLen: 0xffffffff reads as 2^31-1, which these bytes do not hold.
	for _, b := range [][]byte{
		{0xff, 0xff, 0xff, 0xff, 0},
		{0, 0xff, 0xff, 0xff, 0xff},
		{0x80, 0, 0, 0}, // 4-byte name length 0, value length missing
		{0x80, 0, 0},    // 4-byte length cut short
	} {
		if _, _, _, err := ParsePair(b); err != ErrNeedMore {
			t.Errorf("% x: %v", b, err)
		}
	}
	// A 4-byte form for a short length is read (the spec does not forbid it).
	n, v, used, err := ParsePair([]byte{0x80, 0, 0, 1, 0x80, 0, 0, 2, 'a', 'b', 'c', 'x'})
	if err != nil || string(n) != "a" || string(v) != "bc" || used != 11 {
		t.Fatalf("%q %q %d %v", n, v, used, err)
	}
	if err := Pairs([]byte{3, 1, 'a'}, func(_, _ []byte) bool { return true }); err != ErrPairs {
		t.Fatalf("truncated pairs: %v", err)
	}
	if tooLong(MaxPairLen) || !tooLong(MaxPairLen+1) {
		t.Fatal("tooLong at the limit")
	}
}

func TestPairsStop(t *testing.T) {
	var b []byte
	for _, kv := range [][2]string{{"A", "1"}, {"B", "2"}, {"C", "3"}} {
		b, _ = AppendPair(b, kv[0], kv[1])
	}
	seen := 0
	Pairs(b, func(n, v []byte) bool { seen++; return string(n) != "B" })
	if seen != 2 {
		t.Fatalf("yield called %d times", seen)
	}
}
