package http1_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/proto/http1"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

func TestKeepAlive(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, echo, shttp.Config{})
		c := dial(t, ts.addr)
		for i := range 3 {
			c.send(fmt.Sprintf("POST /n/%d HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n%d", i, i))
			r := c.read("POST")
			if r.StatusCode != 200 || r.body != fmt.Sprint(i) || r.Header.Get("X-Path") != fmt.Sprintf("/n/%d", i) || r.Close {
				t.Fatalf("request %d: %d %q %v close=%v", i, r.StatusCode, r.body, r.Header, r.Close)
			}
			if r.Header.Get("Content-Length") != "1" || r.Header.Get("Server") != "gatehouse" {
				t.Fatalf("headers %v", r.Header)
			}
			if _, err := time.Parse(time.RFC1123, r.Header.Get("Date")); err != nil || !strings.HasSuffix(r.Header.Get("Date"), " GMT") {
				t.Fatalf("Date %q: %v", r.Header.Get("Date"), err)
			}
		}
	})
}

// R27: pipelined requests are all answered, in order, each exactly once.
func TestPipelining(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, echo, shttp.Config{})
		c := dial(t, ts.addr)
		var batch strings.Builder
		var methods []string
		for i := range 20 {
			switch i % 4 {
			case 0:
				fmt.Fprintf(&batch, "GET /%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
				methods = append(methods, "GET")
			case 1:
				fmt.Fprintf(&batch, "POST /%d HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nb%02d", i, i)
				methods = append(methods, "POST")
			case 2:
				fmt.Fprintf(&batch, "PUT /%d HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nc%d\r\n0\r\n\r\n", i, i%10)
				methods = append(methods, "PUT")
			case 3:
				fmt.Fprintf(&batch, "HEAD /%d HTTP/1.1\r\nHost: a\r\n\r\n", i)
				methods = append(methods, "HEAD")
			}
		}
		c.send(batch.String())
		for i, m := range methods {
			r := c.read(m)
			if got := r.Header.Get("X-Path"); got != fmt.Sprintf("/%d", i) {
				t.Fatalf("response %d is for %s", i, got)
			}
			want := map[string]string{"GET": "", "POST": fmt.Sprintf("b%02d", i), "PUT": fmt.Sprintf("c%d", i%10), "HEAD": ""}[m]
			if r.body != want {
				t.Fatalf("response %d body %q, want %q", i, r.body, want)
			}
		}
		// Exactly once: nothing more arrives, and the connection is still usable.
		c.send("GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if r := c.read("GET"); r.Header.Get("X-Path") != "/last" {
			t.Fatalf("extra response: %v", r.Header)
		}
		c.expectClosed()
	})
}

func TestHTTP10KeepAlive(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, hello, shttp.Config{})
		// HTTP/1.0 without keep-alive: answered, then closed.
		c := dial(t, ts.addr)
		c.send("GET / HTTP/1.0\r\n\r\n")
		r := c.read("GET")
		if r.body != "Hello, World!" || r.ProtoMinor != 1 || !r.Close {
			t.Fatalf("%v %v %q", r.Proto, r.Header, r.body)
		}
		c.expectClosed()
		// HTTP/1.0 with keep-alive: the connection stays, and says so.
		c = dial(t, ts.addr)
		for range 2 {
			c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			r = c.read("GET")
			if r.Header.Get("Connection") != "keep-alive" || r.Header.Get("Content-Length") != "13" {
				t.Fatalf("%v", r.Header)
			}
		}
		// HTTP/1.1 with Connection: close.
		c = dial(t, ts.addr)
		c.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
		if r = c.read("GET"); !r.Close {
			t.Fatalf("%v", r.Header)
		}
		c.expectClosed()
	})
}

func TestHead(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		big := strings.Repeat("x", 10000)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			w.Header().Set("Content-Type", "text/plain")
			if r.Path() == "/big" {
				w.WriteString(big)
			} else {
				w.WriteString("small body")
			}
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{})
		c := dial(t, ts.addr)
		for _, path := range []string{"/small", "/big"} {
			c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
			get := c.read("GET")
			c.send("HEAD " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
			head := c.read("HEAD")
			if head.body != "" || head.StatusCode != 200 {
				t.Fatalf("HEAD %s: %d body %q", path, head.StatusCode, head.body)
			}
			for _, k := range []string{"Content-Type", "Content-Length", "Transfer-Encoding"} {
				if get.Header.Get(k) != head.Header.Get(k) {
					t.Errorf("%s %s: GET %q, HEAD %q", path, k, get.Header.Get(k), head.Header.Get(k))
				}
			}
		}
		// The connection is still in sync after HEADs: no body bytes were sent.
		c.send("GET /small HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := c.read("GET"); r.body != "small body" {
			t.Fatalf("after HEAD: %q", r.body)
		}
	})
}

