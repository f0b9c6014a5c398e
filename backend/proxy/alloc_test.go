package proxy

import (
	"bytes"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	"gatehouse/middleware/realip"
	shttp "gatehouse/serve/http1"
)

// fixedUpstream answers every request head it reads on a Unix socket with
// resp, keeping the connection: an application that allocates nothing per
// request, so that counts taken across the process are the proxy's.
func fixedUpstream(t testing.TB, resp []byte) string {
	t.Helper()
	path := testutil.ShortTempDir(t) + "/app.sock"
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go func() {
				buf := make([]byte, 8<<10)
				n := 0
				for {
					k, err := c.Read(buf[n:])
					if err != nil {
						return
					}
					n += k
					for {
						i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
						if i < 0 {
							break
						}
						n = copy(buf, buf[i+4:n])
						if _, err := c.Write(resp); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return "unix:" + path
}

const smallResponse = "HTTP/1.1 200 OK\r\nServer: app\r\nDate: Mon, 07 Dec 2026 15:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

// proxyExchange starts the proxy to fixedUpstream on engine e and returns
// one keep-alive exchange of a small GET through it.
func proxyExchange(t testing.TB, e string) func() {
	t.Helper()
	up := fixedUpstream(t, []byte(smallResponse))
	h, _ := newProxy(t, Config{}, up)
	var trust realip.Trust
	addr := testserve.HTTPOn(t, e, trust.Middleware()(h), shttp.Config{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	req := []byte("GET /13 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: alloc-test\r\nAccept: */*\r\n\r\n")
	c.Write(req)
	first := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(first)
	if err != nil || !bytes.HasSuffix(first[:n], []byte("Hello, World!")) {
		t.Fatalf("first exchange: %q %v", first[:n], err)
	}
	c.SetReadDeadline(time.Time{})
	buf := make([]byte, n) // the Date field has a fixed width: every response is n bytes
	return func() {
		if _, err := c.Write(req); err != nil {
			panic(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			panic(err)
		}
	}
}

func BenchmarkProxySmall(b *testing.B) {
	for _, e := range testserve.Engines() {
		b.Run(e, func(b *testing.B) {
			exchange := proxyExchange(b, e)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				exchange()
			}
		})
	}
}

// A small keep-alive GET through the proxy on the epoll engine (the engine
// of plain HTTP listeners) costs one allocation once warm: the stop function
// of the watch on the client (engine/epoll's AfterFunc), 24 bytes. The
// exchange, its head buffer, the response's fields, the relay's buffer and
// the upstream connection's reads and writes are all reused. The count is
// process-wide, so it covers the server's goroutines; the client and the
// application here allocate nothing.
func TestProxySteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need a quiet process")
	}
	if raceEnabled {
		t.Skip("the race detector allocates, and makes sync.Pool drop items")
	}
	if !slices.Contains(testserve.Engines(), "epoll") {
		t.Skip("no epoll engine here")
	}
	exchange := proxyExchange(t, "epoll")
	for range 100 {
		exchange()
	}
	if n := testing.AllocsPerRun(2000, exchange); n > 1 {
		t.Fatalf("%v allocations per proxied exchange, want at most 1", n)
	}
}
