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
