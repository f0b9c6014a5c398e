package server

import (
	"io"
	"net"
	"reflect"
	"slices"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/internal/testutil"
	"gatehouse/upstream"
)

// An [[upstream]] table maps key by key onto upstream.Config; "0s" for
// queue_timeout means no waiting (negative), an absent key the default (0).
func TestUpstreamConfig(t *testing.T) {
	d := func(s string) *config.Duration {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		return &config.Duration{Duration: v}
	}
	got := UpstreamConfig(config.Upstream{Name: "php", Addrs: []string{"unix:/run/a.sock", "127.0.0.1:9000"},
		MaxConns: 5, MaxIdle: -1, MaxQueue: 7, IdleTimeout: d("30s"), DialTimeout: d("2s"),
		QueueTimeout: d("0s"), DownFor: d("4s")})
	want := upstream.Config{Addrs: []string{"unix:/run/a.sock", "127.0.0.1:9000"}, MaxConns: 5, MaxIdle: -1,
		MaxQueue: 7, IdleTimeout: 30 * time.Second, DialTimeout: 2 * time.Second, QueueTimeout: -1, FailTimeout: 4 * time.Second}
	if got.MaxConns != want.MaxConns || got.MaxIdle != want.MaxIdle || got.MaxQueue != want.MaxQueue ||
		got.IdleTimeout != want.IdleTimeout || got.DialTimeout != want.DialTimeout ||
		got.QueueTimeout != want.QueueTimeout || got.FailTimeout != want.FailTimeout || len(got.Addrs) != 2 {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if c := UpstreamConfig(config.Upstream{Addrs: []string{"x:1"}, QueueTimeout: d("3s")}); c.QueueTimeout != 3*time.Second || c.IdleTimeout != 0 {
		t.Fatalf("defaults: %+v", c)
	}
}

// The balancing and health keys: max_fails = 0 is "never" (negative), the
// weights keyed by address follow addrs, the health table maps key by key.
func TestUpstreamConfigHealth(t *testing.T) {
	zero, three := 0, 3
	d := func(v time.Duration) *config.Duration { return &config.Duration{Duration: v} }
	got := UpstreamConfig(config.Upstream{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2", "unix:/run/a.sock"},
		Balance: "ip_hash", Weights: map[string]int{"unix:/run/a.sock": 5, "127.0.0.1:1": 2}, MaxFails: &zero,
		FailTimeout: d(30 * time.Second),
		Health: &config.UpstreamHealth{Kind: "http", Path: "/h", Host: "app", ExpectStatus: "204", ExpectBody: "ok",
			Interval: d(5 * time.Second), Timeout: d(time.Second), Rise: 4, Fall: 6}})
	if got.Balance != "ip_hash" || !slices.Equal(got.Weights, []int{2, 0, 5}) || got.MaxFails != -1 || got.FailTimeout != 30*time.Second {
		t.Fatalf("%+v", got)
	}
	want := upstream.HealthCheck{Kind: "http", Path: "/h", Host: "app", ExpectStatus: "204", ExpectBody: "ok",
		Interval: 5 * time.Second, Timeout: time.Second, Rise: 4, Fall: 6}
	if got.Health == nil || !reflect.DeepEqual(*got.Health, want) {
		t.Fatalf("health %+v", got.Health)
	}
	got = UpstreamConfig(config.Upstream{Addrs: []string{"127.0.0.1:1"}, MaxFails: &three,
		Health: &config.UpstreamHealth{Kind: "tcp", Send: "PING\r\n", Expect: "+PONG"}})
	if got.MaxFails != 3 || got.Weights != nil || got.Health.Send != "PING\r\n" || got.Health.Expect != "+PONG" || got.Health.Interval != 0 {
		t.Fatalf("%+v %+v", got, got.Health)
	}
	if got := UpstreamConfig(config.Upstream{Addrs: []string{"127.0.0.1:1"}}); got.MaxFails != 0 || got.Health != nil || got.Balance != "" {
		t.Fatalf("defaults: %+v", got)
	}
}

// A built [[upstream]] runs its health checks: the address with nothing
// listening is found down, the other stays up; Close stops them.
func TestUpstreamHealthBuilt(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dead := testutil.FreeAddr(t)
	ms := func(n int) *config.Duration { return &config.Duration{Duration: time.Duration(n) * time.Millisecond} }
	cfg := &config.Config{
		Listen: []config.Listen{{Addr: "127.0.0.1:0"}},
		Upstream: []config.Upstream{{Name: "app", Addrs: []string{l.Addr().String(), dead}, Balance: "first",
			Health: &config.UpstreamHealth{Kind: "tcp", Interval: ms(20), Timeout: ms(500), Fall: 1}}},
		Site: []config.Site{{Route: []config.Route{{Path: "/", UWSGI: &config.UWSGI{Pass: "app"}}}}},
	}
	built, err := Build(cfg, BuildOptions{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer built.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := built.pools["app"].Stats()
		if st[1].CheckDown && !st[0].Down {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
