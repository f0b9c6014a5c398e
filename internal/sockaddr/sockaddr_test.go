package sockaddr

import (
	"errors"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct{ in, network, address string }{
		{"unix:/run/app.sock", "unix", "/run/app.sock"},
		{"unix:", "unix", ""},
		{"unix:relative.sock", "unix", "relative.sock"},
		{"127.0.0.1:8000", "tcp", "127.0.0.1:8000"},
		{":8000", "tcp", ":8000"},
		{"[::1]:8000", "tcp", "[::1]:8000"},
		{"/run/app.sock", "tcp", "/run/app.sock"}, // no prefix: not a Unix socket
		{"UNIX:/x", "tcp", "UNIX:/x"},             // the prefix is lower case
		{"", "tcp", ""},
	} {
		if n, a := Split(c.in); n != c.network || a != c.address {
			t.Errorf("Split(%q) = %q %q, want %q %q", c.in, n, a, c.network, c.address)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		in           string
		listen, dial error
	}{
		{"unix:/run/app.sock", nil, nil},
		{"unix:", ErrNoPath, ErrNoPath},
		{"127.0.0.1:8000", nil, nil},
		{"[::1]:8000", nil, nil},
		{"localhost:9000", nil, nil},
		{":8000", nil, ErrNotHostPort}, // every address: a listener's, not a server's
		{"127.0.0.1:0", nil, ErrPort},  // any free port: a listener's, not a server's
		{"127.0.0.1:1", nil, nil},
		{"127.0.0.1:65535", nil, nil},
		{"127.0.0.1:65536", ErrPort, ErrPort},
		{"127.0.0.1:-1", ErrPort, ErrPort},
		{"127.0.0.1:http", ErrPort, ErrPort},
		{"127.0.0.1:", ErrNotHostPort, ErrPort},
		{"127.0.0.1", ErrNotHostPort, ErrNotHostPort},
		{"8000", ErrNotHostPort, ErrNotHostPort},
		{"::1:8000", ErrNotHostPort, ErrNotHostPort}, // IPv6 needs brackets
		{"/run/app.sock", ErrNotHostPort, ErrNotHostPort},
		{"", ErrNotHostPort, ErrNotHostPort},
	} {
		if err := CheckListen(c.in); !errors.Is(err, c.listen) || (err == nil) != (c.listen == nil) {
			t.Errorf("CheckListen(%q) = %v, want %v", c.in, err, c.listen)
		}
		if err := CheckDial(c.in); !errors.Is(err, c.dial) || (err == nil) != (c.dial == nil) {
			t.Errorf("CheckDial(%q) = %v, want %v", c.in, err, c.dial)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	good := map[string]string{
		"10.0.0.0/8": "10.0.0.0/8", "192.0.2.1": "192.0.2.1/32", "::1": "::1/128",
		"2001:db8::/32": "2001:db8::/32", "::ffff:10.0.0.0/104": "10.0.0.0/8", "::ffff:192.0.2.1": "192.0.2.1/32",
		"0.0.0.0/0": "0.0.0.0/0",
	}
	for in, want := range good {
		p, err := ParsePrefix(in)
		if err != nil || p.String() != want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"", "10.1.2.3/8", "10.0.0.0/33", "example.com", "fe80::1%eth0", "10.0.0.0/", "1.2.3"} {
		if p, err := ParsePrefix(in); err == nil {
			t.Errorf("ParsePrefix(%q) = %v, want an error", in, p)
		}
	}
}
