package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"gatehouse/internal/testserve"
	"gatehouse/middleware/realip"
)

// echo sends every message back whole.
var echo = websocket.Handler(func(ws *websocket.Conn) {
	for {
		var m string
		if websocket.Message.Receive(ws, &m) != nil || websocket.Message.Send(ws, m) != nil {
			return
		}
	}
}).ServeHTTP

// WebSocket echo through the proxy, on both engines: a real WebSocket
// client and server (golang.org/x/net/websocket), messages both ways, a
// clean close, and no tunnel left behind.
func TestWebSocketEcho(t *testing.T) {
	up := goUpstream(t, echo)
	h, _ := newProxy(t, Config{}, up)
	for _, engine := range testserve.Engines() {
		t.Run(engine, func(t *testing.T) {
			addr := front(t, engine, h, realip.Trust{})
			ws, err := websocket.Dial("ws://"+addr+"/echo", "", "http://"+addr+"/")
			if err != nil {
				t.Fatal(err)
			}
			ws.SetDeadline(time.Now().Add(10 * time.Second))
			for i, msg := range []string{"hello", strings.Repeat("x", 200<<10), "last"} {
				if err := websocket.Message.Send(ws, msg); err != nil {
					t.Fatal(err)
				}
				var got string
				if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
					t.Fatalf("message %d: %v, %d bytes back of %d", i, err, len(got), len(msg))
				}
			}
			ws.Close()
			deadline := time.Now().Add(5 * time.Second)
			for h.Tunnels() != 0 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := h.Tunnels(); n != 0 {
				t.Fatalf("%d tunnels open after the client closed", n)
			}
		})
	}
}