func TestOptionsAndMethods(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, web.Allow(hello, "GET"), shttp.Config{})
		c := dial(t, ts.addr)
		c.send("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
		r := c.read("OPTIONS")
		if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Allow"), "GET") || r.ContentLength != 0 {
			t.Fatalf("OPTIONS *: %d %v", r.StatusCode, r.Header)
		}
		c.send("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n")
		r = c.read("OPTIONS")
		if r.StatusCode != 204 || r.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Fatalf("OPTIONS /x: %d %v", r.StatusCode, r.Header)
		}
		c.send("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n")
		r = c.read("DELETE")
		if r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Fatalf("DELETE: %d %v", r.StatusCode, r.Header)
		}
		c.send("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n")
		if r = c.read("HEAD"); r.StatusCode != 200 {
			t.Fatalf("HEAD: %d", r.StatusCode)
		}
		// R7: an unknown but well-formed method is 501; the connection survives.
		c.send("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n")
		if r = c.read("BREW"); r.StatusCode != 501 {
			t.Fatalf("BREW: %d", r.StatusCode)
		}
		c.send("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
		if r = c.read("GET"); r.StatusCode != 200 {
			t.Fatalf("after 501: %d", r.StatusCode)
		}
	})
}

func TestExpectContinue(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		refuse := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			if r.Path() == "/refuse" {
				return web.ErrForbidden // decides without reading the body
			}
			return echo(w, r)
		})
		ts := startServer(t, e, refuse, shttp.Config{})

		// The handler reads: 100 Continue comes first, then the final response.
		c := dial(t, ts.addr)
		c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != 100 {
			t.Fatalf("want 100 Continue, got %d", r.StatusCode)
		}
		c.send("hello")
		if r := c.read("POST"); r.StatusCode != 200 || r.body != "hello" {
			t.Fatalf("final: %d %q", r.StatusCode, r.body)
		}
		c.send("GET /echo HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 {
			t.Fatalf("after expect: %d", r.StatusCode)
		}

		// The handler refuses without reading: no 100, the final status, and
		// the connection closes (the client may or may not send the body).
		c = dial(t, ts.addr)
		c.send("POST /refuse HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != 403 || !r.Close {
			t.Fatalf("refuse: %d %v", r.StatusCode, r.Header)
		}
		c.expectClosed()

		// HTTP/1.0: no 1xx ever (RFC 9110 §15.2: a server MUST NOT send one to
		// an HTTP/1.0 client); the body is just read.
		c = dial(t, ts.addr)
		c.send("POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
		if r := c.read("POST"); r.StatusCode != 200 || r.body != "hello" {
			t.Fatalf("HTTP/1.0 with Expect: %d %q", r.StatusCode, r.body)
		}
		c.expectClosed()
		// ... also when the handler refuses without reading: the final status.
		c = dial(t, ts.addr)
		c.send("POST /refuse HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello")
		if r := c.read("POST"); r.StatusCode != 403 {
			t.Fatalf("HTTP/1.0 with Expect, refused: %d", r.StatusCode)
		}

		// R25: any other expectation is 417.
		c = dial(t, ts.addr)
		c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 200-ok\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != 417 {
			t.Fatalf("other expectation: %d", r.StatusCode)
		}
		// A declared body over the limit is 413 before any 100 is sent.
		ts2 := startServer(t, e, echo, shttp.Config{MaxBodyBytes: 4})
		c = dial(t, ts2.addr)
		c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		if r := c.read("POST"); r.StatusCode != 413 {
			t.Fatalf("413 expected, got %d", r.StatusCode)
		}
	})
}

