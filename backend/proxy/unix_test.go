package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	"gatehouse/middleware/realip"
)

// stallUpstream listens on a Unix socket; each connection is handed to fn.
func stallUpstream(t *testing.T, fn func(c net.Conn)) (string, *atomic.Int32) {
	t.Helper()
	path := testutil.ShortTempDir(t) + "/app.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); fn(c) }()
		}
	}()
	return "unix:" + path, &accepted
}

func readHead(c net.Conn) (string, error) {
	var b []byte
	buf := make([]byte, 1)
	for !bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		if _, err := c.Read(buf); err != nil {
			return string(b), err
		}
		b = append(b, buf[0])
	}
	return string(b), nil
}

// A client that leaves mid-response: the proxy aborts the upstream exchange
// at once (the upstream sees its connection closed long before read_timeout),
// and the next request goes on a fresh connection and succeeds.
func TestClientLeavesMidResponse(t *testing.T) {
	for _, engine := range testserve.Engines() {
		t.Run(engine, func(t *testing.T) {
			closed := make(chan time.Duration, 4)
			up, accepted := stallUpstream(t, func(c net.Conn) {
				for {
					head, err := readHead(c)
					if err != nil {
						return
					}
					if strings.HasPrefix(head, "GET /stall") {
						io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
						c.Write(bytes.Repeat([]byte("x"), 100000))
						t0 := time.Now()
						c.SetReadDeadline(time.Now().Add(20 * time.Second))
						_, err := c.Read(make([]byte, 1))
						closed <- time.Since(t0)
						_ = err
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			})
			h, _ := newProxy(t, Config{ReadTimeout: 30 * time.Second}, up)
			addr := front(t, engine, h, realip.Trust{})
			c := dial(t, addr)
			io.WriteString(c, "GET /stall HTTP/1.1\r\nHost: a\r\n\r\n")
			buf := make([]byte, 50000)
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			c.Close()
			select {
			case d := <-closed:
				t.Logf("upstream saw its connection end after %v", d)
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream exchange was not aborted when the client left")
			}
			resp, body, err := do(t, addr, "GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
			if err != nil || resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("next request: %v %v %q", err, resp, body)
			}
			if n := accepted.Load(); n != 2 {
				t.Fatalf("%d upstream connections, want 2", n)
			}
		})
	}
}

// An upstream that stalls past read_timeout on a Unix socket: before the
// head (504 after about read_timeout) and inside the body (cut response).
func TestUnixStallPastReadTimeout(t *testing.T) {
	for _, engine := range testserve.Engines() {
		t.Run(engine, func(t *testing.T) {
			up, _ := stallUpstream(t, func(c net.Conn) {
				head, err := readHead(c)
				if err != nil {
					return
				}
				if strings.HasPrefix(head, "GET /body") {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
				}
				c.Read(make([]byte, 1)) // until closed
			})
			const rt = 300 * time.Millisecond
			h, _ := newProxy(t, Config{ReadTimeout: rt, Retries: -1}, up)
			addr := front(t, engine, h, realip.Trust{})
			t0 := time.Now()
			resp, _, err := do(t, addr, "GET /head HTTP/1.1\r\nHost: a\r\n\r\n")
			d := time.Since(t0)
			if err != nil || resp.StatusCode != 504 {
				t.Fatalf("stall before the head: %v %v", err, resp)
			}
			if d < rt || d > rt+2*time.Second {
				t.Fatalf("504 after %v, want about %v", d, rt)
			}
			t0 = time.Now()
			resp, body, err := do(t, addr, "GET /body HTTP/1.1\r\nHost: a\r\n\r\n")
			d = time.Since(t0)
			if err == nil || resp.StatusCode != 200 || body != "abc" {
				t.Fatalf("stall in the body: %v %v %q", err, resp, body)
			}
			if d < rt || d > rt+2*time.Second {
				t.Fatalf("cut after %v, want about %v", d, rt)
			}
		})
	}
}

// An upstream that never reads a large request body: the write times out
// (write_timeout) on the Unix socket, after the socket filled up.
func TestUnixStallOnWrite(t *testing.T) {
	for _, engine := range testserve.Engines() {
		t.Run(engine, func(t *testing.T) {
			up, _ := stallUpstream(t, func(c net.Conn) {
				time.Sleep(5 * time.Second)
			})
			const wt = 300 * time.Millisecond
			h, _ := newProxy(t, Config{WriteTimeout: wt, ReadTimeout: 2 * time.Second, Retries: -1}, up)
			addr := front(t, engine, h, realip.Trust{})
			body := strings.Repeat("y", 8<<20)
			c := dial(t, addr)
			t0 := time.Now()
			go io.WriteString(c, fmt.Sprintf("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
			resp, err := readResponse(c)
			d := time.Since(t0)
			t.Logf("%v after %v", resp, d)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if d > 4*time.Second {
				t.Fatalf("answer after %v, want about %v", d, wt)
			}
		})
	}
}

func readResponse(c net.Conn) (string, error) {
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	return line, err
}
