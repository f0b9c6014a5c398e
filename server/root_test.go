package server

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

func answer(s string) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		_, err := w.WriteString(s)
		return err
	})
}

// A request in flight finishes on the handler it started on; requests after
// the swap get the new one; the old one's channel closes only when its last
// request has ended.
func TestRootSwapDrains(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	old := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		started <- struct{}{}
		<-release
		_, err := w.WriteString("old")
		return err
	})
	rt := NewRoot(old)
	results := make(chan string, 2)
	for range 2 {
		go func() {
			rec := webtest.NewRecorder()
			webtest.Serve(rt, rec, webtest.NewRequest("GET", "/", nil))
			results <- rec.Body.String()
		}()
	}
	<-started
	<-started
	drained := rt.Swap(answer("new"))
	rec := webtest.NewRecorder()
	webtest.Serve(rt, rec, webtest.NewRequest("GET", "/", nil))
	if rec.Body.String() != "new" {
		t.Fatalf("after the swap: %q", rec.Body.String())
	}
	select {
	case <-drained:
		t.Fatal("drained with two requests still in the old handler")
	default:
	}
	close(release)
	for range 2 {
		if got := <-results; got != "old" {
			t.Fatalf("a request that started on the old handler got %q", got)
		}
	}
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("not drained after the last request")
	}
	// A handler with nothing in flight drains at once.
	select {
	case <-rt.Swap(answer("newer")):
	default:
		t.Fatal("an idle handler did not drain at once")
	}
}

// Swapping under load through the real server: every request is answered by
// one whole generation, none fails, and each generation drains after its
// last request (run with -race).
func TestRootSwapUnderLoad(t *testing.T) {
	for _, eng := range testserve.Engines() {
		t.Run(eng, func(t *testing.T) {
			var inFlight [64]atomic.Int64 // requests per generation, by number
			gen := func(n int) web.Handler {
				return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
					inFlight[n].Add(1)
					defer inFlight[n].Add(-1)
					time.Sleep(time.Duration(n%3) * 100 * time.Microsecond)
					_, err := fmt.Fprintf(w, "gen %d", n)
					return err
				})
			}
			rt := NewRoot(gen(0))
			addr := testserve.HTTPOn(t, eng, rt, shttp.Config{})
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var failures, served atomic.Int64
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := &http.Client{Timeout: 10 * time.Second}
					for {
						select {
						case <-stop:
							return
						default:
						}
						resp, err := c.Get("http://" + addr + "/")
						if err != nil {
							failures.Add(1)
							continue
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						var n int
						if resp.StatusCode != 200 || func() bool { _, err := fmt.Sscanf(string(b), "gen %d", &n); return err != nil }() {
							failures.Add(1)
						}
						served.Add(1)
					}
				}()
			}
			for n := 1; n < len(inFlight); n++ {
				time.Sleep(5 * time.Millisecond)
				drained := rt.Swap(gen(n))
				select {
				case <-drained:
				case <-time.After(5 * time.Second):
					t.Fatalf("generation %d never drained", n-1)
				}
				if k := inFlight[n-1].Load(); k != 0 {
					t.Fatalf("generation %d drained with %d requests in it", n-1, k)
				}
			}
			close(stop)
			wg.Wait()
			if failures.Load() != 0 || served.Load() == 0 {
				t.Fatalf("%d failures in %d requests", failures.Load(), served.Load())
			}
		})
	}
}

// A request through the Root allocates nothing of its own.
func TestRootAllocs(t *testing.T) {
	rt := NewRoot(web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error { return nil }))
	r := webtest.NewRequest("GET", "/", nil)
	w := webtest.NewRecorder()
	if n := testing.AllocsPerRun(1000, func() { rt.ServeHTTP(w, r) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}
