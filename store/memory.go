package store

import (
	"context"
	"sync"
	"time"
)

// MemoryConfig configures a Memory store.
type MemoryConfig struct {
	// MaxEntries bounds the keys held. At the bound, a new key first makes
	// the store drop the expired ones, then, if none were, one held key
	// chosen at random (Go's map order): a flood of new keys cannot grow
	// memory without bound. Default 100,000; keep sessions in Redis when
	// more must live at once.
	MaxEntries int
	// SweepInterval is how often a goroutine drops expired keys. Default
	// 1 minute.
	SweepInterval time.Duration
	// Now is the clock. Default time.Now; tests inject theirs.
	Now func() time.Time
}

// DefaultMaxEntries is MemoryConfig.MaxEntries' default.
const DefaultMaxEntries = 100_000

// Memory is a Store in this process's memory, for a single instance.
type Memory struct {
	mu      sync.Mutex
	m       map[string]entry
	max     int
	now     func() time.Time
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}
}

type entry struct {
	value   []byte
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns a memory store and starts its sweeper; Close stops it.
func NewMemory(c MemoryConfig) *Memory {
	if c.MaxEntries <= 0 {
		c.MaxEntries = DefaultMaxEntries
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	s := &Memory{m: map[string]entry{}, max: c.MaxEntries, now: c.Now, stop: make(chan struct{}), done: make(chan struct{})}
	go s.sweeper(c.SweepInterval)
	return s
}

func (s *Memory) sweeper(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.Sweep()
		case <-s.stop:
			return
		}
	}
}

// Sweep drops every expired key now and returns how many it dropped.
func (s *Memory) Sweep() int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sweepLocked(now)
}

func (s *Memory) sweepLocked(now time.Time) int {
	n := 0
	for k, e := range s.m {
		if !now.Before(e.expires) {
			delete(s.m, k)
			n++
		}
	}
	return n
}

// Len returns the number of keys held, expired ones not yet swept included.
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// Get implements Store. The value returned is the caller's.
func (s *Memory) Get(_ context.Context, key string, touch time.Duration) ([]byte, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || !now.Before(e.expires) {
		return nil, ErrNotFound
	}
	if touch > 0 {
		e.expires = now.Add(touch)
		s.m[key] = e
	}
	return append([]byte(nil), e.value...), nil
}

// Set implements Store. The store keeps a copy of value.
func (s *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setLocked(now, key, value, ttl)
}

func (s *Memory) setLocked(now time.Time, key string, value []byte, ttl time.Duration) error {
	if _, ok := s.m[key]; !ok && len(s.m) >= s.max {
		if s.sweepLocked(now) == 0 {
			for k := range s.m { // one at random: Go randomises map order
				delete(s.m, k)
				break
			}
		}
	}
	s.m[key] = entry{append([]byte(nil), value...), now.Add(ttl)}
	return nil
}

// SetNX implements Store.
func (s *Memory) SetNX(_ context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[key]; ok && now.Before(e.expires) {
		return false, nil
	}
	return true, s.setLocked(now, key, value, ttl)
}

// Delete implements Store.
func (s *Memory) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// Touch implements Store.
func (s *Memory) Touch(_ context.Context, key string, ttl time.Duration) error {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || !now.Before(e.expires) {
		return ErrNotFound
	}
	e.expires = now.Add(ttl)
	s.m[key] = e
	return nil
}

// Close stops the sweeper and waits for it.
func (s *Memory) Close() error {
	s.stopped.Do(func() { close(s.stop) })
	<-s.done
	return nil
}