func TestChunkedUploadAndTrailers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, echo, shttp.Config{})
		c := dial(t, ts.addr)
		c.send("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5;name=x\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Sum: 11\r\n\r\n")
		r := c.read("POST")
		if r.StatusCode != 200 || r.body != "hello world" {
			t.Fatalf("%d %q", r.StatusCode, r.body)
		}
		// A big chunked upload in pieces larger than the buffers.
		big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
		var req strings.Builder
		req.WriteString("POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
		for rest := big; len(rest) > 0; {
			n := min(len(rest), 70000)
			fmt.Fprintf(&req, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		req.WriteString("0\r\n\r\n")
		sent := make(chan error, 1)
		go func() {
			_, err := io.WriteString(c.conn, req.String())
			sent <- err
		}()
		if r := c.read("POST"); r.body != big {
			t.Fatalf("big upload: got %d bytes", len(r.body))
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	})
}

func TestBadChunkedBody(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, echo, shttp.Config{})
		for _, body := range []string{
			"5\r\nhelloXX0\r\n\r\n",     // R21
			"0x5\r\nhello\r\n0\r\n\r\n", // R20
			"1;a\nZ\r\n0\r\n\r\n",       // R22
			"0\r\nHost: evil\r\n\r\n",   // R23
			"0\r\nContent-Length: 9\r\n\r\n",
		} {
			c := dial(t, ts.addr)
			c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body + "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
			r := c.read("POST")
			if r.StatusCode != 400 || !r.Close {
				t.Fatalf("%q: %d %v", body, r.StatusCode, r.Header)
			}
			c.expectClosed() // the smuggled request is never served
		}
	})
}

func TestStreamingResponse(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			for i := range 5 {
				fmt.Fprintf(w, "line %d\n", i)
				if err := w.Flush(); err != nil {
					return err
				}
			}
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{})
		want := "line 0\nline 1\nline 2\nline 3\nline 4\n"
		c := dial(t, ts.addr)
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		r := c.read("GET")
		if r.body != want || len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked" {
			t.Fatalf("%q %v", r.body, r.TransferEncoding)
		}
		// HTTP/1.0 has no chunked coding: the body ends when the connection does.
		c = dial(t, ts.addr)
		c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		r = c.read("GET")
		if r.body != want || !r.Close || len(r.TransferEncoding) != 0 {
			t.Fatalf("1.0: %q %v", r.body, r.Header)
		}
	})
}

func TestLargeResponses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		big := []byte(strings.Repeat("abcdefghijklmnop", 1<<16)) // 1 MiB
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			if r.Path() == "/cl" {
				w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			}
			for off := 0; off < len(big); off += 3000 {
				w.Write(big[off:min(off+3000, len(big))])
			}
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{})
		c := dial(t, ts.addr)
		for _, path := range []string{"/cl", "/chunked", "/cl"} {
			c.send("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n")
			r := c.read("GET")
			if r.body != string(big) {
				t.Fatalf("%s: %d bytes", path, len(r.body))
			}
			if chunked := len(r.TransferEncoding) > 0; chunked != (path == "/chunked") {
				t.Fatalf("%s: transfer encoding %v", path, r.TransferEncoding)
			}
		}
	})
}

func TestContentLengthMismatch(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		writeErr := make(chan error, 1)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			w.Header().Set("Content-Length", "10")
			if r.Path() == "/short" {
				w.WriteString("12345")
				w.Flush()
				return nil
			}
			_, err := w.WriteString("123456789012345")
			writeErr <- err
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{})
		c := dial(t, ts.addr)
		c.send("GET /long HTTP/1.1\r\nHost: a\r\n\r\n")
		if r, err := c.read("GET"), <-writeErr; r.body != "1234567890" || err != shttp.ErrContentLength {
			t.Fatalf("long: %q, write error %v", r.body, err)
		}
		c.send("GET /short HTTP/1.1\r\nHost: a\r\n\r\n")
		if _, err := c.tryRead("GET"); err == nil {
			t.Fatal("a body shorter than its Content-Length must end in a closed connection")
		}
		ts.logs.WaitFor(t, "handler wrote less than its Content-Length")
	})
}

func TestLimits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		cfg := shttp.Config{MaxBodyBytes: 100}
		cfg.Limits.MaxRequestLine = 100
		cfg.Limits.MaxFieldBytes = 100
		cfg.Limits.MaxFields = 10
		cfg.Limits.MaxHeaderBytes = 600
		ts := startServer(t, e, echo, cfg)
		line := func(n int) string { return "GET /" + strings.Repeat("a", n-14) + " HTTP/1.1\r\nHost: a\r\n\r\n" }
		field := func(n int) string { return "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", n-3) + "\r\n\r\n" }
		fields := func(n int) string { // n fields, Host included
			return "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("A: b\r\n", n-1) + "\r\n"
		}
		body := func(n int) string {
			return fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", n, strings.Repeat("b", n))
		}
		chunked := func(n int) string {
			return fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", n, strings.Repeat("b", n))
		}
		cases := []struct {
			name, raw string
			want      int
		}{
			{"request line at limit", line(100), 200},
			{"request line one past", line(101), 414},
			{"field at limit", field(100), 200},
			{"field one past", field(101), 431},
			{"fields at limit", fields(10), 200},
			{"fields one past", fields(11), 431},
			{"body at limit", body(100), 200},
			{"body one past", body(101), 413},
			{"chunked body at limit", chunked(100), 200},
			{"chunked body one past", chunked(101), 413},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := exchange(t, ts.addr, tc.raw, "GET")
				if r.StatusCode != tc.want {
					t.Fatalf("got %d, want %d", r.StatusCode, tc.want)
				}
				if tc.want != 200 && !r.Close {
					t.Fatalf("refusal without Connection: close: %v", r.Header)
				}
			})
		}
		ts.logs.WaitFor(t, "reason=\"request line too long\"")
		ts.logs.WaitFor(t, "reason=\"too many header fields\"")
	})
}

