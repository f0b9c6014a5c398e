package nethttp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/proto/http1"
	"gatehouse/web"
	"gatehouse/web/nethttp"
)

// serveH2 runs h behind net/http's own HTTP/2 server over TLS on
// 127.0.0.1 and returns its URL and a client that speaks HTTP/2 to it.
func serveH2(t *testing.T, h web.Handler, cfg nethttp.Config) (string, *http.Client) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ts := httptest.NewUnstartedServer(nethttp.HTTPHandler(h, cfg))
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = slog.NewLogLogger(slog.DiscardHandler, slog.LevelDebug)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	c := ts.Client()
	t.Cleanup(c.CloseIdleConnections)
	return ts.URL, c
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("served over %s, want HTTP/2", resp.Proto)
	}
	return resp, string(b)
}

// What a handler sees of an HTTP/2 request.
func TestHTTPHandlerRequest(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		body, err := io.ReadAll(r.Body())
		if err != nil {
			return err
		}
		var fields []string
		for name, value := range r.Header.All() {
			fields = append(fields, string(name)+"="+string(value))
		}
		_, err = fmt.Fprintf(w, "%s %s path=%s query=%s host=%s scheme=%s proto=%s len=%d tls=%v remote=%v local=%v body=%s fields=%s",
			r.Method(), r.Target(), r.Path(), r.RawQuery(), r.Host(), r.Scheme(), r.Proto(), r.ContentLength(),
			r.TLS() != nil, r.RemoteAddr().IsValid(), r.LocalAddr().IsValid(), body, strings.Join(fields, ","))
		return err
	})
	url, c := serveH2(t, h, nethttp.Config{})
	req, _ := http.NewRequest("POST", url+"/a%20b?q=1", strings.NewReader("payload"))
	req.Header.Set("X-B", "2")
	req.Header.Add("X-A", "1")
	req.Header.Add("X-A", "one")
	req.Header.Set("Te", "trailers")
	_, got := do(t, c, req)
	host := strings.TrimPrefix(url, "https://")
	want := "POST /a%20b?q=1 path=/a b query=q=1 host=" + host + " scheme=https proto=HTTP/2.0 len=7 tls=true remote=true local=true body=payload " +
		"fields=Host=" + host + ",Accept-Encoding=gzip,Content-Length=7,Te=trailers,User-Agent=Go-http-client/2.0,X-A=1,X-A=one,X-B=2"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// Connection-specific fields never reach the handler, whatever net/http
// lets through (golang/go#26321), and never leave in a response.
func TestHTTPHandlerDropsConnectionFields(t *testing.T) {
	var seen []string
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		for name, value := range r.Header.All() {
			seen = append(seen, string(name)+"="+string(value))
		}
		for _, f := range []string{"Connection: keep-alive", "Keep-Alive: timeout=5", "Transfer-Encoding: chunked",
			"Upgrade: websocket", "Proxy-Connection: keep-alive", "X-Kept: yes"} {
			name, value, _ := strings.Cut(f, ": ")
			w.Header().Add(name, value)
		}
		return nil
	})
	r := httptest.NewRequest("GET", "https://a.example/", nil)
	r.Proto, r.ProtoMajor, r.ProtoMinor, r.RequestURI = "HTTP/2.0", 2, 0, "/"
	for _, f := range []string{"Connection: keep-alive", "Keep-Alive: 1", "Proxy-Connection: x", "Transfer-Encoding: chunked",
		"Upgrade: h2c", "Http2-Settings: AAA", "Te: gzip", "X-Kept: yes"} {
		name, value, _ := strings.Cut(f, ": ")
		r.Header.Add(name, value)
	}
	rec := httptest.NewRecorder()
	nethttp.HTTPHandler(h, nethttp.Config{Logger: slog.New(slog.DiscardHandler)}).ServeHTTP(rec, r)
	if strings.Join(seen, ",") != "Host=a.example,X-Kept=yes" {
		t.Fatalf("the handler saw %v", seen)
	}
	for _, name := range []string{"Connection", "Keep-Alive", "Transfer-Encoding", "Upgrade", "Proxy-Connection"} {
		if v, ok := rec.Header()[name]; ok {
			t.Errorf("response field %s: %q", name, v)
		}
	}
	if rec.Header().Get("X-Kept") != "yes" || rec.Header().Get("Server") != "gatehouse" {
		t.Errorf("response header %v", rec.Header())
	}
	if _, sniffed := rec.Header()["Content-Type"]; !sniffed || rec.Header().Get("Content-Type") != "" {
		t.Errorf("Content-Type %q: must be left unset, and net/http told not to sniff one", rec.Header().Values("Content-Type"))
	}
}

