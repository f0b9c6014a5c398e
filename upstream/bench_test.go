package upstream

import (
	"context"
	"testing"
)

// The cost of taking a kept connection and giving it back, the pool's hot
// path: the balancing policy's pick, the checks, the bookkeeping under the
// lock. The connections are pipes: nothing is sent.
func BenchmarkGetRelease(b *testing.B) {
	for _, bc := range []struct {
		name  string
		addrs []string
	}{
		{"1addr", []string{"127.0.0.1:1"}},
		{"3addrs", []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := New(Config{Addrs: bc.addrs, Dial: pipeDial})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c, err := p.Get(ctx)
				if err != nil {
					b.Fatal(err)
				}
				c.Release(true)
			}
		})
	}
}

// The same from many goroutines at once: the lock's contention.
func BenchmarkGetReleaseParallel(b *testing.B) {
	p, err := New(Config{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, Dial: pipeDial})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := p.Get(ctx)
			if err != nil {
				b.Error(err)
				return
			}
			c.Release(true)
		}
	})
}
