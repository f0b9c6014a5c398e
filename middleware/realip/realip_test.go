package realip

import (
	"net/netip"
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

// request returns a request from peer (empty: a Unix socket) with fields.
func request(peer string, fields ...string) *web.Request {
	r := webtest.NewRequest("GET", "/", nil)
	var c web.Conn
	if peer != "" {
		c.Remote = netip.MustParseAddrPort(peer)
	}
	r.Init(web.Head{Method: "GET", Target: []byte("/"), Path: []byte("/"), Host: []byte("example.test"),
		Scheme: "http", ProtoMajor: 1, ProtoMinor: 1}, c, web.NoBody)
	r.Header.Add("Host", "example.test")
	for i := 0; i+1 < len(fields); i += 2 {
		r.Header.Add(fields[i], fields[i+1])
	}
	return r
}

func TestApply(t *testing.T) {
	lb := Trust{Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}}
	tests := []struct {
		name       string
		trust      Trust
		peer       string
		fields     []string
		wantRemote string // "" : the peer's, unchanged (Unix: invalid)
		wantScheme string
		wantKept   bool // the forwarding fields are still there
	}{
		{"untrusted peer: fields removed, peer kept", lb, "203.0.113.9:5000",
			[]string{"X-Forwarded-For", "198.51.100.1", "X-Forwarded-Proto", "https"}, "203.0.113.9:5000", "http", false},
		{"trusted peer: client from the right", lb, "127.0.0.1:4000",
			[]string{"X-Forwarded-For", "6.6.6.6, 198.51.100.1", "X-Forwarded-Proto", "https"}, "198.51.100.1:0", "https", true},
		{"trusted chain walked right to left", lb, "127.0.0.1:4000",
			[]string{"X-Forwarded-For", "6.6.6.6, 198.51.100.1, 10.1.2.3"}, "198.51.100.1:0", "http", true},
		{"two fields read as one list", lb, "127.0.0.1:4000",
			[]string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "198.51.100.7"}, "198.51.100.7:0", "http", true},
		{"every entry trusted: the leftmost", lb, "127.0.0.1:4000",
			[]string{"X-Forwarded-For", "10.0.0.5, 10.0.0.6"}, "10.0.0.5:0", "http", true},
		{"trusted peer without the field: the peer", lb, "127.0.0.1:4000", nil, "127.0.0.1:4000", "http", true},
		{"garbage entry: the peer stays", lb, "127.0.0.1:4000",
			[]string{"X-Forwarded-For", "not-an-address"}, "127.0.0.1:4000", "http", true},
		{"unknown proto ignored", lb, "127.0.0.1:4000",
			[]string{"X-Forwarded-Proto", "gopher"}, "127.0.0.1:4000", "http", true},
		{"IPv4-mapped peer trusted", lb, "[::ffff:127.0.0.1]:4000",
			[]string{"X-Forwarded-For", "198.51.100.1"}, "198.51.100.1:0", "http", true},
		{"unix peer untrusted by default", lb, "",
			[]string{"X-Forwarded-For", "198.51.100.1", "X_Forwarded_Proto", "https"}, "", "http", false},
		{"unix peer trusted when asked", Trust{Unix: true}, "",
			[]string{"X-Forwarded-For", "198.51.100.1", "X-Forwarded-Proto", "https"}, "198.51.100.1:0", "https", true},
		{"zero trust: nobody", Trust{}, "127.0.0.1:4000",
			[]string{"x-forwarded-for", "198.51.100.1", "Forwarded", "for=1.2.3.4", "X-Real-IP", "1.2.3.4"}, "127.0.0.1:4000", "http", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.peer, tt.fields...)
			tt.trust.Apply(r)
			got := ""
			if r.RemoteAddr().IsValid() {
				got = r.RemoteAddr().String()
			}
			if got != tt.wantRemote {
				t.Errorf("RemoteAddr = %q, want %q", got, tt.wantRemote)
			}
			if r.Scheme() != tt.wantScheme {
				t.Errorf("Scheme = %q, want %q", r.Scheme(), tt.wantScheme)
			}
			if tt.peer != "" && r.Peer().String() != tt.peer {
				t.Errorf("Peer = %v, changed from %s", r.Peer(), tt.peer)
			}
			kept := false
			for name := range r.Header.All() {
				if IsForwarding(name) {
					kept = true
				}
			}
			if len(tt.fields) > 0 && kept != tt.wantKept {
				t.Errorf("forwarding fields kept = %v, want %v (%v)", kept, tt.wantKept, r.Header)
			}
			if r.Header.Get("Host") != "example.test" {
				t.Errorf("Host lost: %v", r.Header)
			}
		})
	}
}