// Requests refused before the handler runs, as serve/http1 refuses them.
func TestHTTPHandlerRefuses(t *testing.T) {
	ran := false
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error { ran = true; return nil })
	hh := nethttp.HTTPHandler(h, nethttp.Config{Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 10,
		Limits: limits(200, 1000, 5)})
	cases := []struct {
		name, method, target string
		fields               []string
		length               int64
		want                 int
	}{
		{"unknown method", "BREW", "/", nil, 0, 501},
		{"connect", "CONNECT", "a.example:443", nil, 0, 501},
		{"bad escape", "GET", "/a%zz", nil, 0, 400},
		{"fragment", "GET", "/a#b", nil, 0, 400},
		{"non-ASCII", "GET", "/caf\xc3\xa9", nil, 0, 400},
		{"target at the limit", "GET", "/" + strings.Repeat("a", 199), nil, 0, 200},
		{"target past the limit", "GET", "/" + strings.Repeat("a", 200), nil, 0, 414},
		{"field at the limit", "GET", "/", []string{"X-Long: " + strings.Repeat("v", 1000-8)}, 0, 200},
		{"field past the limit", "GET", "/", []string{"X-Long: " + strings.Repeat("v", 1000-7)}, 0, 431},
		{"fields at the limit", "GET", "/", []string{"A: 1", "B: 2", "C: 3", "D: 4"}, 0, 200}, // and Host
		{"fields past the limit", "GET", "/", []string{"A: 1", "B: 2", "C: 3", "D: 4", "E: 5"}, 0, 431},
		{"expectation", "GET", "/", []string{"Expect: teapot"}, 0, 417},
		{"body at the limit", "POST", "/", nil, 10, 200},
		{"body past the limit", "POST", "/", nil, 11, 413},
		{"options asterisk", "OPTIONS", "*", nil, 0, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran = false
			r := &http.Request{Method: c.method, RequestURI: c.target, Host: "a.example", Header: http.Header{},
				Proto: "HTTP/2.0", ProtoMajor: 2, ContentLength: c.length, Body: http.NoBody, RemoteAddr: "192.0.2.1:1234"}
			if c.length > 0 {
				r.Body = io.NopCloser(strings.NewReader(strings.Repeat("x", int(c.length))))
			}
			for _, f := range c.fields {
				name, value, _ := strings.Cut(f, ": ")
				r.Header.Add(name, value)
			}
			rec := httptest.NewRecorder()
			hh.ServeHTTP(rec, r.WithContext(context.Background()))
			if rec.Code != c.want || ran != (c.want == 200 && c.method != "OPTIONS") {
				t.Fatalf("status %d (handler ran: %v), want %d", rec.Code, ran, c.want)
			}
			if c.method == "OPTIONS" && rec.Header().Get("Allow") == "" {
				t.Fatal("OPTIONS * without Allow")
			}
		})
	}
}

