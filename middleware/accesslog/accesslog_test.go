package accesslog

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

func entry(target string, fields ...string) *web.AccessEntry {
	r := webtest.NewRequest("GET", target, nil, fields...)
	return &web.AccessEntry{
		Request: r, Status: 200, BodyBytes: 13,
		Start:    time.Date(2026, 11, 25, 7, 47, 15, 0, time.UTC),
		Duration: 1500 * time.Microsecond,
		Remote:   netip.MustParseAddrPort("192.0.2.7:51000"),
	}
}

func TestCombined(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, Options{})
	l.LogAccess(entry("/a?b=1", "User-Agent: curl/8.0", "Referer: http://x/"))
	want := `192.0.2.7 - - [25/Nov/2026:07:47:15 +0000] "GET /a?b=1 HTTP/1.1" 200 13 "http://x/" "curl/8.0"` + "\n"
	if b.String() != want {
		t.Fatalf("got  %q\nwant %q", b.String(), want)
	}
}

// A client controls the target, Referer and User-Agent: none of it may break the
// line or forge a second one.
func TestCombinedEscapes(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, Options{})
	e := entry("/\"quoted\"\\", "User-Agent: evil\" 200 0 \"x\x7f\xff")
	l.LogAccess(e)
	line := b.String()
	if strings.Count(line, "\n") != 1 || strings.Count(line, `"`) != 6 {
		t.Fatalf("line not intact: %q", line)
	}
	for _, want := range []string{`/\x22quoted\x22\x5C`, `evil\x22 200 0 \x22x\x7F\xFF`} {
		if !strings.Contains(line, want) {
			t.Fatalf("%q lacks %q", line, want)
		}
	}
	// A request refused before parsing, on a Unix socket.
	b.Reset()
	l.LogAccess(&web.AccessEntry{Status: 400, BodyBytes: 16, Start: e.Start})
	if want := `unix: - - [25/Nov/2026:07:47:15 +0000] "-" 400 16 "-" "-"` + "\n"; b.String() != want {
		t.Fatalf("got %q", b.String())
	}
}

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, Options{Format: JSON})
	l.LogAccess(entry("/j\x01\"", "User-Agent: caf\xc3\xa9 \xff"))
	var got map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%q: %v", b.String(), err)
	}
	checks := map[string]any{
		"remote": "192.0.2.7", "method": "GET", "uri": "/j\x01\"", "status": 200.0, "bytes": 13.0,
		"user_agent": "café \ufffd", "duration_ms": 1.5, "proto": "HTTP/1.1", "time": "2026-11-25T07:47:15.000Z",
	}
	for k, v := range checks {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
}

func TestBuffered(t *testing.T) {
	var mu sync.Mutex
	var b bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return b.Write(p)
	})
	l := New(w, Options{Buffer: 4096, FlushEvery: 50 * time.Millisecond})
	l.LogAccess(entry("/1"))
	mu.Lock()
	early := b.Len()
	mu.Unlock()
	if early != 0 {
		t.Fatal("buffered logger wrote at once")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := b.Len()
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never flushed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.LogAccess(entry("/2"))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Count(b.String(), "\n") != 2 {
		t.Fatalf("%q", b.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestLogAccessAllocs(t *testing.T) {
	l := New(&bytes.Buffer{}, Options{Buffer: 1 << 20})
	defer l.Close()
	e := entry("/a", "User-Agent: x")
	for _, f := range []Format{Combined, JSON} {
		l.opt.Format = f
		l.LogAccess(e)
		if n := testing.AllocsPerRun(100, func() { l.LogAccess(e) }); n != 0 {
			t.Errorf("format %d: %v allocations per line", f, n)
		}
	}
}
