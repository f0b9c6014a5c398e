package upstream

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeResolver answers from a map, and counts its lookups.
type fakeResolver struct {
	names   map[string][]string
	lookups int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.lookups++
	if network != "ip" {
		return nil, errors.New("network " + network)
	}
	ips, ok := r.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range ips {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func names(p *Pool) []string {
	var out []string
	for _, st := range p.Stats() {
		out = append(out, st.Addr)
	}
	return out
}

// A host name is resolved when the pool is made; each of its addresses is a
// server of the pool, named by its address when there are several.
func TestResolve(t *testing.T) {
	r := &fakeResolver{names: map[string][]string{
		"one.test":  {"192.0.2.1"},
		"many.test": {"192.0.2.10", "2001:db8::10", "192.0.2.10", "::ffff:192.0.2.11"},
	}}
	var dialed []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		return pipeDial(ctx, network, addr)
	}
	p := newPool(t, Config{Addrs: []string{"one.test:9000", "many.test:80", "127.0.0.1:7", "unix:/run/x.sock"},
		Weights: []int{1, 3}, Resolver: r, Dial: dial})
	manualClock(p)
	want := []string{"one.test:9000", "192.0.2.10:80", "[2001:db8::10]:80", "192.0.2.11:80", "127.0.0.1:7", "unix:/run/x.sock"}
	if got := names(p); !slices.Equal(got, want) {
		t.Fatalf("servers %v, want %v", got, want)
	}
	if r.lookups != 2 {
		t.Fatalf("%d lookups: an IP address or a socket was looked up", r.lookups)
	}
	// Each server of a name has its weight.
	for i, w := range []int{1, 3, 3, 3, 1, 1} {
		if p.view[i].Weight != w {
			t.Errorf("%s: weight %d", want[i], p.view[i].Weight)
		}
	}
	// Dials go to the addresses resolved, never to the name again.
	for range 10 {
		c := get(t, p)
		c.Release(false)
	}
	for _, d := range dialed {
		if strings.Contains(d, ".test") {
			t.Fatalf("dialed %s", d)
		}
	}
	if r.lookups != 2 {
		t.Fatalf("%d lookups after dials", r.lookups)
	}
	// The configured name stands for all its servers.
	if !p.MarkDown("many.test:80", time.Minute) {
		t.Fatal("MarkDown by the configured name")
	}
	for _, st := range p.Stats()[1:4] {
		if !st.Down {
			t.Fatalf("%+v", st)
		}
	}
	p.MarkUp("many.test:80")
	if !p.MarkDown("[2001:db8::10]:80", time.Minute) || !p.Stats()[2].Down || p.Stats()[1].Down {
		t.Fatalf("MarkDown by one server's name: %+v", p.Stats())
	}
	p.MarkUp("many.test:80")
	for range 8 {
		c, err := p.GetWant(context.Background(), Want{Avoid: []string{"many.test:80", "one.test:9000"}})
		if err != nil {
			t.Fatal(err)
		}
		if u := c.Upstream(); u != "127.0.0.1:7" && u != "unix:/run/x.sock" {
			t.Fatalf("avoiding many.test and one.test, on %s", u)
		}
		c.Release(false)
	}
}

func TestResolveErrors(t *testing.T) {
	r := &fakeResolver{names: map[string][]string{"empty.test": {}}}
	for _, addr := range []string{"nowhere.test:80", "empty.test:80"} {
		_, err := New(Config{Addrs: []string{"127.0.0.1:1", addr}, Resolver: r})
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("%s: %v", addr, err)
		}
	}
	// A Dial of one's own, without a Resolver, is given names as they are.
	p := newPool(t, Config{Addrs: []string{"nowhere.test:80"}, Dial: pipeDial})
	if got := names(p); !slices.Equal(got, []string{"nowhere.test:80"}) || p.addrs[0].addr != "nowhere.test:80" {
		t.Fatalf("%v", got)
	}
}

// The default resolver: localhost from /etc/hosts, and a real server.
func TestResolveLocalhost(t *testing.T) {
	s := startEcho(t, "tcp")
	_, port, _ := net.SplitHostPort(s.addr)
	p := newPool(t, Config{Addrs: []string{"localhost:" + port}})
	for _, n := range names(p) {
		if n != "localhost:"+port && n != "127.0.0.1:"+port && n != "[::1]:"+port {
			t.Fatalf("localhost resolved to %v", names(p))
		}
	}
	// Several addresses (::1 too) of which one listens: the request finds it.
	for range 3 {
		c := get(t, p)
		if err := roundTrip(t, c, "x"); err != nil {
			t.Fatal(err)
		}
		c.Release(true)
	}
}
