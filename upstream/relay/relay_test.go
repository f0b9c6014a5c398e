package relay

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"gatehouse/proto/http1"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

// pair returns a connected TCP pair on 127.0.0.1 (the Reader reads what is
// ready through the socket itself).
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn)
	go func() { c, _ := ln.Accept(); done <- c }()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-done
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestBody(t *testing.T) {
	for _, tc := range []struct {
		name, raw  string
		head, hang bool // HEAD request; the server keeps the connection open
		body       string
		ended      bool
		err        error
	}{
		{name: "length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", hang: true, body: "hello", ended: true},
		{name: "length, bytes past it", raw: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello", hang: true, body: "he"},
		{name: "chunked", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n", hang: true, body: "hello!", ended: true},
		{name: "chunked, bytes past it", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX", hang: true},
		{name: "until close", raw: "HTTP/1.1 200 OK\r\n\r\nall of it", body: "all of it"},
		{name: "204", raw: "HTTP/1.1 204 No Content\r\n\r\n", hang: true, ended: true},
		{name: "HEAD with a length", raw: "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n", head: true, hang: true, ended: true},
		{name: "short", raw: "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nabc", body: "abc", err: ErrShortBody},
		{name: "chunked short", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", body: "hel", err: ErrShortBody},
		{name: "bad chunk", raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", hang: true, err: &BodyError{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := pair(t)
			go func() {
				io.WriteString(s, tc.raw)
				if !tc.hang {
					s.Close()
				}
			}()
			x := Reader{Conn: c, ReadTimeout: 5 * time.Second}
			defer x.Release()
			var resp http1.Response
			if err := x.ReadHead(&resp); err != nil {
				t.Fatal(err)
			}
			w := webtest.NewRecorder()
			err := x.Body(w, &resp, tc.head)
			var be *BodyError
			switch {
			case tc.err == nil && err != nil, tc.err == ErrShortBody && err != ErrShortBody,
				tc.err != nil && tc.err != ErrShortBody && !errors.As(err, &be):
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if w.Body.String() != tc.body && tc.err == nil {
				t.Errorf("body %q, want %q", w.Body.String(), tc.body)
			}
			if x.Ended != tc.ended {
				t.Errorf("Ended %v, want %v", x.Ended, tc.ended)
			}
		})
	}
}

func TestReadHeadSkipsInterim(t *testing.T) {
	c, s := pair(t)
	go io.WriteString(s, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nframes")
	x := Reader{Conn: c, ReadTimeout: 5 * time.Second}
	defer x.Release()
	var resp http1.Response
	if err := x.ReadHead(&resp); err != nil || resp.Status != 101 {
		t.Fatalf("%v %d", err, resp.Status)
	}
	deadline := time.Now().Add(time.Second)
	var got []byte
	for len(got) < 6 && time.Now().Before(deadline) {
		got = append(got, x.Buffered()...)
		if len(got) < 6 {
			break
		}
	}
	if string(got) != "frames" && string(got) != "" {
		t.Errorf("buffered %q", got)
	}
}

func TestCopyHeader(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nConnection: X-Secret, close\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nX-App: yes\r\nAlt-Svc: h3\r\nTransfer-Encoding: chunked\r\n\r\n"
	var resp http1.Response
	if _, err := http1.ParseResponseHead([]byte(raw), http1.Limits{}, &resp); err != nil {
		t.Fatal(err)
	}
	var h web.Header
	CopyHeader(&h, &resp, func(name []byte) bool { return http1.EqualFold(name, "alt-svc") })
	var names []string
	for name := range h.All() {
		names = append(names, string(name))
	}
	if len(names) != 1 || names[0] != "X-App" {
		t.Fatalf("copied %v, want only X-App", names)
	}
}