// An over-long request line gets the same status whether its end arrives in the
// same read as the rest or never: sent whole, and as a prefix one byte past the
// limit (plus room for a CR) that the server must judge alone.
func TestRequestLineTooLongHoweverSent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, echo, shttp.Config{})
		long := strings.Repeat("a", 9000)
		cases := []struct {
			name, line string
			want       int
		}{
			{"long target, CRLF", "GET /" + long + " HTTP/1.1\r\n", 414},
			{"long target, bare LF", "GET /" + long + " HTTP/1.1\n", 414},
			// RFC 9112 §3: a method longer than any implemented is 501, not 414.
			{"long method", long + " / HTTP/1.1\r\n", 501},
		}
		prefix := http1.DefaultMaxRequestLine + 2
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				whole := exchange(t, ts.addr, tc.line+"Host: a\r\n\r\n", "GET")
				part := exchange(t, ts.addr, tc.line[:prefix], "GET")
				if whole.StatusCode != tc.want || part.StatusCode != tc.want {
					t.Fatalf("whole %d, prefix of %d bytes %d; want %d", whole.StatusCode, prefix, part.StatusCode, tc.want)
				}
			})
		}
		ts.logs.WaitFor(t, `reason="request line too long"`)
		ts.logs.WaitFor(t, `reason="method longer than any implemented"`)
	})
}

// A chunk whose size line alone takes the body past MaxBodyBytes is refused with
// 413 as soon as that line arrives, not after the body timeout: the client is
// told at once, and nothing waits for data that would be refused anyway.
func TestChunkSizeOverBodyLimit(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		// The body timeout is far beyond the client's 5 s read deadline: a
		// server that waits for the data cannot pass.
		ts := startServer(t, e, echo, shttp.Config{MaxBodyBytes: 100, BodyReadTimeout: time.Minute})
		head := "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
		cases := []struct {
			name, sizeLines string
			want            int
		}{
			{"one chunk one past the limit", "65\r\n", 413},
			{"a chunk past the limit after others", "32\r\n" + strings.Repeat("b", 50) + "\r\n33\r\n", 413},
			{"a 64-bit chunk size", "7fffffffffffffff\r\n", 413},
			{"a 64-bit chunk size after others", "32\r\n" + strings.Repeat("b", 50) + "\r\n7fffffffffffffff\r\n", 413},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := dial(t, ts.addr)
				c.send(head + tc.sizeLines) // and nothing more
				r := c.read("POST")
				if r.StatusCode != tc.want || !r.Close {
					t.Fatalf("%d %v, want %d and close", r.StatusCode, r.Header, tc.want)
				}
				c.expectClosed()
			})
		}
		t.Run("one chunk at the limit", func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send(head + "64\r\n")
			c.send(strings.Repeat("b", 100) + "\r\n0\r\n\r\n")
			if r := c.read("POST"); r.StatusCode != 200 || len(r.body) != 100 {
				t.Fatalf("%d, %d bytes", r.StatusCode, len(r.body))
			}
		})
		t.Run("chunks adding up to the limit", func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send(head + "32\r\n" + strings.Repeat("b", 50) + "\r\n32\r\n")
			c.send(strings.Repeat("b", 50) + "\r\n0\r\n\r\n")
			if r := c.read("POST"); r.StatusCode != 200 || len(r.body) != 100 {
				t.Fatalf("%d, %d bytes", r.StatusCode, len(r.body))
			}
		})
	})
}

