// Package store keeps expiring keys for the middleware that needs state
// beyond one request: sessions now, replay nonces, OAuth2 login flows and
// rate limits after them. One small interface, two implementations: Memory,
// for one instance (bounded, swept), and Redis, for several instances behind
// any load balancer, sharing their state (one server, Sentinel or Cluster,
// chosen by the URL).
//
// A store that cannot answer says so (ErrUnavailable): callers answer 503
// and log it. None falls back to another store, which would split state
// between instances without anyone noticing.
package store

import (
	"context"
	"errors"
	"time"
)

// Store keeps values under keys until their time to live runs out. Every
// method is safe for concurrent use. A ttl must be positive.
type Store interface {
	// Get returns the value of key, or ErrNotFound. A touch above zero
	// also sets the key's time to live to touch, in the same step (Redis:
	// GETEX), for idle timeouts that slide with every use.
	Get(ctx context.Context, key string, touch time.Duration) ([]byte, error)
	// Set stores value under key for ttl, replacing what was there.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetNX stores value under key for ttl only if key holds nothing, and
	// reports whether it did: a new session ID that collides, a nonce seen
	// before.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// Delete removes key; a key that is not there is no error.
	Delete(ctx context.Context, key string) error
	// Touch sets key's time to live to ttl, or returns ErrNotFound.
	Touch(ctx context.Context, key string, ttl time.Duration) error
	// Close releases the store's resources (the sweeper, the connections).
	Close() error
}

// ErrNotFound reports a key the store does not hold (never set, expired or
// deleted).
var ErrNotFound = errors.New("store: key not found")

// ErrUnavailable wraps a failure to reach the store (Redis down, a
// timeout): the request cannot be answered as it should, and must not be
// answered as if the key were not there.
var ErrUnavailable = errors.New("store: unavailable")
