package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/config"
	"gatehouse/internal/testutil"
	"gatehouse/listen"
	"gatehouse/web"
)

func testTLSConfig(t *testing.T) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{testutil.SelfSigned(t)}}
}

// h2Client speaks HTTP/2 over TLS (offering h2, then http/1.1), or over
// plain TCP with prior knowledge when h2c is set.
func h2Client(h2c bool) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// A TLS endpoint offers h2 first: a client that offers it speaks HTTP/2,
// one that offers only http/1.1 speaks HTTP/1.1, and an endpoint that
// offers only http/1.1 never speaks HTTP/2.
func TestHTTP2ByALPN(t *testing.T) {
	only11 := testTLSConfig(t)
	only11.NextProtos = []string{"http/1.1"}
	srv := startServer(t, Config{Handler: whoami("root"), Endpoints: []Endpoint{
		{Listen: listen.Config{Addr: "127.0.0.1:0"}, TLS: testTLSConfig(t)},
		{Listen: listen.Config{Addr: "127.0.0.1:0"}, TLS: only11},
	}})
	a := srv.Addrs()
	h2 := h2Client(false)
	defer h2.CloseIdleConnections()
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}}}
	defer h1.CloseIdleConnections()
	for _, c := range []struct {
		name   string
		client *http.Client
		addr   net.Addr
		proto  string
		body   string
	}{
		{"h2 offered", h2, a[0], "HTTP/2.0", "root https h2"},
		{"http/1.1 offered", h1, a[0], "HTTP/1.1", "root https http/1.1"},
		{"endpoint without h2", h2, a[1], "HTTP/1.1", "root https http/1.1"},
	} {
		resp, err := c.client.Get("https://" + c.addr.String() + "/")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != c.proto || string(b) != c.body {
			t.Errorf("%s: %s %q, want %s %q", c.name, resp.Proto, b, c.proto, c.body)
		}
	}
}

// An h2c endpoint serves HTTP/2 with prior knowledge and HTTP/1.x beside it
// on the same port, on the goroutine engine whichever is configured; it
// answers "Upgrade: h2c" as HTTP/1.1.
func TestH2CEndpoint(t *testing.T) {
	for _, eng := range []string{"epoll", "goroutine"} {
		t.Run(eng, func(t *testing.T) {
			logs := new(syncBuffer)
			srv := startServer(t, Config{Engine: eng, Handler: whoami("root"), Logger: slog.New(slog.NewTextHandler(logs, nil)),
				Endpoints: []Endpoint{
					{Listen: listen.Config{Addr: "127.0.0.1:0"}, H2C: true},
					{Listen: listen.Config{Addr: "127.0.0.1:0"}},
				}})
			addr, plain := srv.Addrs()[0].String(), srv.Addrs()[1].String()
			h2c := h2Client(true)
			defer h2c.CloseIdleConnections()
			resp, err := h2c.Get("http://" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Proto != "HTTP/2.0" || string(b) != "root http -" {
				t.Fatalf("h2c: %s %q", resp.Proto, b)
			}
			if got := get(t, http.DefaultClient, "http://"+addr+"/"); got != "root http -" {
				t.Fatalf("HTTP/1.1: %q", got)
			}
			http.DefaultClient.CloseIdleConnections()
			for _, req := range []string{
				"GET / HTTP/1.0\r\n\r\n", // shorter than the preface: answered without waiting for more
				"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
			} {
				resp := rawRequest(t, addr, req)
				if resp.StatusCode != 200 || resp.ProtoMajor != 1 || resp.Header.Get("Upgrade") != "" {
					t.Fatalf("%q: %s %d %v", req, resp.Proto, resp.StatusCode, resp.Header)
				}
			}
			// Neither HTTP/1.x nor HTTP/2: an invalid preface, closed without
			// a reply (and without a reset). HTTP/1.1 alone answers it 400.
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(c, "INVALID CONNECTION PREFACE\r\n\r\n")
			if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
				t.Fatalf("invalid preface: %q %v, want a clean close", b, err)
			}
			if resp := rawRequest(t, plain, "INVALID CONNECTION PREFACE\r\n\r\n"); resp.StatusCode != 400 {
				t.Fatalf("HTTP/1.1 endpoint: %d", resp.StatusCode)
			}
			if !strings.Contains(logs.String(), "addr="+addr+" protocol=http+h2c engine=goroutine") {
				t.Fatalf("the h2c endpoint does not run on the goroutine engine:\n%s", logs.String())
			}
		})
	}
}

