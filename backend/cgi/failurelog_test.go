package cgi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
)

// A script that fails every request the same way is logged once at once,
// then counted, one line per interval, not a line per request.
func TestFailuresRateLimited(t *testing.T) {
	fx := setup(t, Config{})
	clock := testutil.NewClock(time.Now())
	fx.h.failures.Now, fx.h.failures.AfterFunc = clock.Now, clock.AfterFunc
	url := "http://" + testserve.HTTP(t, fx.h, shttp.Config{Logger: fx.logs.Logger()}) + "/cgi-bin/nohead.sh"
	c := &http.Client{Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	for range 40 {
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
		for _, l := range strings.Split(fx.logs.String(), "\n") {
			if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
				out = append(out, l)
			}
		}
		return out
	}
	got := failures()
	if len(got) != 1 || !strings.Contains(got[0], "cgi script sent a bad response head") || !strings.Contains(got[0], "nohead.sh") {
		t.Fatalf("40 failed requests: want one line at once; got %d:\n%s", len(got), strings.Join(got, "\n"))
	}
	clock.Advance(lograte.DefaultInterval)
	if got = failures(); len(got) != 2 || !strings.Contains(got[1], "39 more like this in the last 10s") {
		t.Fatalf("after the interval:\n%s", strings.Join(got, "\n"))
	}
}
