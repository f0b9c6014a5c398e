package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

func TestMemoryClock(t *testing.T) {
	clk := testutil.NewClock(time.Unix(1_700_000_000, 0))
	s := NewMemory(MemoryConfig{Now: clk.Now, SweepInterval: time.Hour})
	defer s.Close()
	ctx := context.Background()
	s.Set(ctx, "k", []byte("v"), time.Minute)
	clk.Advance(time.Minute - time.Nanosecond)
	if _, err := s.Get(ctx, "k", 0); err != nil {
		t.Fatalf("a nanosecond before its expiry: %v", err)
	}
	clk.Advance(time.Nanosecond)
	if _, err := s.Get(ctx, "k", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("at its expiry: %v", err)
	}
	if err := s.Touch(ctx, "k", time.Hour); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an expired key was touched back to life: %v", err)
	}
	if s.Len() != 1 || s.Sweep() != 1 || s.Len() != 0 {
		t.Fatal("the sweep did not drop the expired key")
	}
}

// At the bound, expired keys go first, then one at random: the store never
// holds more than MaxEntries.
func TestMemoryBound(t *testing.T) {
	clk := testutil.NewClock(time.Unix(1_700_000_000, 0))
	s := NewMemory(MemoryConfig{MaxEntries: 10, Now: clk.Now, SweepInterval: time.Hour})
	defer s.Close()
	ctx := context.Background()
	for i := range 10 {
		s.Set(ctx, fmt.Sprint("short", i), nil, time.Second)
	}
	clk.Advance(2 * time.Second)
	s.Set(ctx, "new", nil, time.Minute)
	if s.Len() != 1 {
		t.Fatalf("%d held after the expired ones went", s.Len())
	}
	for i := range 100 {
		s.Set(ctx, fmt.Sprint("k", i), nil, time.Minute)
		if s.Len() > 10 {
			t.Fatalf("%d held, bound 10", s.Len())
		}
	}
	// Replacing a held key at the bound evicts nothing.
	s.Set(ctx, "k99", []byte("again"), time.Minute)
	if got, err := s.Get(ctx, "k99", 0); err != nil || string(got) != "again" || s.Len() != 10 {
		t.Fatalf("%q %v %d", got, err, s.Len())
	}
}

func TestMemoryCloseStopsSweeper(t *testing.T) {
	s := NewMemory(MemoryConfig{SweepInterval: time.Millisecond})
	time.Sleep(5 * time.Millisecond)
	s.Close()
	s.Close() // twice is fine
}