// syncBuffer is a log destination tests read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// rawRequest writes req on a fresh connection and reads one response,
// within 5 s.
func rawRequest(t *testing.T, addr, req string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp
}

// Shutdown ends idle HTTP/2 connections gracefully (GOAWAY) at once,
// instead of waiting out the grace period for them.
func TestShutdownWithHTTP2(t *testing.T) {
	srv, err := New(Config{Handler: whoami("root"), Logger: quiet, Endpoints: []Endpoint{
		{Listen: listen.Config{Addr: "127.0.0.1:0"}, TLS: testTLSConfig(t)},
		{Listen: listen.Config{Addr: "127.0.0.1:0"}, H2C: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	a := srv.Addrs()
	h2, h2c := h2Client(false), h2Client(true)
	defer h2.CloseIdleConnections()
	defer h2c.CloseIdleConnections()
	for url, c := range map[string]*http.Client{"https://" + a[0].String() + "/": h2, "http://" + a[1].String() + "/": h2c} {
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s: %s", url, resp.Proto)
		}
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return: the idle HTTP/2 connections held the shutdown")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}

// curl is required by the tests (make test installs it); it runs with a
// time limit.
func curl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is required (make test installs it)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, "curl", append([]string{"-sS", "--max-time", "15"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// curlServer builds a server from a configuration with a static route and
// a CGI route (the scripts of cmd/gatehouse/testdata), with two handlers of
// the test's own beside them (a streamed response, a request echo), on a
// TLS endpoint, an h2c endpoint and a plain one.
func curlServer(t *testing.T, static string, release <-chan struct{}) []net.Addr {
	t.Helper()
	cgiRoot, err := filepath.Abs("../cmd/gatehouse/testdata/cgi-bin")
	if err != nil {
		t.Fatal(err)
	}
	built, err := Build(&config.Config{
		Listen: []config.Listen{{Addr: "127.0.0.1:0"}},
		Site: []config.Site{{Route: []config.Route{
			{Path: "/static/", Static: &config.Static{Root: static}},
			{Path: "/cgi-bin/", CGI: &config.CGI{Root: cgiRoot, NPH: true}},
		}}},
	}, BuildOptions{Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { built.Close() })
	cfg := built.Config
	cfg.Logger = quiet
	site := cfg.Handler
	cfg.Handler = web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		switch r.Path() {
		case "/stream":
			w.Header().Set("Content-Type", "text/plain")
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
		case "/echo":
			body, err := io.ReadAll(r.Body())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "%s %s %s %d %s", r.Method(), r.Proto(), r.Scheme(), len(body), r.Header.Get("Content-Type"))
			return err
		}
		return site.ServeHTTP(w, r)
	})
	ep := cfg.Endpoints[0]
	tlsEP, h2cEP := ep, ep
	tlsEP.TLS = testTLSConfig(t)
	h2cEP.H2C = true
	cfg.Endpoints = []Endpoint{tlsEP, h2cEP, ep}
	return startServer(t, cfg).Addrs()
}

// curl against every kind of route over HTTP/2 and HTTP/1.1 on TLS, h2c with
// prior knowledge, and "Upgrade: h2c" ignored.
func TestCurlHTTP2(t *testing.T) {
	static := t.TempDir()
	file := bytes.Repeat([]byte("gatehouse over h2\n"), 20000) // 360 000 bytes: many frames
	os.WriteFile(filepath.Join(static, "big.txt"), file, 0o644)
	upload := filepath.Join(t.TempDir(), "upload.bin")
	os.WriteFile(upload, bytes.Repeat([]byte("u"), 1<<20), 0o644) // past the 64 KiB initial windows
	release := make(chan struct{})
	a := curlServer(t, static, release)
	tlsBase, h2cBase, plainBase := "https://"+a[0].String(), "http://"+a[1].String(), "http://"+a[2].String()

	cases := []struct {
		name    string
		args    []string
		version string // curl's %{http_version}
		want    string // the body, or what it contains
		exact   bool
		code    string
	}{
		{"static h2", []string{"--http2", "-k", tlsBase + "/static/big.txt"}, "2", string(file), true, "200"},
		{"static http/1.1", []string{"--http1.1", "-k", tlsBase + "/static/big.txt"}, "1.1", string(file), true, "200"},
		{"echo h2", []string{"--http2", "-k", "-H", "Content-Type: application/octet-stream", "--data-binary", "@" + upload, tlsBase + "/echo"},
			"2", "POST HTTP/2.0 https 1048576 application/octet-stream", true, "200"},
		{"echo http/1.1", []string{"--http1.1", "-k", "--data-binary", "@" + upload, tlsBase + "/echo"},
			"1.1", "POST HTTP/1.1 https 1048576 application/x-www-form-urlencoded", true, "200"},
		{"cgi h2", []string{"--http2", "-k", "--data-binary", "payload", tlsBase + "/cgi-bin/env.sh/x/y?z=1"}, "2",
			"SCRIPT_NAME=/cgi-bin/env.sh\nPATH_INFO=/x/y\nQUERY_STRING=z=1\nHTTP_PROXY=\nHTTP_X_REQUEST_ID=\nbody=payload\n", true, "200"},
		{"cgi http/1.1", []string{"--http1.1", "-k", "--data-binary", "payload", tlsBase + "/cgi-bin/env.sh/x/y?z=1"}, "1.1",
			"SCRIPT_NAME=/cgi-bin/env.sh\nPATH_INFO=/x/y\nQUERY_STRING=z=1\nHTTP_PROXY=\nHTTP_X_REQUEST_ID=\nbody=payload\n", true, "200"},
		{"cgi local redirect h2", []string{"--http2", "-k", tlsBase + "/cgi-bin/moved.sh"}, "2", "PATH_INFO=/redirected", false, "200"},
		// A non-parsed-header script needs the connection, which an HTTP/2
		// stream does not have: 502, cleanly, and the connection lives on.
		{"cgi nph h2", []string{"--http2", "-k", tlsBase + "/cgi-bin/nph-status.sh"}, "2", "502 Bad Gateway\n", true, "502"},
		{"h2c prior knowledge", []string{"--http2-prior-knowledge", h2cBase + "/echo"}, "2", "GET HTTP/2.0 http 0 ", true, "200"},
		{"h2c static", []string{"--http2-prior-knowledge", h2cBase + "/static/big.txt"}, "2", string(file), true, "200"},
		{"h2c upgrade ignored", []string{"--http2", h2cBase + "/echo"}, "1.1", "GET HTTP/1.1 http 0 ", true, "200"},
		{"plain endpoint upgrade ignored", []string{"--http2", plainBase + "/echo"}, "1.1", "GET HTTP/1.1 http 0 ", true, "200"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, err := curl(t, append([]string{"-w", "\n%{http_code} %{http_version}"}, c.args...)...)
			if err != nil {
				t.Fatalf("%v: %s", err, errOut)
			}
			i := strings.LastIndexByte(out, '\n')
			body, code, version := out[:i], "", ""
			fmt.Sscan(out[i+1:], &code, &version)
			if version != c.version || code != c.code {
				t.Fatalf("%s over HTTP %q, want %s over %q", code, version, c.code, c.version)
			}
			if c.exact && body != c.want || !c.exact && !strings.Contains(body, c.want) {
				t.Fatalf("body %.200q, want %.200q", body, c.want)
			}
		})
	}

	// A streamed response: the first part arrives while the handler waits.
	t.Run("stream h2", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "curl", "-sS", "-N", "--http2", "-k", "--max-time", "15", "-w", "%{http_version}", tlsBase+"/stream")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(stdout)
		line, err := br.ReadString('\n')
		if err != nil || line != "first\n" {
			t.Fatalf("%q %v", line, err)
		}
		close(release)
		rest, _ := io.ReadAll(br)
		if err := cmd.Wait(); err != nil || string(rest) != "second\n2" {
			t.Fatalf("%q %v", rest, err)
		}
	})
}