// A response as the handler builds it: status, fields, Content-Length
// from a short body, no sniffed type, the Server field.
func TestHTTPHandlerResponse(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		switch r.Path() {
		case "/created":
			w.Header().Add("X-Multi", "a")
			w.Header().Add("X-Multi", "b")
			w.Header().Set("Server", "mine")
			w.WriteHeader(201)
			w.WriteHeader(500) // ignored, as the second call is
			_, err := w.WriteString("made")
			if w.Status() != 201 || w.Written() != 4 {
				return fmt.Errorf("status %d written %d", w.Status(), w.Written())
			}
			return err
		case "/empty":
			w.WriteHeader(204)
			if _, err := w.Write([]byte("x")); err == nil {
				return errors.New("a body on 204 was taken")
			}
			return nil
		case "/declared":
			w.Header().Set("Content-Length", "3")
			n, err := w.Write([]byte("abcdef"))
			if n != 3 || !errors.Is(err, nethttp.ErrContentLength) {
				return fmt.Errorf("wrote %d: %v", n, err)
			}
			return nil
		}
		return web.ErrNotFound
	})
	url, c := serveH2(t, h, nethttp.Config{})
	req, _ := http.NewRequest("GET", url+"/created", nil)
	resp, body := do(t, c, req)
	if resp.StatusCode != 201 || body != "made" || strings.Join(resp.Header.Values("X-Multi"), ",") != "a,b" ||
		resp.Header.Get("Server") != "mine" || resp.ContentLength != 4 || resp.Header.Get("Content-Type") != "" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
	req, _ = http.NewRequest("GET", url+"/empty", nil)
	if resp, body = do(t, c, req); resp.StatusCode != 204 || body != "" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("GET", url+"/declared", nil)
	if resp, body = do(t, c, req); resp.StatusCode != 200 || body != "abc" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("HEAD", url+"/created", nil)
	if resp, body = do(t, c, req); resp.StatusCode != 201 || body != "" {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
	}
	req, _ = http.NewRequest("GET", url+"/missing", nil)
	if resp, body = do(t, c, req); resp.StatusCode != 404 || body != "404 Not Found\n" || resp.Header.Get("Server") != "gatehouse" {
		t.Fatalf("error page: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// Flush sends what the body has at once: the client reads the first part
// while the handler still waits.
func TestHTTPHandlerFlush(t *testing.T) {
	release := make(chan struct{})
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.WriteString("first\n")
		if err := w.Flush(); err != nil {
			return err
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return r.Context().Err()
		}
		_, err := w.WriteString("second\n")
		return err
	})
	url, c := serveH2(t, h, nethttp.Config{})
	resp, err := c.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("%q %v", buf, err)
	}
	close(release)
	if rest, err := io.ReadAll(resp.Body); err != nil || string(rest) != "second\n" {
		t.Fatalf("%q %v", rest, err)
	}
}

// SendFile sends a file's range, reading at explicit offsets.
func TestHTTPHandlerSendFile(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 000 bytes: many frames
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, content, 0o644)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if r.Path() == "/short" {
			return w.SendFile(f, int64(len(content))-10, 20)
		}
		w.Header().Set("Content-Length", "300000")
		return w.SendFile(f, 16, 300000)
	})
	url, c := serveH2(t, h, nethttp.Config{})
	req, _ := http.NewRequest("GET", url+"/", nil)
	resp, body := do(t, c, req)
	if resp.ContentLength != 300000 || body != string(content[16:300016]) {
		t.Fatalf("%d bytes (Content-Length %d)", len(body), resp.ContentLength)
	}
	// The head went out; the body must end in an error, not as if whole.
	resp, err = c.Get(url + "/short")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a file shorter than the count was sent as a whole response")
	}
}

// An HTTP/2 stream cannot be taken over; the handler is told so.
func TestHTTPHandlerUpgradeFails(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.WatchClient() // nothing to do on HTTP/2: the context is watched already
		if _, err := w.Upgrade(); !errors.Is(err, nethttp.ErrNoUpgrade) {
			return fmt.Errorf("upgrade: %v", err)
		}
		return &web.Error{Status: 502, Err: nethttp.ErrNoUpgrade}
	})
	url, c := serveH2(t, h, nethttp.Config{})
	req, _ := http.NewRequest("GET", url+"/", nil)
	if resp, _ := do(t, c, req); resp.StatusCode != 502 {
		t.Fatalf("%d", resp.StatusCode)
	}
}

