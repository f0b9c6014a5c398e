package h2

// Regression tests for HTTP/2 denial-of-service attacks. net/http's server
// defends against each; these tests pin that the defence holds through
// gatehouse's hand-off, with gatehouse's limits, so that a Go upgrade or a
// change of ours that loses one fails here.

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// floodCount is how many attack units each test sends: far past every
// bound the server keeps (250 streams, 1000 queued, 10 000 control frames).
const floodCount = 10000

// healthyOrCalmed checks how a flood ended, by the outcomes RFC 9113 allows
// a server: the connection still serves a request; or it refuses the request
// with RST_STREAM because the flood's streams still count against the
// concurrency limit while their handlers end (§5.1.2), and serves it once
// they have; or the server ended the connection: with GOAWAY ENHANCE_YOUR_CALM
// (its answer to a flood), or without a word (net/http closes a connection
// whose peer lets more than 10 000 control frames pile up unread, which a
// flooding client on a loaded machine does). And the flood's handlers all
// finish.
func healthyOrCalmed(t *testing.T, cl *client, cc *concurrency) {
	t.Helper()
	for attempt := 0; attempt < 2 && !cl.isClosed(); attempt++ {
		id, err := cl.request("GET", "/quick", true)
		if err != nil {
			break // the server has closed the connection: see below
		}
		// The request may wait behind the flood's queued streams (net/http
		// runs them in order, 250 at a time): on a loaded machine that takes
		// a while, which is not a failure.
		cl.waitFor(45*time.Second, func() bool {
			_, _, done := cl.response(id)
			_, reset := cl.resetOf(id)
			return done || reset || cl.goAway != nil
		})
		cl.mu.Lock()
		status, n, done := cl.response(id)
		code, reset := cl.resetOf(id)
		calmed := cl.goAway != nil
		cl.mu.Unlock()
		switch {
		case done && status == "200" && n == 5:
			t.Logf("connection healthy after the flood")
			if !cc.waitIdle(30 * time.Second) {
				t.Fatalf("%d handlers of the flood still run", cc.cur.Load())
			}
			return
		case reset && (code == http2.ErrCodeProtocol || code == http2.ErrCodeRefusedStream) && attempt == 0:
			// Over the limit while the flood's handlers end: once they have,
			// the connection must serve the request.
			t.Logf("request refused (%v) while the flood's streams counted; again once its handlers end", code)
			if !cc.waitIdle(30 * time.Second) {
				t.Fatalf("%d handlers of the flood still run", cc.cur.Load())
			}
			continue
		case !cl.isClosed() && !calmed:
			t.Fatalf("the request after the flood got %q, %d bytes, done %v, reset %v (%v): neither answered nor refused, and the connection neither closed nor calmed", status, n, done, reset, code)
		}
		break
	}
	// The server ends the connection.
	cl.waitFor(5*time.Second, func() bool { return cl.goAway != nil })
	cl.mu.Lock()
	g := cl.goAway
	cl.mu.Unlock()
	switch {
	case g != nil && g.ErrCode != http2.ErrCodeEnhanceYourCalm:
		t.Fatalf("the connection ended with GOAWAY %v, not ENHANCE_YOUR_CALM", g.ErrCode)
	case g != nil:
		t.Logf("connection ended with GOAWAY ENHANCE_YOUR_CALM")
	case cl.waitFor(10*time.Second, func() bool { return false }) || !cl.isClosed():
		t.Fatal("the connection neither serves a request nor ended")
	default:
		t.Logf("connection closed by the server without GOAWAY")
	}
	// Handlers end as their streams' contexts are canceled.
	if !cc.waitIdle(30 * time.Second) {
		t.Fatalf("%d handlers of the flood still run", cc.cur.Load())
	}
}

// Rapid Reset (CVE-2023-44487): HEADERS then RST_STREAM, again and again.
// The handlers running at once never pass MaxConcurrentStreams.
func TestRapidReset(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			cc := new(concurrency)
			x := newHarness(t, tr, cc, Config{})
			cl := x.dial(0).start()
			block := cl.headers("GET", "/")
			for i := 0; i < floodCount; i++ {
				id := cl.nextID
				cl.nextID += 2
				err := cl.write(func() error {
					if err := cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}); err != nil {
						return err
					}
					return cl.fr.WriteRSTStream(id, http2.ErrCodeCancel)
				})
				if err != nil {
					break // the server closed the connection
				}
			}
			healthyOrCalmed(t, cl, cc)
			if p := cc.peak.Load(); p > DefaultMaxConcurrentStreams {
				t.Fatalf("%d handlers ran at once, over %d", p, DefaultMaxConcurrentStreams)
			}
			t.Logf("handlers run: %d, at most %d at once", cc.total.Load(), cc.peak.Load())
		})
	}
}

