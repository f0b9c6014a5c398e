package demo

import (
	"encoding/json"
	"strings"
	"testing"

	"gatehouse/web/webtest"
)

func TestPages(t *testing.T) {
	h := New()
	cases := []struct {
		method, target string
		status         int
		contains       string
		ctype          string
	}{
		{"GET", "/", 200, "<h1>gatehouse</h1>", "text/html; charset=utf-8"},
		{"GET", "/index.html", 200, "<h1>gatehouse</h1>", "text/html; charset=utf-8"},
		{"GET", "/style.css", 200, "font", "text/css; charset=utf-8"},
		{"GET", "/healthz", 200, "ok", "text/plain; charset=utf-8"},
		{"HEAD", "/", 200, "", "text/html; charset=utf-8"},
		{"GET", "/nope", 404, "404 Not Found", ""},
		{"POST", "/", 405, "", ""},
		{"GET", "/stream?n=5000", 400, "", ""},
		{"GET", "/stream?ms=-1", 400, "", ""},
	}
	for _, tc := range cases {
		w := webtest.NewRecorder()
		webtest.Serve(h, w, webtest.NewRequest(tc.method, tc.target, nil))
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.contains) {
			t.Errorf("%s %s: %d %.60q", tc.method, tc.target, w.Code, w.Body.String())
		}
		if tc.ctype != "" && w.Head.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: Content-Type %q", tc.target, w.Head.Get("Content-Type"))
		}
		if tc.status == 405 && w.Head.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("405 without Allow")
		}
	}
}

func TestEcho(t *testing.T) {
	h := New()
	w := webtest.NewRecorder()
	r := webtest.NewRequest("POST", "/echo?x=1&y=%20", strings.NewReader("hello body"), "X-Test: yes", "Content-Type: text/plain")
	if err := webtest.Serve(h, w, r); err != nil {
		t.Fatal(err)
	}
	var got EchoReply
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%q: %v", w.Body.String(), err)
	}
	if got.Method != "POST" || got.Path != "/echo" || got.Query != "x=1&y=%20" || got.Body != "hello body" ||
		got.BodySize != 10 || got.Proto != "HTTP/1.1" || got.Remote != "192.0.2.1:1234" {
		t.Fatalf("%+v", got)
	}
	found := false
	for _, h := range got.Headers {
		found = found || h == [2]string{"X-Test", "yes"}
	}
	if !found || w.Head.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v, content type %q", got.Headers, w.Head.Get("Content-Type"))
	}
	// Binary bodies come back base64-encoded.
	w = webtest.NewRecorder()
	webtest.Serve(h, w, webtest.NewRequest("PUT", "/echo", strings.NewReader("\xff\x00")))
	json.Unmarshal(w.Body.Bytes(), &got)
	if !got.BodyB64 || got.Body != "/wA=" {
		t.Fatalf("binary: %+v", got)
	}
	// Over the limit.
	w = webtest.NewRecorder()
	webtest.Serve(h, w, webtest.NewRequest("POST", "/echo", strings.NewReader(strings.Repeat("x", MaxEchoBody+1))))
	if w.Code != 413 {
		t.Fatalf("big body: %d", w.Code)
	}
}

func TestStream(t *testing.T) {
	w := webtest.NewRecorder()
	webtest.Serve(New(), w, webtest.NewRequest("GET", "/stream?n=3&ms=1", nil))
	lines := strings.Split(strings.TrimSpace(w.Body.String()), "\n")
	if w.Code != 200 || len(lines) != 3 || !strings.HasPrefix(lines[2], "line 3 of 3 at ") || !w.Flushed {
		t.Fatalf("%d %q flushed=%v", w.Code, w.Body.String(), w.Flushed)
	}
}
