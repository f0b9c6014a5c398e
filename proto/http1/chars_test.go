package http1

import "testing"

func TestHopByHop(t *testing.T) {
	for name, want := range map[string]bool{
		"Connection": true, "keep-alive": true, "Proxy-Connection": true, "TE": true,
		"Trailer": true, "TRANSFER-ENCODING": true, "upgrade": true,
		"Content-Length": false, "Content-Type": false, "Set-Cookie": false, "Trailers": false,
		"Te ": false, "Upgrades": false, "Connectio": false, "": false, "X-Connection": false,
	} {
		if got := HopByHop([]byte(name)); got != want {
			t.Errorf("HopByHop(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestHasElement(t *testing.T) {
	for _, c := range []struct {
		v, token string
		want     bool
	}{
		{"close", "close", true},
		{"Keep-Alive, Upgrade", "upgrade", true},
		{" keep-alive ,\tCLOSE\t", "close", true},
		{"closed", "close", false},
		{"x-close", "close", false},
		{",,close,", "close", true},
		{"", "close", false},
		{",", "close", false},
	} {
		if got := HasElement([]byte(c.v), c.token); got != c.want {
			t.Errorf("HasElement(%q, %q) = %v", c.v, c.token, got)
		}
	}
	elem, rest := NextElement([]byte("  a b ,c"))
	if string(elem) != "a b" || string(rest) != "c" {
		t.Errorf("NextElement: %q, %q", elem, rest)
	}
}