func TestTimeouts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		cfg := shttp.Config{
			ReadHeaderTimeout: 300 * time.Millisecond,
			BodyReadTimeout:   300 * time.Millisecond,
			IdleTimeout:       300 * time.Millisecond,
		}
		ts := startServer(t, e, echo, cfg)

		t.Run("slowloris head", func(t *testing.T) {
			c := dial(t, ts.addr)
			start := time.Now()
			c.send("GET / HTTP/1.1\r\nHost: a\r\n")
			go func() { // keep trickling bytes: the deadline counts from the first byte
				for range 10 {
					time.Sleep(50 * time.Millisecond)
					if _, err := c.conn.Write([]byte("X: y\r\n")); err != nil {
						return
					}
				}
			}()
			r := c.read("GET")
			if r.StatusCode != 408 || !r.Close {
				t.Fatalf("%d %v", r.StatusCode, r.Header)
			}
			if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
				t.Fatalf("408 after %v", d)
			}
			c.expectClosed()
		})
		// A connection that sent no byte of a head has no request to answer: it
		// is closed after ReadHeaderTimeout without a response, as nginx and
		// net/http close it (an unsolicited 408 on a browser's preconnected
		// socket would be read as the answer to its next request). Empty lines
		// are no head either (RFC 9112 §2.2: ignored before a request line);
		// old clients send one after a POST body.
		for _, tc := range []struct{ name, sent string }{
			{"silent connection", ""},
			{"only empty lines", "\r\n\r\n"},
			{"only a CR", "\r"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := dial(t, ts.addr)
				start := time.Now()
				if tc.sent != "" {
					c.send(tc.sent)
				}
				c.expectClosed() // no response
				if d := time.Since(start); d < 250*time.Millisecond {
					t.Fatalf("closed after %v, before ReadHeaderTimeout", d)
				}
			})
		}
		t.Run("empty line after a request", func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx\r\n")
			if r := c.read("POST"); r.StatusCode != 200 {
				t.Fatalf("%d", r.StatusCode)
			}
			c.expectClosed() // closed when the wait ends, no 408
		})
		// A partial head is a request under way: 408, then close.
		for _, tc := range []struct{ name, sent string }{
			{"partial request line", "GET /ind"},
			{"partial request line after empty lines", "\r\nGET"},
			{"request line without fields", "GET / HTTP/1.1\r\n"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := dial(t, ts.addr)
				start := time.Now()
				c.send(tc.sent)
				if r := c.read("GET"); r.StatusCode != 408 || !r.Close {
					t.Fatalf("%d %v", r.StatusCode, r.Header)
				}
				if d := time.Since(start); d < 250*time.Millisecond {
					t.Fatalf("408 after %v, before ReadHeaderTimeout", d)
				}
				c.expectClosed()
			})
		}
		t.Run("idle keep-alive", func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			c.read("GET")
			start := time.Now()
			c.expectClosed()
			if d := time.Since(start); d < 250*time.Millisecond {
				t.Fatalf("idle connection closed after %v", d)
			}
		})
		t.Run("slow body", func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
			r := c.read("POST")
			if r.StatusCode != 408 {
				t.Fatalf("%d", r.StatusCode)
			}
			c.expectClosed()
		})
	})
}

// A client that stops reading cannot hold a connection past the write timeout.
func TestWriteTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		writeErr := make(chan error, 1)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			chunk := make([]byte, 64<<10)
			for range 2000 { // 128 MiB: far more than the socket buffers hold
				if _, err := w.Write(chunk); err != nil {
					writeErr <- err
					return err
				}
			}
			writeErr <- nil
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{WriteTimeout: 300 * time.Millisecond})
		c := dial(t, ts.addr)
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		start := time.Now()
		select {
		case err := <-writeErr:
			if err == nil {
				t.Fatal("128 MiB written to a client that reads nothing")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("write still blocked after 10 s")
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Fatalf("gave up after %v", d)
		}
		deadline := time.Now().Add(5 * time.Second)
		for ts.eng.Conns() != 0 {
			if time.Now().After(deadline) {
				t.Fatal("connection still open after the write timeout")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestPanicRecovered(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			if r.Path() == "/panic" {
				panic("boom")
			}
			return hello(w, r)
		})
		ts := startServer(t, e, h, shttp.Config{})
		c := dial(t, ts.addr)
		c.send("GET /panic HTTP/1.1\r\nHost: a\r\n\r\n")
		r := c.read("GET")
		if r.StatusCode != 500 || !r.Close {
			t.Fatalf("%d %v", r.StatusCode, r.Header)
		}
		c.expectClosed()
		ts.logs.WaitFor(t, "handler panicked")
		ts.logs.WaitFor(t, "conn_test.go") // the stack names the panicking handler
		if r := exchange(t, ts.addr, "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n", "GET"); r.body != "Hello, World!" {
			t.Fatalf("server broken after panic: %q", r.body)
		}
	})
}

