package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a Redis store.
type RedisConfig struct {
	// URL chooses the deployment, through go-redis's universal client:
	//
	//	redis://[user:password@]host:port/db         one server (rediss:// for TLS)
	//	unix:///path/redis.sock?db=N                  one server on a Unix socket
	//	redis://host:port/db?master_name=M&addr=h2:p  Sentinel: the sentinels, and the master's name
	//	redis+cluster://host:port?addr=h2:p           Cluster: seed nodes
	//
	// go-redis's own query parameters apply (dial_timeout, read_timeout,
	// pool_size, max_retries, ...). Unless the URL sets them, gatehouse
	// dials within 1 s, waits 500 ms for an answer and retries once: a
	// request waits about a second before it is answered 503, not the
	// client's defaults of several.
	URL string
	// Prefix starts every key gatehouse writes, so that one Redis serves
	// several purposes (and several gatehouse deployments). Default "gh:".
	Prefix string
}

// Redis is a Store in Redis, shared by every instance that uses it.
//
// Keys are hashed: a key (a session ID, a nonce) is stored as the prefix and
// the base64url SHA-256 of the key, so that what Redis holds, its dumps and
// its slow log, and anyone who can run KEYS, never see a live session ID
// that would open a session.
type Redis struct {
	c      redis.UniversalClient
	prefix string
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Redis store for c.URL. It does not dial: the first
// command does, and a Redis that is down fails that command, not the start.
func NewRedis(c RedisConfig) (*Redis, error) {
	client, err := redisClient(c.URL)
	if err != nil {
		return nil, err
	}
	if c.Prefix == "" {
		c.Prefix = "gh:"
	}
	return &Redis{c: client, prefix: c.Prefix}, nil
}

// redisClient maps the URL onto the universal client's three shapes.
func redisClient(raw string) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	q := u.Query()
	given := func(k string) bool { return q.Has(k) }
	timeouts := func(dial, read, write *time.Duration, retries *int) {
		if !given("dial_timeout") {
			*dial = time.Second
		}
		if !given("read_timeout") {
			*read = 500 * time.Millisecond
		}
		if !given("write_timeout") {
			*write = 500 * time.Millisecond
		}
		if !given("max_retries") {
			*retries = 1
		}
	}
	switch u.Scheme {
	case "redis+cluster", "rediss+cluster":
		o, err := redis.ParseClusterURL(strings.Replace(raw, "+cluster", "", 1))
		if err != nil {
			return nil, fmt.Errorf("redis URL: %w", err)
		}
		timeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries)
		return redis.NewClusterClient(o), nil
	case "redis", "rediss":
		if given("master_name") {
			o, err := redis.ParseFailoverURL(raw)
			if err != nil {
				return nil, fmt.Errorf("redis URL: %w", err)
			}
			timeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries)
			return redis.NewFailoverClient(o), nil
		}
	case "unix":
	default:
		return nil, fmt.Errorf("redis URL %q: scheme %q is not redis, rediss, unix or redis+cluster", raw, u.Scheme)
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	timeouts(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.MaxRetries)
	return redis.NewClient(o), nil
}

// Key returns the Redis key of key: the prefix and the base64url SHA-256 of
// key.
func (s *Redis) Key(key string) string {
	sum := sha256.Sum256([]byte(key))
	b := make([]byte, 0, len(s.prefix)+43)
	b = append(b, s.prefix...)
	return string(base64.RawURLEncoding.AppendEncode(b, sum[:]))
}

// Ping checks that Redis answers.
func (s *Redis) Ping(ctx context.Context) error {
	return unavailable(s.c.Ping(ctx).Err())
}

// Get implements Store: GET, or GETEX with PX when touching (Redis 6.2).
func (s *Redis) Get(ctx context.Context, key string, touch time.Duration) ([]byte, error) {
	var cmd *redis.StringCmd
	if touch > 0 {
		cmd = s.c.GetEx(ctx, s.Key(key), touch)
	} else {
		cmd = s.c.Get(ctx, s.Key(key))
	}
	b, err := cmd.Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	return b, unavailable(err)
}

// Set implements Store: SET with PX.
func (s *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return unavailable(s.c.Set(ctx, s.Key(key), value, ttl).Err())
}

// SetNX implements Store: SET with NX and PX.
func (s *Redis) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	err := s.c.SetArgs(ctx, s.Key(key), value, redis.SetArgs{Mode: "NX", TTL: ttl}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, unavailable(err)
	}
	return true, nil
}

// Delete implements Store: DEL.
func (s *Redis) Delete(ctx context.Context, key string) error {
	return unavailable(s.c.Del(ctx, s.Key(key)).Err())
}

// Touch implements Store: PEXPIRE.
func (s *Redis) Touch(ctx context.Context, key string, ttl time.Duration) error {
	ok, err := s.c.PExpire(ctx, s.Key(key), ttl).Result()
	if err != nil {
		return unavailable(err)
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// Close closes the connections.
func (s *Redis) Close() error { return s.c.Close() }

// unavailable wraps a failure with ErrUnavailable, keeping its cause.
func unavailable(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err // the client left; Redis is not at fault
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
