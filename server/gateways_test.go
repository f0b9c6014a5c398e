package server

import (
	"testing"
	"time"

	"gatehouse/config"
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
		MaxQueue: 7, IdleTimeout: 30 * time.Second, DialTimeout: 2 * time.Second, QueueTimeout: -1, DownFor: 4 * time.Second}
	if got.MaxConns != want.MaxConns || got.MaxIdle != want.MaxIdle || got.MaxQueue != want.MaxQueue ||
		got.IdleTimeout != want.IdleTimeout || got.DialTimeout != want.DialTimeout ||
		got.QueueTimeout != want.QueueTimeout || got.DownFor != want.DownFor || len(got.Addrs) != 2 {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if c := UpstreamConfig(config.Upstream{Addrs: []string{"x:1"}, QueueTimeout: d("3s")}); c.QueueTimeout != 3*time.Second || c.IdleTimeout != 0 {
		t.Fatalf("defaults: %+v", c)
	}
}