func TestHandlerErrors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			switch r.Path() {
			case "/missing":
				w.Header().Set("X-Lost", "yes") // discarded with the error page
				return web.ErrNotFound
			case "/gateway":
				return web.Errorf(502, "upstream %s refused", "10.0.0.1")
			case "/late":
				w.WriteString("partial")
				w.Flush()
				return fmt.Errorf("failed midway")
			case "/declared":
				// A length declared and a little written, but nothing sent:
				// the error page replaces it whole, with its own length.
				w.Header().Set("Content-Length", "10")
				w.WriteString("abc")
				return web.Errorf(502, "gave up")
			}
			return fmt.Errorf("plain error")
		})
		ts := startServer(t, e, h, shttp.Config{})
		for path, want := range map[string]int{"/missing": 404, "/gateway": 502, "/other": 500, "/declared": 502} {
			r := exchange(t, ts.addr, "GET "+path+" HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
			if r.StatusCode != want || r.Header.Get("X-Lost") != "" || strings.Contains(r.body, "10.0.0.1") ||
				!strings.HasSuffix(r.body, web.StatusText(want)+"\n") {
				t.Fatalf("%s: %d %v %q", path, r.StatusCode, r.Header, r.body)
			}
		}
		c := dial(t, ts.addr)
		c.send("GET /late HTTP/1.1\r\nHost: a\r\n\r\n")
		if _, err := c.tryRead("GET"); err == nil {
			t.Fatal("a response cut short by an error must not look complete")
		}
		ts.logs.WaitFor(t, "handler failed after responding")
		ts.logs.WaitFor(t, "upstream 10.0.0.1 refused") // the cause is logged, not sent
	})
}

// A client that resets the connection in the middle of a large response
// is logged at INFO as gone, not as the handler's failure at ERROR: it is
// the client's doing (a closed tab, a cancelled download).
func TestClientGoneMidResponseIsNotAnError(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			w.Header().Set("Content-Length", strconv.Itoa(256*len(chunk)))
			for i := 0; i < 256; i++ {
				if _, err := w.Write(chunk); err != nil {
					return err
				}
			}
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{})
		nc, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Write([]byte("GET /big HTTP/1.1\r\nHost: a\r\n\r\n"))
		io.ReadFull(nc, make([]byte, 4096))
		nc.(*net.TCPConn).SetLinger(0) // close with a reset
		nc.Close()
		ts.logs.WaitFor(t, "response cut short: the client went away")
		if out := ts.logs.String(); strings.Contains(out, "handler failed") || strings.Contains(out, "level=ERROR") {
			t.Fatalf("a client's departure logged as an error:\n%s", out)
		}
	})
}