// A panic is a 500 before the response begins, a reset stream after; a
// failure after the head was sent cuts the response short.
func TestHTTPHandlerFailures(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		switch r.Path() {
		case "/panic":
			panic("boom")
		case "/panic-late":
			w.WriteString("partial")
			w.Flush()
			panic("boom")
		case "/abort":
			w.WriteString("partial")
			w.Flush()
			panic(web.ErrAbortHandler)
		case "/fail-late":
			w.WriteString("partial")
			w.Flush()
			return errors.New("backend went away")
		case "/short":
			w.Header().Set("Content-Length", "100")
			w.WriteString("partial")
			return nil
		}
		return nil
	})
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	url, c := serveH2(t, h, nethttp.Config{Logger: logger})
	req, _ := http.NewRequest("GET", url+"/panic", nil)
	if resp, body := do(t, c, req); resp.StatusCode != 500 || body != "500 Internal Server Error\n" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	for _, path := range []string{"/panic-late", "/abort", "/fail-late", "/short"} {
		resp, err := c.Get(url + path)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Errorf("%s: a response cut short arrived whole", path)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, line := range []string{"handler panicked", "handler failed after responding", "handler wrote less than its Content-Length"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("no %q in the log:\n%s", line, logs.String())
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// The body limit holds for a body of unknown length, and a body that
// stops coming fails the read with 408 once the read timeout passes.
func TestHTTPHandlerBodyLimits(t *testing.T) {
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		n, err := io.Copy(io.Discard, r.Body())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%d %d", r.ContentLength(), n)
		return err
	})
	url, c := serveH2(t, h, nethttp.Config{MaxBodyBytes: 1000, BodyReadTimeout: 200 * time.Millisecond})
	post := func(body io.Reader) (*http.Response, string) {
		req, _ := http.NewRequest("POST", url+"/", body)
		return do(t, c, req)
	}
	// An io.Reader the client cannot measure: sent without a length.
	unknown := func(n int) io.Reader { return io.MultiReader(strings.NewReader(strings.Repeat("x", n))) }
	if resp, body := post(unknown(1000)); resp.StatusCode != 200 || body != "-1 1000" {
		t.Fatalf("at the limit: %d %q", resp.StatusCode, body)
	}
	if resp, _ := post(unknown(1001)); resp.StatusCode != 413 {
		t.Fatalf("past the limit: %d", resp.StatusCode)
	}
	pr, pw := io.Pipe()
	stalled := make(chan struct{})
	go func() {
		pw.Write([]byte("some"))
		<-stalled // the client stalls; the server gives up first
		pw.CloseWithError(errors.New("done"))
	}()
	start := time.Now()
	resp, _ := post(pr)
	close(stalled)
	if resp.StatusCode != 408 || time.Since(start) > 3*time.Second {
		t.Fatalf("stalled body: %d after %v", resp.StatusCode, time.Since(start))
	}
}

// Every exchange reaches the access log, refused ones too.
func TestHTTPHandlerAccessLog(t *testing.T) {
	var mu sync.Mutex
	var entries []string
	al := accessLogFunc(func(e *web.AccessEntry) {
		mu.Lock()
		defer mu.Unlock()
		entries = append(entries, fmt.Sprintf("%s %s %d %d", e.Request.Method(), e.Request.Target(), e.Status, e.BodyBytes))
	})
	h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		_, err := w.WriteString("hello")
		return err
	})
	url, c := serveH2(t, h, nethttp.Config{AccessLog: al})
	for _, m := range []string{"GET", "HEAD", "BREW"} {
		req, _ := http.NewRequest(m, url+"/x?y", nil)
		do(t, c, req)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(entries, ","); got != "GET /x?y 200 5,HEAD /x?y 200 0,BREW /x?y 501 20" {
		t.Fatalf("%s", got)
	}
}

func limits(line, field, fields int) http1.Limits {
	return http1.Limits{MaxRequestLine: line, MaxFieldBytes: field, MaxFields: fields}
}

type accessLogFunc func(*web.AccessEntry)

func (f accessLogFunc) LogAccess(e *web.AccessEntry) { f(e) }
