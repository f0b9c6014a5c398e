package http1_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// TestSteadyStateAllocs proves that a keep-alive GET served through serve/http1
// with a trivial handler allocates nothing once the connection is warm. The count
// is process-wide (runtime.MemStats), so it covers the server's goroutine too; the
// client below reuses its buffers and does not allocate.
func TestSteadyStateAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts need a quiet process")
	}
	if raceEnabled {
		t.Skip("the race detector allocates, and makes sync.Pool drop items")
	}
	forEachEngine(t, func(t *testing.T, e string) {
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			w.Header().Set("Content-Type", "text/plain")
			_, err := w.Write(helloBytes)
			return err
		})
		for _, tc := range []struct {
			name     string
			requests int // pipelined per write
		}{{"one at a time", 1}, {"pipelined x16", 16}} {
			t.Run(tc.name, func(t *testing.T) {
				ts := startServer(t, e, h, shttp.Config{})
				conn, err := net.Dial("tcp", ts.addr)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				req := []byte(strings.Repeat("GET /plaintext HTTP/1.1\r\nHost: localhost\r\nUser-Agent: alloc-test\r\n\r\n", tc.requests))
				// Learn the response size from a first exchange; the Date field has
				// a fixed width, so every response is the same length.
				conn.Write(req[:len(req)/tc.requests])
				first := make([]byte, 4096)
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := conn.Read(first)
				if err != nil || !bytes.HasSuffix(first[:n], helloBytes) {
					t.Fatalf("warm-up: %q %v", first[:n], err)
				}
				buf := make([]byte, n*tc.requests)
				exchange := func() {
					if _, err := conn.Write(req); err != nil {
						panic(err)
					}
					if _, err := io.ReadFull(conn, buf); err != nil {
						panic(err)
					}
				}
				for range 100 {
					exchange()
				}
				allocs := testing.AllocsPerRun(2000, exchange)
				if allocs != 0 {
					t.Fatalf("%v allocations per exchange of %d request(s)", allocs, tc.requests)
				}
				if !bytes.HasSuffix(buf, helloBytes) {
					t.Fatalf("response corrupted: %q", buf[len(buf)-40:])
				}
			})
		}
	})
}

var helloBytes = []byte("Hello, World!")