// MadeYouReset (CVE-2025-8671): each stream is made to break the
// protocol (WINDOW_UPDATE with a zero increment, RFC 9113 §6.9), so the
// server resets it itself. The handlers running at once stay bounded as
// for Rapid Reset.
func TestMadeYouReset(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			cc := new(concurrency)
			x := newHarness(t, tr, cc, Config{})
			cl := x.dial(0).start()
			block := cl.headers("POST", "/")
			for i := 0; i < floodCount; i++ {
				id := cl.nextID
				cl.nextID += 2
				err := cl.write(func() error {
					if err := cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true}); err != nil {
						return err
					}
					return cl.fr.WriteWindowUpdate(id, 0)
				})
				if err != nil {
					break
				}
			}
			healthyOrCalmed(t, cl, cc)
			if p := cc.peak.Load(); p > DefaultMaxConcurrentStreams {
				t.Fatalf("%d handlers ran at once, over %d", p, DefaultMaxConcurrentStreams)
			}
			cl.mu.Lock()
			reset := map[uint32]bool{}
			for _, f := range cl.frames {
				if r, ok := f.(*http2.RSTStreamFrame); ok && r.ErrCode == http2.ErrCodeProtocol {
					reset[r.StreamID] = true
				}
			}
			cl.mu.Unlock()
			resets := len(reset)
			if resets == 0 {
				t.Fatal("the server reset no stream: the attack did not happen")
			}
			t.Logf("handlers run: %d, at most %d at once; %d streams reset by the server", cc.total.Load(), cc.peak.Load(), resets)
		})
	}
}

// CONTINUATION flood (CVE-2023-45288): a header block that never ends.
// The server stops reading it past about twice the header limit and closes
// the connection.
func TestContinuationFlood(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			cc := new(concurrency)
			x := newHarness(t, tr, cc, Config{})
			cl := x.dial(0).start()
			if !cl.sync() {
				t.Fatal("no PING ACK")
			}
			before := x.read.Load()
			// A valid header block of 4 MiB: many 1 KiB fields.
			var block bytes.Buffer
			enc := hpack.NewEncoder(&block)
			for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "localhost"}, {":path", "/"}} {
				enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
			}
			value := string(bytes.Repeat([]byte("v"), 1000))
			for block.Len() < 4<<20 {
				enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: value, Sensitive: true}) // never indexed: every field costs its bytes
			}
			b := block.Bytes()
			const frag = 1 << 10
			err := cl.write(func() error {
				return cl.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:frag]})
			})
			for off := frag; err == nil && off+frag <= len(b); off += frag {
				err = cl.write(func() error { return cl.fr.WriteContinuation(1, false, b[off:off+frag]) })
			}
			if !x.waitEnded(10 * time.Second) {
				t.Fatal("the connection is still open after a 4 MiB header block")
			}
			limit := int64(2*(x.srv.Config().MaxHeaderBytes+320) + 4*(frag+9))
			if n := x.read.Load() - before; n > limit {
				t.Fatalf("the server read %d bytes of the header block before closing, over %d", n, limit)
			} else {
				t.Logf("the server read %d bytes of the header block, then closed", n)
			}
			if cc.total.Load() != 0 {
				t.Fatal("a handler ran")
			}
		})
	}
}

// Ping flood (CVE-2019-9512): PINGs from a client that reads nothing, so
// the ACKs queue up. The server closes the connection once too many
// control frames wait (net/http's bound: 10 000).
func TestPingFlood(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			x := newHarness(t, tr, new(concurrency), Config{})
			cl := x.dial(4096) // never read: the ACKs fill the socket, then the queue
			stop := make(chan struct{})
			done := make(chan int)
			go func() {
				sent := 0
				for ; sent < 200*floodCount; sent++ {
					select {
					case <-stop:
						done <- sent
						return
					default:
					}
					if cl.write(func() error { return cl.fr.WritePing(false, [8]byte{byte(sent)}) }) != nil {
						break
					}
				}
				done <- sent
			}()
			// Without TLS the kernel's buffers hold some 400,000 PING ACKs
			// before the server's writes block and its queue of control
			// frames grows past net/http's bound; under the race detector
			// the server reads them several times slower.
			wait := 20 * time.Second
			if raceEnabled {
				wait = 120 * time.Second
			}
			ended := x.waitEnded(wait)
			close(stop)
			sent := <-done
			if !ended {
				t.Fatalf("the connection is still open after %d PINGs never read", sent)
			}
			t.Logf("closed after %d PINGs", sent)
		})
	}
}
