package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// A Redis that fails or is gone is ErrUnavailable on every method, never
// ErrNotFound (which would start a new session as if the old one had
// expired) and never a panic. miniredis, because a fault is injected.
func TestRedisFaults(t *testing.T) {
	m := miniredis.RunT(t)
	s, err := NewRedis(RedisConfig{URL: "redis://" + m.Addr() + "/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{
		"get":       func() error { _, err := s.Get(ctx, "k", 0); return err },
		"get touch": func() error { _, err := s.Get(ctx, "k", time.Minute); return err },
		"set":       func() error { return s.Set(ctx, "k", []byte("v"), time.Minute) },
		"setnx":     func() error { _, err := s.SetNX(ctx, "n", []byte("v"), time.Minute); return err },
		"delete":    func() error { return s.Delete(ctx, "k") },
		"touch":     func() error { return s.Touch(ctx, "k", time.Minute) },
		"ping":      func() error { return s.Ping(ctx) },
	}
	m.SetError("LOADING Redis is loading the dataset in memory")
	for name, op := range ops {
		if err := op(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with a failing Redis: %v", name, err)
		}
	}
	m.SetError("")
	m.Close()
	for name, op := range ops {
		start := time.Now()
		if err := op(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with Redis gone: %v", name, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %v to fail", name, d)
		}
	}
	// A canceled request is the client's doing, not Redis's.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Get(cctx, "k", 0); errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
}
