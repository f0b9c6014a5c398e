// Command gnet is the gnet v2 plaintext responder of the benchmark: a minimal
// HTTP/1.1 answerer in the style of gnet's own TechEmpower entry. It does not
// parse requests; it counts them by their "\r\n\r\n" terminators and answers each
// with the same fixed response. That is the least work any server can do for
// this load, which is the point of including it.
package main

import (
	"bytes"
	"flag"
	"log"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"gatehouse/bench/internal/rlimit"
)

// maxPending bounds the bytes kept for a request whose head has not ended yet;
// past it the peer is not sending HTTP we can answer, so the connection closes.
const maxPending = 64 << 10

var crlfcrlf = []byte("\r\n\r\n")

type server struct {
	gnet.BuiltinEventEngine

	// resp is the whole response, rebuilt once a second with a fresh Date by
	// OnTick, which gnet runs on its own goroutine: hence the atomic pointer.
	resp atomic.Pointer[[]byte]
	// out gathers the answers to all requests of one read so they leave in one
	// write. Sharing it is safe because with multicore off there is a single
	// event loop, so OnTraffic never runs concurrently with itself.
	out []byte
}

func buildResponse(now time.Time) *[]byte {
	b := make([]byte, 0, 160)
	b = append(b, "HTTP/1.1 200 OK\r\nServer: gnet\r\nContent-Type: text/plain\r\nDate: "...)
	b = now.UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Length: 13\r\n\r\nHello, World!"...)
	return &b
}

func (s *server) OnBoot(gnet.Engine) gnet.Action {
	s.resp.Store(buildResponse(time.Now()))
	return gnet.None
}

func (s *server) OnTick() (time.Duration, gnet.Action) {
	s.resp.Store(buildResponse(time.Now()))
	return time.Second, gnet.None
}

func (s *server) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Peek(-1)
	resp := *s.resp.Load()
	out := s.out[:0]
	consumed := 0
	for {
		i := bytes.Index(buf[consumed:], crlfcrlf)
		if i < 0 {
			break
		}
		consumed += i + len(crlfcrlf)
		out = append(out, resp...)
	}
	// Bytes after the last terminator are the start of a request still arriving
	// (pipelined writes need not end on a request boundary); they stay buffered
	// for the next OnTraffic.
	if consumed > 0 {
		c.Discard(consumed)
	}
	s.out = out
	if len(out) > 0 {
		// gnet copies what the socket does not take at once, so out can be reused;
		// on a write error it closes the connection itself.
		c.Write(out)
	}
	if len(buf)-consumed > maxPending {
		return gnet.Close
	}
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	if err := rlimit.RaiseNoFile(); err != nil {
		log.Fatalf("gnet: raise fd limit: %v", err)
	}
	s := &server{}
	err := gnet.Run(s, "tcp://"+*addr,
		gnet.WithMulticore(false),
		gnet.WithTicker(true),
		gnet.WithReuseAddr(true),
	)
	log.Fatal(err)
}
