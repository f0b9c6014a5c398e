package http1_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testutil"
	"gatehouse/proto/http1"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// serverStatus is what the server answers a request the codec parsed: the rules
// that sit above the codec (RFC 9110 §9.1 unknown method: 501; RFC 9112 §3.2
// HTTP/1.1 without Host: 400; CONNECT, with no forward proxy: 501), else the
// handler's 200.
func serverStatus(req *http1.Request) int {
	m, known := web.InternMethod(req.Method)
	if !known {
		return 501
	}
	if req.HTTP11() && !req.HasHost {
		return 400
	}
	if m == web.MethodConnect {
		return 501
	}
	return 200
}

// TestGunicornCorpusOverSockets replays every case of gunicorn's parser suite over a
// real connection and checks every status the server sends: each valid request
// answered in order with the status the rules give it, each invalid stream refused
// with the codec's status and closed, each incomplete one closed without an answer.
func TestGunicornCorpusOverSockets(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		servers := map[[3]int]*testServer{}
		parent := t // servers outlive the subtests that start them
		for _, c := range testutil.GunicornCorpus(t) {
			t.Run(strings.TrimPrefix(c.ID, "gunicorn/"), func(t *testing.T) {
				line, field, fields := c.GunicornLimits()
				key := [3]int{line, field, fields}
				ts := servers[key]
				if ts == nil {
					cfg := shttp.Config{}
					cfg.Limits = http1.Limits{MaxRequestLine: line, MaxFieldBytes: field, MaxFields: fields, MaxHeaderBytes: 64 << 10}
					ts = startServer(parent, e, echo, cfg)
					servers[key] = ts
				}
				want, headDone := expectedStatuses(t, c)
				got, closed := replay(t, ts.addr, c.Raw)
				if !closed {
					t.Fatalf("connection left open after %v", got)
				}
				if len(want) == 0 && headDone {
					want = []int{400} // the body never completes: the read fails
				}
				if !equalInts(got, want) {
					pol := testutil.GunicornPolicy[c.ID]
					t.Fatalf("statuses %v, want %v (%s %s)", got, want, c.Error, pol.Why)
				}
			})
		}
	})
}

// expectedStatuses parses the case with the codec, as the server will, and lists
// the statuses the server must send. headDone reports an incomplete stream whose
// last head was complete (its body is what never ends).
func expectedStatuses(t *testing.T, c *testutil.GunicornCase) (want []int, headDone bool) {
	line, field, fields := c.GunicornLimits()
	var p http1.Parser
	p.Limits = http1.Limits{MaxRequestLine: line, MaxFieldBytes: field, MaxFields: fields, MaxHeaderBytes: 64 << 10}
	raw := c.Raw
	for len(raw) > 0 {
		var req http1.Request
		n, err := p.Parse(raw, &req)
		if err == http1.ErrNeedMore {
			return want, false
		}
		if err != nil {
			return append(want, err.(*http1.Error).Status), false
		}
		raw = raw[n:]
		status := serverStatus(&req)
		hasBody := req.Chunked || req.ContentLength > 0
		if status != 200 && hasBody {
			return append(want, status), false // refused unread: the connection closes
		}
		switch {
		case req.Chunked:
			var d http1.ChunkedDecoder
			d.Limits = p.Limits
			for {
				n, _, err := d.Decode(raw, len(raw))
				raw = raw[n:]
				if err == io.EOF {
					break
				}
				if err == http1.ErrNeedMore {
					return want, true
				}
				if err != nil {
					return append(want, err.(*http1.Error).Status), false
				}
			}
		case req.ContentLength > int64(len(raw)):
			return want, true
		case req.ContentLength > 0:
			raw = raw[req.ContentLength:]
		}
		want = append(want, status)
		if req.Close {
			return want, false
		}
	}
	return want, false
}

// replay writes raw, half-closes, and collects the status of every response until
// the server closes.
func replay(t *testing.T, addr string, raw []byte) (statuses []int, closed bool) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		conn.Write(raw)
		conn.(*net.TCPConn).CloseWrite()
	}()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	for {
		if _, err := br.Peek(1); err != nil {
			var ne net.Error
			return statuses, !(errors.As(err, &ne) && ne.Timeout())
		}
		// The method only matters for HEAD; the corpus sends none.
		r, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("unreadable response after %v: %v", statuses, err)
		}
		io.Copy(io.Discard, r.Body)
		statuses = append(statuses, r.StatusCode)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
