package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/testutil"
)

// The contract every Store keeps, run against each implementation: Memory,
// and Redis on a real redis-server.
func TestContract(t *testing.T) {
	addr := testutil.StartRedis(t)
	for _, impl := range []struct {
		name string
		open func(t *testing.T) Store
	}{
		{"memory", func(t *testing.T) Store { return NewMemory(MemoryConfig{}) }},
		{"redis", func(t *testing.T) Store {
			s, err := NewRedis(RedisConfig{URL: "redis://" + addr + "/0", Prefix: "test:" + t.Name() + ":"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
	} {
		t.Run(impl.name, func(t *testing.T) {
			for _, c := range contract {
				t.Run(c.name, func(t *testing.T) {
					s := impl.open(t)
					defer s.Close()
					c.run(t, context.Background(), s)
				})
			}
		})
	}
}

var contract = []struct {
	name string
	run  func(t *testing.T, ctx context.Context, s Store)
}{
	{"get of a key never set", func(t *testing.T, ctx context.Context, s Store) {
		if v, err := s.Get(ctx, "absent", 0); !errors.Is(err, ErrNotFound) || v != nil {
			t.Fatalf("%q, %v", v, err)
		}
	}},
	{"set then get", func(t *testing.T, ctx context.Context, s Store) {
		val := []byte("value\x00with\xffbytes")
		if err := s.Set(ctx, "k", val, time.Minute); err != nil {
			t.Fatal(err)
		}
		val[0] = 'X' // the store keeps its own copy
		got, err := s.Get(ctx, "k", 0)
		if err != nil || string(got) != "value\x00with\xffbytes" {
			t.Fatalf("%q, %v", got, err)
		}
		got[0] = 'Y'
		if again, _ := s.Get(ctx, "k", 0); again[0] != 'v' {
			t.Fatal("Get returned the store's own bytes")
		}
	}},
	{"set replaces", func(t *testing.T, ctx context.Context, s Store) {
		s.Set(ctx, "k", []byte("1"), time.Minute)
		s.Set(ctx, "k", []byte("2"), time.Minute)
		if got, _ := s.Get(ctx, "k", 0); string(got) != "2" {
			t.Fatalf("%q", got)
		}
	}},
	{"empty value", func(t *testing.T, ctx context.Context, s Store) {
		s.Set(ctx, "k", nil, time.Minute)
		if got, err := s.Get(ctx, "k", 0); err != nil || len(got) != 0 {
			t.Fatalf("%q, %v", got, err)
		}
	}},
	{"expiry", func(t *testing.T, ctx context.Context, s Store) {
		s.Set(ctx, "k", []byte("v"), 50*time.Millisecond)
		waitGone(t, ctx, s, "k")
	}},
	{"setnx", func(t *testing.T, ctx context.Context, s Store) {
		ok, err := s.SetNX(ctx, "k", []byte("first"), time.Minute)
		if !ok || err != nil {
			t.Fatalf("first SetNX: %v %v", ok, err)
		}
		ok, err = s.SetNX(ctx, "k", []byte("second"), time.Minute)
		if ok || err != nil {
			t.Fatalf("second SetNX: %v %v", ok, err)
		}
		if got, _ := s.Get(ctx, "k", 0); string(got) != "first" {
			t.Fatalf("%q", got)
		}
	}},
	{"setnx after expiry", func(t *testing.T, ctx context.Context, s Store) {
		s.Set(ctx, "k", []byte("old"), 50*time.Millisecond)
		waitGone(t, ctx, s, "k")
		if ok, err := s.SetNX(ctx, "k", []byte("new"), time.Minute); !ok || err != nil {
			t.Fatalf("%v %v", ok, err)
		}
	}},
	{"setnx concurrent: one wins", func(t *testing.T, ctx context.Context, s Store) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if ok, err := s.SetNX(ctx, "k", []byte{byte(i)}, time.Minute); ok && err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d winners", wins)
		}
	}},
	{"delete", func(t *testing.T, ctx context.Context, s Store) {
		s.Set(ctx, "k", []byte("v"), time.Minute)
		if err := s.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "k", 0); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "k"); err != nil {
			t.Fatalf("deleting an absent key: %v", err)
		}
	}},
	{"touch extends", func(t *testing.T, ctx context.Context, s Store) {
		s.Set(ctx, "k", []byte("v"), 150*time.Millisecond)
		if err := s.Touch(ctx, "k", time.Minute); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // past the first TTL; a real clock, as Redis has one
		if got, err := s.Get(ctx, "k", 0); err != nil || string(got) != "v" {
			t.Fatalf("%q, %v", got, err)
		}
	}},
	{"touch shortens", func(t *testing.T, ctx context.Context, s Store) {
		s.Set(ctx, "k", []byte("v"), time.Minute)
		s.Touch(ctx, "k", 50*time.Millisecond)
		waitGone(t, ctx, s, "k")
	}},
	{"touch of an absent key", func(t *testing.T, ctx context.Context, s Store) {
		if err := s.Touch(ctx, "absent", time.Minute); !errors.Is(err, ErrNotFound) {
			t.Fatal(err)
		}
	}},
	{"get with touch slides the expiry", func(t *testing.T, ctx context.Context, s Store) {
		s.Set(ctx, "k", []byte("v"), 200*time.Millisecond)
		for range 4 {
			time.Sleep(100 * time.Millisecond)
			if _, err := s.Get(ctx, "k", 200*time.Millisecond); err != nil {
				t.Fatalf("expired while in use: %v", err)
			}
		}
		waitGone(t, ctx, s, "k")
	}},
	{"keys are distinct", func(t *testing.T, ctx context.Context, s Store) {
		for i := range 50 {
			s.Set(ctx, fmt.Sprintf("k%d", i), []byte(fmt.Sprint(i)), time.Minute)
		}
		for i := range 50 {
			if got, _ := s.Get(ctx, fmt.Sprintf("k%d", i), 0); string(got) != fmt.Sprint(i) {
				t.Fatalf("k%d = %q", i, got)
			}
		}
	}},
	{"large value", func(t *testing.T, ctx context.Context, s Store) {
		v := bytes.Repeat([]byte("x"), 1<<20)
		s.Set(ctx, "k", v, time.Minute)
		if got, _ := s.Get(ctx, "k", 0); !bytes.Equal(got, v) {
			t.Fatalf("%d bytes back", len(got))
		}
	}},
}

