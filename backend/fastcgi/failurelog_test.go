package fastcgi

import (
	"strings"
	"testing"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/upstream"
)

// While php-fpm is down, every request is 502, but the log gets one line at
// once and then one summary per interval with the count, not a line per
// request (68 MB in 6.5 s before).
func TestDownLogsRateLimited(t *testing.T) {
	root, fpm := phpFixture(t, 0)
	logs := &logBuffer{}
	h := newPHP(t, Config{Root: root, Upstream: upstream.Config{Addrs: []string{fpm.sock}}, Logger: logs.Logger()})
	clock := testutil.NewClock(time.Now())
	h.failures.Now, h.failures.AfterFunc = clock.Now, clock.AfterFunc
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	if resp, body := do(t, c, "GET", "http://"+addr+"/sub/a.php", nil); resp.StatusCode != 200 {
		t.Fatalf("php-fpm up: %d %q", resp.StatusCode, body)
	}
	fpm.kill(t)
	for range 100 {
		if resp, _ := do(t, c, "GET", "http://"+addr+"/sub/a.php", nil); resp.StatusCode != 502 {
			t.Fatalf("php-fpm down: %d", resp.StatusCode)
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
	if len(got) != 1 || !strings.Contains(got[0], "fastcgi request failed") || !strings.Contains(got[0], fpm.sock[len("unix:"):]) ||
		!strings.Contains(got[0], "status=502") {
		t.Fatalf("100 failed requests: want one line at once, naming php-fpm's socket; got %d:\n%s", len(got), strings.Join(got, "\n"))
	}
	clock.Advance(lograte.DefaultInterval)
	got = failures()
	if len(got) != 2 || !strings.Contains(got[1], "fastcgi request failed: 99 more like this in the last 10s") {
		t.Fatalf("after the interval: want the count of the other 99; got:\n%s", strings.Join(got, "\n"))
	}
	// Still down: one more line per interval, however many requests.
	for range 50 {
		do(t, c, "GET", "http://"+addr+"/sub/a.php", nil)
	}
	clock.Advance(lograte.DefaultInterval)
	if got = failures(); len(got) != 3 || !strings.Contains(got[2], "50 more like this") {
		t.Fatalf("second interval:\n%s", strings.Join(got, "\n"))
	}
}