func TestRequestValidation(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, echo, shttp.Config{})
		cases := []struct {
			name, raw string
			want      int
			host      string
		}{
			{"R9 missing Host in 1.1", "GET / HTTP/1.1\r\n\r\n", 400, ""},
			{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", 200, ""},
			{"R10 absolute form routes by its authority", "GET http://x.example/p HTTP/1.1\r\nHost: y.example\r\n\r\n", 200, "x.example"},
			{"R9 two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, ""},
			{"R9 empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400, ""},
			{"R9 empty Host in HTTP/1.0", "GET / HTTP/1.0\r\nHost:\r\n\r\n", 200, ""},
			{"R6 HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, ""},
			{"R15 CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, ""},
			{"R16 gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, ""},
			{"R26 CONNECT", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501, ""},
			{"fragment hiding the authority", "GET http://evil.example#@good.example/echo HTTP/1.1\r\nHost: good.example\r\n\r\n", 400, ""},
			{"fragment in origin form", "GET /echo#x HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
			{"UTF-8 in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
			{"overlong UTF-8 in target", "GET /\xc0\xae\xc0\xae/etc HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
			{"malformed escape in path", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := exchange(t, ts.addr, tc.raw, "GET")
				if r.StatusCode != tc.want {
					t.Fatalf("got %d, want %d", r.StatusCode, tc.want)
				}
				if tc.host != "" && r.Header.Get("X-Host") != tc.host {
					t.Fatalf("routed to %q, want %q", r.Header.Get("X-Host"), tc.host)
				}
			})
		}
		ts.logs.WaitFor(t, "HTTP/1.1 request without Host")
		ts.logs.WaitFor(t, `reason="fragment in request-target"`)
		ts.logs.WaitFor(t, `reason="non-ASCII byte in request-target"`)
	})
}

// CONNECT asks for a tunnel, which this server does not open (it is no forward
// proxy): 501 before any handler or route sees it, and the connection stays.
func TestConnectNotImplemented(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ran := make(chan string, 4)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			ran <- r.Method()
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{})
		c := dial(t, ts.addr)
		c.send("CONNECT shop.example:443 HTTP/1.1\r\nHost: shop.example:443\r\n\r\n")
		if r := c.read("CONNECT"); r.StatusCode != 501 {
			t.Fatalf("CONNECT: %d", r.StatusCode)
		}
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 {
			t.Fatalf("after CONNECT: %d", r.StatusCode)
		}
		if m := <-ran; m != "GET" {
			t.Fatalf("the handler saw %s", m)
		}
		ts.logs.WaitFor(t, "CONNECT is not implemented")
	})
}

// RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host for
// everything downstream. A handler that builds links from the Host field
// (a password-reset mail) must not get the one an attacker set beside it.
func TestAbsoluteFormReplacesHost(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			var hosts []string
			for v := range r.Header.Values("Host") {
				hosts = append(hosts, string(v))
			}
			w.Header().Set("X-Host", string(r.Host()))
			w.Header().Set("X-Host-Fields", strings.Join(hosts, "|"))
			w.Header().Set("X-Fields", fmt.Sprint(r.Header.Len()))
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{})
		cases := []struct {
			name, raw        string
			host, hostFields string
			fields           string
		}{
			{"absolute form, other Host", "GET http://shop.example/x HTTP/1.1\r\nHost: attacker.example\r\nX-A: 1\r\n\r\n",
				"shop.example", "shop.example", "2"},
			{"absolute form, Host with other case", "GET http://shop.example:8080/x HTTP/1.1\r\nX-A: 1\r\nhOST: attacker.example\r\n\r\n",
				"shop.example:8080", "shop.example:8080", "2"},
			{"absolute form, HTTP/1.0 without Host", "GET http://shop.example/x HTTP/1.0\r\n\r\n",
				"shop.example", "shop.example", "1"},
			{"origin form", "GET /x HTTP/1.1\r\nHost: shop.example\r\n\r\n",
				"shop.example", "shop.example", "1"},
			{"origin form, HTTP/1.0 without Host", "GET /x HTTP/1.0\r\n\r\n", "", "", "0"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := exchange(t, ts.addr, tc.raw, "GET")
				if r.StatusCode != 200 || r.Header.Get("X-Host") != tc.host || r.Header.Get("X-Host-Fields") != tc.hostFields ||
					r.Header.Get("X-Fields") != tc.fields {
					t.Fatalf("%d: host %q, Host fields %q, %s fields; want %q %q %s", r.StatusCode, r.Header.Get("X-Host"),
						r.Header.Get("X-Host-Fields"), r.Header.Get("X-Fields"), tc.host, tc.hostFields, tc.fields)
				}
			})
		}
	})
}

// Bodies a handler does not read are skipped, never parsed as the next request.
func TestUnreadBodyNeverCrosses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			w.Header().Set("X-Path", r.Path())
			return nil
		}), shttp.Config{DrainBodyBytes: 1000})
		c := dial(t, ts.addr)
		smuggle := "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
		c.send(fmt.Sprintf("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(smuggle), smuggle))
		c.send(fmt.Sprintf("POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(smuggle), smuggle))
		c.send("GET /c HTTP/1.1\r\nHost: a\r\n\r\n")
		for _, want := range []string{"/a", "/b", "/c"} {
			if r := c.read("GET"); r.Header.Get("X-Path") != want {
				t.Fatalf("got response for %s, want %s", r.Header.Get("X-Path"), want)
			}
		}
		// More unread body than DrainBodyBytes: the connection closes instead.
		c = dial(t, ts.addr)
		c.send("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("x", 5000))
		if r := c.read("POST"); !r.Close {
			t.Fatalf("%v", r.Header)
		}
		c.expectClosed()
	})
}

// A value a handler set under a web.Key never reaches the next request on
// the connection, nor one on another connection that reuses the state.
func TestKeyValuesNeverCross(t *testing.T) {
	seen := web.NewKey[string]("seen")
	forEachEngine(t, func(t *testing.T, e string) {
		ts := startServer(t, e, web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			if v, ok := seen.Get(r); ok {
				w.Header().Set("X-Leaked", v)
			}
			seen.Set(r, r.Path())
			return nil
		}), shttp.Config{})
		for range 2 {
			c := dial(t, ts.addr)
			c.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
			c.send("GET /c HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			for range 3 {
				if r := c.read("GET"); r.StatusCode != 200 || r.Header.Get("X-Leaked") != "" {
					t.Fatalf("%d, value of an earlier request: %q", r.StatusCode, r.Header.Get("X-Leaked"))
				}
			}
		}
	})
}