// waitGone waits (up to 5 s) until key has expired.
func waitGone(t *testing.T, ctx context.Context, s Store, key string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Get(ctx, key, 0)
		if errors.Is(err, ErrNotFound) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never expired", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Redis holds no raw key: only the prefix and the key's hash.
func TestRedisKeysHashed(t *testing.T) {
	addr := testutil.StartRedis(t)
	s, err := NewRedis(RedisConfig{URL: "redis://" + addr + "/3"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	const id = "session-id-that-must-not-show"
	if err := s.Set(ctx, id, []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	keys, err := s.c.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !strings.HasPrefix(keys[0], "gh:") || strings.Contains(keys[0], id) || len(keys[0]) != len("gh:")+43 {
		t.Fatalf("keys %q", keys)
	}
	if keys[0] != s.Key(id) {
		t.Fatalf("%q is not Key's %q", keys[0], s.Key(id))
	}
	// The URL's database is used.
	if n, _ := s.c.DBSize(ctx).Result(); n != 1 {
		t.Fatalf("db 3 holds %d keys", n)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRedisURL(t *testing.T) {
	for _, c := range []struct {
		url, err string
	}{
		{"redis://127.0.0.1:6379/0", ""},
		{"redis://user:pass@127.0.0.1:6379/2", ""},
		{"rediss://127.0.0.1:6380/0", ""},
		{"unix:///run/redis.sock?db=1", ""},
		{"redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380", ""},
		{"redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001", ""},
		{"redis://127.0.0.1:6379/0?dial_timeout=3s&max_retries=0", ""},
		{"http://127.0.0.1:6379/0", "scheme \"http\""},
		{"127.0.0.1:6379", "redis URL"},
		{"redis://127.0.0.1:6379/x", "invalid database"},
		{"redis://127.0.0.1:6379/0?nonsense=1", "unexpected option"},
		{"redis://%zz", "invalid URL escape"},
	} {
		// NewRedis dials nothing: gatehouse check builds the store to check
		// its URL.
		r, err := NewRedis(RedisConfig{URL: c.url})
		if err == nil {
			r.Close()
		}
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("NewRedis(%q) = %v, want %q", c.url, err, c.err)
		}
	}
}
