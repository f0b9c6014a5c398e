package uwsgi

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/upstream"
)

// Failures against a uWSGI that is down (connection refused), or that closes
// every connection unanswered, are logged once at once and then counted, one
// line per interval, not a line per request.
func TestFailuresRateLimited(t *testing.T) {
	refused := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there now: connection refused
		return addr
	}
	hangsUp := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
		t.Cleanup(func() { l.Close(); <-done })
		return l.Addr().String()
	}
	for _, tc := range []struct {
		name  string
		addr  func(t *testing.T) string
		first string
	}{
		{"refused", refused, "uwsgi request failed"},
		{"hangs up", hangsUp, "uwsgi upstream closed without a response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.addr(t)
			h, logs := newHandler(t, Config{Upstream: upstream.Config{Addrs: []string{addr}}})
			clock := testutil.NewClock(time.Now())
			h.failures.Now, h.failures.AfterFunc = clock.Now, clock.AfterFunc
			url := "http://" + testserve.HTTP(t, h, shttp.Config{Logger: logs.Logger()}) + "/x"
			c := &http.Client{Timeout: 10 * time.Second}
			defer c.CloseIdleConnections()
			for range 60 {
				resp, err := c.Get(url)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 502 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			}
			failures := func() []string {
				var out []string
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
						out = append(out, l)
					}
				}
				return out
			}
			got := failures()
			if len(got) != 1 || !strings.Contains(got[0], tc.first) || !strings.Contains(got[0], addr) {
				t.Fatalf("60 failed requests: want one line at once, naming %s; got %d:\n%s", addr, len(got), strings.Join(got, "\n"))
			}
			clock.Advance(lograte.DefaultInterval)
			if got = failures(); len(got) != 2 || !strings.Contains(got[1], tc.first+": 59 more like this in the last 10s") {
				t.Fatalf("after the interval:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}