// An upgrade the upstream declines is relayed as a plain response, with
// HTTP framing kept (no WebSocket smuggling: the bytes after it are not a
// tunnel to the upstream).
func TestUpgradeDeclined(t *testing.T) {
	f := newFake(t, func(f *fake, c net.Conn, br *bufio.Reader) {
		for {
			r, err := f.readRequest(br)
			if err != nil {
				return
			}
			if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("Connection") != "Upgrade" {
				io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nbad")
				continue
			}
			io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")
		}
	})
	h, _ := newProxy(t, Config{}, f.addr())
	addr := front(t, "goroutine", h, realip.Trust{})
	c := dial(t, addr)
	br := bufio.NewReader(c)
	resp, body, err := roundTrip(t, c, br, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if err != nil || resp.StatusCode != 403 || body != "no" {
		t.Fatalf("%v %v %q", err, resp, body)
	}
	// The same client connection goes on as HTTP: a smuggled request is a
	// request the proxy reads itself, not bytes in a tunnel.
	resp, body, err = roundTrip(t, c, br, "GET /internal HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if err != nil || resp.StatusCode != 400 || body != "bad" {
		t.Fatalf("second request: %v %v %q", err, resp, body)
	}
	if got := f.requests(); len(got) != 2 || got[1] != "GET /internal " {
		t.Errorf("upstream got %q", got)
	}
}

// A 101 to another protocol than the one asked is refused: 502, nothing
// switched.
func TestUpgradeWrongProtocol(t *testing.T) {
	f := answer(t, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
	h, logs := newProxy(t, Config{}, f.addr())
	addr := front(t, "goroutine", h, realip.Trust{})
	resp, _, _ := do(t, addr, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	if resp == nil || resp.StatusCode != 502 {
		t.Fatalf("%v, want 502", resp)
	}
	logs.WaitFor(t, "switched to another protocol")
}

// Upgrades that are not allowed (h2c always; websocket when Upgrade is
// empty) go on as plain requests without their Upgrade field.
func TestUpgradeNotAllowed(t *testing.T) {
	f := newFake(t, func(f *fake, c net.Conn, br *bufio.Reader) {
		for {
			r, err := f.readRequest(br)
			if err != nil {
				return
			}
			body := fmt.Sprintf("upgrade=%q connection=%q", r.Header.Get("Upgrade"), r.Header.Get("Connection"))
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
	for _, tc := range []struct {
		allowed []string
		asked   string
	}{
		{nil, "h2c"},
		{[]string{}, "websocket"},
		{[]string{"foo"}, "websocket"},
	} {
		h, _ := newProxy(t, Config{Upgrade: tc.allowed}, f.addr())
		addr := front(t, "goroutine", h, realip.Trust{})
		resp, body, err := do(t, addr, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: "+tc.asked+"\r\nConnection: Upgrade, HTTP2-Settings, close\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
		if err != nil || resp.StatusCode != 200 || body != `upgrade="" connection=""` {
			t.Errorf("%v asked %s: %v %v %q", tc.allowed, tc.asked, err, resp, body)
		}
	}
	if _, err := New(Config{Upgrade: []string{"H2C"}, Upstream: upstreamCfg(f.addr())}); err == nil {
		t.Error("h2c allowed")
	}
}

// Server-Sent Events: each event reaches the client as it is sent (research
// §4.4: within 100 ms), though the upstream keeps the response open.
func TestServerSentEvents(t *testing.T) {
	up := goUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "data: %d %d\n\n", i, time.Now().UnixNano())
			w.(http.Flusher).Flush()
			time.Sleep(300 * time.Millisecond)
		}
	})
	h, _ := newProxy(t, Config{}, up)
	for _, engine := range testserve.Engines() {
		addr := front(t, engine, h, realip.Trust{})
		c := dial(t, addr)
		io.WriteString(c, "GET /events HTTP/1.1\r\nHost: a\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		for i := 0; i < 3; i++ {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			br.ReadString('\n')
			var n int
			var sent int64
			fmt.Sscanf(line, "data: %d %d", &n, &sent)
			if d := time.Since(time.Unix(0, sent)); n != i || d > 100*time.Millisecond {
				t.Errorf("%s: event %d (%q) arrived after %v", engine, i, line, d)
			}
		}
		resp.Body.Close()
	}
}

// Close ends the open tunnels (the server's shutdown).
func TestCloseEndsTunnels(t *testing.T) {
	up := goUpstream(t, echo)
	h, err := New(Config{Upstream: upstreamCfg(up)})
	if err != nil {
		t.Fatal(err)
	}
	addr := front(t, "goroutine", h, realip.Trust{})
	ws, err := websocket.Dial("ws://"+addr+"/echo", "", "http://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(10 * time.Second))
	websocket.Message.Send(ws, "x")
	var got string
	websocket.Message.Receive(ws, &got)
	h.Close()
	if err := websocket.Message.Receive(ws, &got); err == nil {
		t.Fatal("tunnel still open after Close")
	}
}

// tunnel_idle: a WebSocket with no byte either way for that long is closed,
// and one in use is not.
func TestTunnelIdle(t *testing.T) {
	up := goUpstream(t, echo)
	h, _ := newProxy(t, Config{TunnelIdle: 300 * time.Millisecond}, up)
	addr := front(t, "goroutine", h, realip.Trust{})
	ws, err := websocket.Dial("ws://"+addr+"/echo", "", "http://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetDeadline(time.Now().Add(10 * time.Second))
	var got string
	for range 5 { // 5 × 100 ms in use: past tunnel_idle in all, never idle that long
		time.Sleep(100 * time.Millisecond)
		if err := websocket.Message.Send(ws, "x"); err != nil {
			t.Fatal(err)
		}
		if err := websocket.Message.Receive(ws, &got); err != nil {
			t.Fatalf("a tunnel in use was closed: %v", err)
		}
	}
	start := time.Now()
	if err := websocket.Message.Receive(ws, &got); err == nil {
		t.Fatal("an idle tunnel sent a message")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("an idle tunnel was closed after %v, want about 300ms", d)
	}
}
