package forwarded

import (
	"net/netip"
	"strings"
	"testing"
)

func trustedSet(prefixes ...string) func(netip.Addr) bool {
	var ps []netip.Prefix
	for _, p := range prefixes {
		ps = append(ps, netip.MustParsePrefix(p))
	}
	return func(a netip.Addr) bool {
		for _, p := range ps {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}

func TestClientIP(t *testing.T) {
	trusted := trustedSet("10.0.0.0/8", "::1/128")
	for _, c := range []struct {
		name   string
		values []string
		want   string // "" for none
	}{
		{"one", []string{"203.0.113.7"}, "203.0.113.7"},
		{"spoofed leftmost is never taken", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"trusted hops skipped", []string{"203.0.113.7, 10.0.0.2, 10.0.0.3"}, "203.0.113.7"},
		{"over several fields", []string{"1.2.3.4, 203.0.113.7", "10.0.0.2"}, "203.0.113.7"},
		{"all trusted: the leftmost", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1"},
		{"garbage stops the walk", []string{"203.0.113.7, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"garbage right away", []string{"10.0.0.2, garbage"}, ""},
		{"ipv6 and ports", []string{"[2001:db8::7]:4711, 10.0.0.2:80"}, "2001:db8::7"},
		{"mapped ipv4 unmapped", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"zones refused", []string{"203.0.113.7, fe80::1%eth0"}, ""},
		{"empty entries skipped", []string{" , 203.0.113.7 ,, "}, "203.0.113.7"},
		{"nothing", nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var vs [][]byte
			for _, v := range c.values {
				vs = append(vs, []byte(v))
			}
			a, ok := ClientIP(vs, trusted)
			got := ""
			if ok {
				got = a.String()
			}
			if got != c.want {
				t.Fatalf("%q: %q, want %q", c.values, got, c.want)
			}
		})
	}
	// The walk stops at MaxEntries, and at one past it the oldest is not read.
	chain := strings.Repeat("10.0.0.1, ", MaxEntries-1) + "10.0.0.9"
	if a, _ := ClientIP([][]byte{[]byte("203.0.113.7, " + chain)}, trusted); a.String() != "10.0.0.1" {
		t.Errorf("past MaxEntries: %v", a)
	}
	if a, _ := ClientIP([][]byte{[]byte("203.0.113.7, " + strings.Repeat("10.0.0.1, ", MaxEntries-2) + "10.0.0.9")}, trusted); a.String() != "203.0.113.7" {
		t.Errorf("at MaxEntries: %v", a)
	}
}

func TestProto(t *testing.T) {
	for in, want := range map[string]string{"https": "https", "HTTPS": "https", "http": "http", "ftp": "", "http, https": "https", " https ": "https", "": ""} {
		if got := Proto([][]byte{[]byte(in)}); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestAppendFor(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.60:0": "192.0.2.60", "192.0.2.60:4711": `"192.0.2.60:4711"`,
		"[2001:db8:cafe::17]:4711": `"[2001:db8:cafe::17]:4711"`, "[2001:db8::1]:0": `"[2001:db8::1]"`,
	} {
		if got := string(AppendFor(nil, netip.MustParseAddrPort(in))); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	if got := string(AppendFor(nil, netip.AddrPort{})); got != "unknown" {
		t.Errorf("invalid: %s", got)
	}
}

// FuzzClientIP holds ClientIP to a plain reading of the rule (strings.Split,
// right to left): the same answer for any input.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"203.0.113.7", "1.2.3.4, 10.0.0.1", "[::1]:80, x", ",,,", "fe80::1%lo", "10.0.0.1,\t203.0.113.9 "} {
		f.Add(s)
	}
	trusted := trustedSet("10.0.0.0/8")
	f.Fuzz(func(t *testing.T, v string) {
		a, ok := ClientIP([][]byte{[]byte(v)}, trusted)
		var want netip.Addr
		wantOK := false
		parts := strings.Split(v, ",")
		seen := 0
		for i := len(parts) - 1; i >= 0 && seen < MaxEntries; i-- {
			e := strings.Trim(parts[i], " \t")
			if e == "" {
				continue
			}
			seen++
			x, good := parseEntry([]byte(e))
			if !good {
				break
			}
			want, wantOK = x, true
			if !trusted(x) {
				break
			}
		}
		if ok != wantOK || a != want {
			t.Fatalf("%q: %v %v, want %v %v", v, a, ok, want, wantOK)
		}
	})
}
