package httpspec

import "testing"

func TestValidHost(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "app.example": true, "127.0.0.1:8080": true, "[::1]:80": true, "[::1]": true,
		"a%41b": true, "host:": true, "xn--bcher-kva.example": true, "a_b~c!$&'()*+,;=": true,
		"a b": false, "a\r\nX: y": false, "a\x00": false, "a/b": false, "user@host": false,
		"a%4": false, "a%zz": false, "host:8o": false, "a:b:c": false, "[::1": false,
		"[::1]x": false, "[fe80::1%25eth0]": false, "[1.2.3.4]": false, "[v1.x]": false,
		"\"host\"": false, "a?b": false, "a#b": false, "a\\b": false,
	} {
		if ValidHost(s) != want {
			t.Errorf("ValidHost(%q) = %v", s, !want)
		}
		if ValidHost([]byte(s)) != want {
			t.Errorf("ValidHost([]byte(%q)) = %v", s, !want)
		}
	}
}

// With needPort (CONNECT's authority-form), a host and a port are required.
func TestValidAuthorityNeedPort(t *testing.T) {
	for s, want := range map[string]bool{
		"example.com:443": true, "[::1]:8443": true,
		"example.com": false, "example.com:": false, ":443": false, "[::1]": false, "": false,
	} {
		if ValidAuthority(s, true) != want {
			t.Errorf("ValidAuthority(%q, true) = %v", s, !want)
		}
	}
}
