package server

import (
	"testing"

	"gatehouse/config"
)

// The server builds every backend the configuration knows, and no other:
// config.Backends is the one list.
func TestBackendsCoverConfig(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range config.Backends {
		if backends[b.Key] == nil {
			t.Errorf("config backend %q has no builder", b.Key)
		}
		seen[b.Key] = true
	}
	for k := range backends {
		if !seen[k] {
			t.Errorf("builder %q is no backend of config.Backends", k)
		}
	}
}

// The route chain's order is the documented one; a new layer takes its
// place deliberately.
func TestRouteChainOrder(t *testing.T) {
	want := []string{"headers", "methods", "limits", "session", "csrf", "compress", "x_sendfile", "x_accel", "buffering", "inbound", "upstream_timing"}
	if len(routeChain) != len(want) {
		t.Fatalf("%d layers, want %v", len(routeChain), want)
	}
	for i, l := range routeChain {
		if l.name != want[i] {
			t.Errorf("layer %d is %q, want %q", i, l.name, want[i])
		}
	}
}

// The site chain's order is the documented one.
func TestSiteChainOrder(t *testing.T) {
	want := []string{"hsts", "headers", "session", "csrf"}
	if len(siteChain) != len(want) {
		t.Fatalf("%d layers, want %v", len(siteChain), want)
	}
	for i, l := range siteChain {
		if l.name != want[i] {
			t.Errorf("layer %d is %q, want %q", i, l.name, want[i])
		}
	}
}