func TestResponseHeaderSafety(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			w.Header().Set("X-Evil", "a\r\nSet-Cookie: stolen=1")
			w.Header().Set("Bad Name", "x")
			w.Header().Set("Transfer-Encoding", "gzip")
			w.Header().Set("Server", "custom")
			w.WriteString("ok")
			return nil
		})
		ts := startServer(t, e, h, shttp.Config{})
		r := exchange(t, ts.addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET")
		if r.Header.Get("Set-Cookie") != "" || r.Header.Get("X-Evil") != "a  Set-Cookie: stolen=1" {
			t.Fatalf("header injection: %v", r.Header)
		}
		if r.Header.Get("Server") != "custom" || len(r.TransferEncoding) != 0 || r.body != "ok" || r.ContentLength != 2 {
			t.Fatalf("%v %v %q", r.Header, r.TransferEncoding, r.body)
		}
		ts2 := startServer(t, e, hello, shttp.Config{ServerName: "-"})
		if r := exchange(t, ts2.addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET"); r.Header.Get("Server") != "" {
			t.Fatalf("Server sent: %q", r.Header.Get("Server"))
		}
	})
}

func TestUpgrade(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			conn, err := w.Upgrade()
			if err != nil {
				return err
			}
			defer conn.Close()
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			buf := make([]byte, 64)
			for {
				n, err := conn.Read(buf)
				if err != nil {
					return nil
				}
				conn.Write(buf[:n])
			}
		})
		ts := startServer(t, e, h, shttp.Config{})
		c := dial(t, ts.addr)
		// "early" arrives with the head: it must reach the upgraded handler.
		c.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly")
		r, err := c.tryReadUpgrade()
		if err != nil || r != 101 {
			t.Fatalf("%d %v", r, err)
		}
		c.send("-late")
		buf := make([]byte, 10)
		if _, err := io.ReadFull(c.br, buf); err != nil || string(buf) != "early-late" {
			t.Fatalf("%q %v", buf, err)
		}
	})
}

func (c *client) tryReadUpgrade() (int, error) {
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var status int
	line, err := c.br.ReadString('\n')
	if err != nil {
		return 0, err
	}
	fmt.Sscanf(line, "HTTP/1.1 %d", &status)
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if l == "\r\n" {
			return status, nil
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		release := make(chan struct{})
		entered := make(chan struct{}, 1)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			if r.Path() == "/slow" {
				entered <- struct{}{}
				<-release
			}
			return hello(w, r)
		})
		ts := startServer(t, e, h, shttp.Config{})
		idle := dial(t, ts.addr)
		idle.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		idle.read("GET")
		busy := dial(t, ts.addr)
		busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
		<-entered

		done := make(chan error, 1)
		go func() {
			ctx, cancel := contextWithTimeout(5 * time.Second)
			defer cancel()
			done <- ts.eng.Shutdown(ctx)
		}()
		idle.expectClosed() // idle connections close at once
		if servedAfterShutdown(ts.addr) {
			t.Fatal("still accepting after Shutdown")
		}
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned (%v) with a request in flight", err)
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		r := busy.read("GET")
		if r.body != "Hello, World!" || !r.Close {
			t.Fatalf("in-flight request: %q %v", r.body, r.Header)
		}
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
}

// servedAfterShutdown reports whether a new connection to addr reaches the
// server: it connects (the listening socket still open, even if nobody
// accepts), and what answers is not another HTTP server. A connection alone
// is not enough to say so: the port, once closed, may be bound again by
// another test's listener (an HTTP server: it answers with its own
// response), or a dial to a closed local port may connect to itself.
func servedAfterShutdown(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	if c.LocalAddr().String() == c.RemoteAddr().String() {
		return false // TCP simultaneous open with itself
	}
	c.SetDeadline(time.Now().Add(time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	b, _ := io.ReadAll(io.LimitReader(c, 4096))
	foreign := strings.HasPrefix(string(b), "HTTP/") && !strings.Contains(string(b), "Hello, World!")
	return !foreign
}

func TestShutdownGraceExpires(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		release := make(chan struct{})
		defer close(release)
		entered := make(chan struct{}, 1)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			entered <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done(): // force-close cancels the request's context
			}
			return r.Context().Err()
		})
		ts := startServer(t, e, h, shttp.Config{})
		c := dial(t, ts.addr)
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		<-entered
		ctx, cancel := contextWithTimeout(200 * time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := ts.eng.Shutdown(ctx); err == nil {
			t.Fatal("Shutdown reported success with a stuck request")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Shutdown took %v", d)
		}
		if _, err := c.tryRead("GET"); err == nil {
			t.Fatal("force-closed connection still answered")
		}
	})
}
