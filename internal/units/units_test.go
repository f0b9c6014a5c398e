package units

import "testing"

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0": 0, "123": 123, "1b": 1, "64k": 64 << 10, "64KiB": 64 << 10, "64 KB": 64 << 10,
		"128m": 128 << 20, "128MiB": 128 << 20, "2g": 2 << 30, "1GiB": 1 << 30, " 7 ": 7,
	}
	for in, want := range good {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "k", "-1", "1.5m", "10x", "1t", "99999999999999999999", "9000000000g"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for n, want := range map[int64]string{0: "0", 1000: "1000", 1024: "1KiB", 128 << 20: "128MiB", 3 << 30: "3GiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("%d: %q, want %q", n, got, want)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"0", "64k", "1 GiB", "99999999999999999999", "-1", "7x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("%q: negative %d", s, n)
		}
		if back, err := ParseSize(FormatSize(n)); err != nil || back != n {
			t.Fatalf("%q: %d formats as %q, parses back as %d (%v)", s, n, FormatSize(n), back, err)
		}
	})
}