func TestStripKeepsOthers(t *testing.T) {
	r := request("203.0.113.9:1", "A", "1", "X-Forwarded-For", "x", "X_FORWARDED_FOR", "y",
		"B", "2", "forwarded", "for=x", "X-Forwarded-Host", "evil", "X-Forwarded", "z", "C", "3")
	Strip(&r.Header)
	var names []string
	for name := range r.Header.All() {
		names = append(names, string(name))
	}
	want := []string{"Host", "A", "B", "X-Forwarded", "C"}
	if len(names) != len(want) {
		t.Fatalf("fields = %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("fields = %v, want %v", names, want)
		}
	}
}

func TestPrivateRanges(t *testing.T) {
	tr := Trust{Prefixes: PrivateRanges}
	for _, a := range []string{"127.0.0.1", "10.9.9.9", "172.31.0.1", "192.168.1.1", "100.64.0.1", "::1", "fd00::1", "::ffff:192.168.0.1"} {
		if !tr.Addr(netip.MustParseAddr(a)) {
			t.Errorf("%s not private", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "172.32.0.1", "2001:db8::1", "100.128.0.1"} {
		if tr.Addr(netip.MustParseAddr(a)) {
			t.Errorf("%s private", a)
		}
	}
}

func TestApplyAllocs(t *testing.T) {
	tr := Trust{Prefixes: PrivateRanges}
	r := request("203.0.113.9:1", "Accept", "*/*", "User-Agent", "x")
	if n := testing.AllocsPerRun(100, func() { tr.Apply(r) }); n != 0 {
		t.Errorf("Apply from an untrusted peer without forwarding fields: %v allocs", n)
	}
	// Every request behind a load balancer: a trusted peer's fields read.
	lb := request("10.0.0.2:1", "X-Forwarded-For", "203.0.113.9, 10.0.0.7", "X-Forwarded-Proto", "HTTPS")
	if n := testing.AllocsPerRun(100, func() { tr.Apply(lb) }); n != 0 {
		t.Errorf("Apply from a trusted peer: %v allocs", n)
	}
	if lb.RemoteAddr().Addr().String() != "203.0.113.9" || lb.Scheme() != "https" {
		t.Errorf("client %v, scheme %s", lb.RemoteAddr(), lb.Scheme())
	}
}

// A uwsgi front server, let in by its listener's allow-list, reports the
// client itself: nothing is taken or removed whatever the trust.
func TestRelayedUntouched(t *testing.T) {
	r := webtest.NewRequest("GET", "/", nil)
	r.Init(web.Head{Method: "GET", Target: []byte("/"), Path: []byte("/"), Scheme: "https", ProtoMajor: 1, ProtoMinor: 1},
		web.Conn{Remote: netip.MustParseAddrPort("198.51.100.1:3"), Relayed: true}, web.NoBody)
	r.Header.Add("X-Forwarded-Proto", "https")
	r.Header.Add("X-Forwarded-For", "1.2.3.4")
	var none Trust
	none.Apply(r)
	if r.Header.Get("X-Forwarded-Proto") != "https" || r.RemoteAddr().String() != "198.51.100.1:3" || r.Scheme() != "https" {
		t.Fatalf("relayed request changed: %v %v %s", r.Header, r.RemoteAddr(), r.Scheme())
	}
}
