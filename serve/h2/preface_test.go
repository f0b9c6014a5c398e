package h2

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// sniffPair returns the server side of a fresh TCP connection on
// 127.0.0.1, and the client side.
func sniffPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// Sniff tells the preface from HTTP/1.x, and both from anything else,
// without waiting for bytes that cannot come, and leaves every byte for the
// next reader.
func TestSniff(t *testing.T) {
	if !SniffSupported {
		t.Skip("no MSG_PEEK on this system")
	}
	cases := []struct {
		name   string
		chunks []string // written one after another, each after the sniff waits
		want   Sniffed
		err    error
	}{
		{"preface", []string{Preface + "\x00\x00\x00\x04"}, SniffedHTTP2, nil},
		{"preface in pieces", []string{"PRI * HT", "TP/2.0\r\n", "\r\nSM\r\n\r\n"}, SniffedHTTP2, nil},
		{"HTTP/1.1", []string{"GET / HTTP/1.1\r\nHost: a\r\n\r\n"}, SniffedHTTP1, nil},
		{"HTTP/1.0 shorter than the preface", []string{"GET / HTTP/1.0\r\n\r\n"}, SniffedHTTP1, nil},
		{"request line in pieces", []string{"P", "OST /upload HT", "TP/1.1\r\n"}, SniffedHTTP1, nil},
		{"empty lines first", []string{"\r\n\r\nGET / HTTP/1.1\r\n"}, SniffedHTTP1, nil},
		{"bare LF", []string{"GET / HTTP/1.1\n"}, SniffedHTTP1, nil},
		{"line too long to tell", []string{"GET /" + strings.Repeat("a", 300)}, SniffedHTTP1, nil},
		{"empty lines only, past the bound", []string{strings.Repeat("\r\n", 17)}, SniffedHTTP1, nil},
		{"PRI with another version", []string{"PRI * HTTP/1.1\r\n\r\n"}, SniffedHTTP1, nil},
		{"HTTP/2.0 request line", []string{"GET / HTTP/2.0\r\n\r\n"}, SniffedNeither, nil},
		{"preface gone wrong", []string{"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"}, SniffedNeither, nil},
		{"not HTTP", []string{"INVALID CONNECTION PREFACE\r\n\r\n"}, SniffedNeither, nil},
		{"HTTP/0.9", []string{"GET /\r\n"}, SniffedNeither, nil},
		{"silent", nil, 0, os.ErrDeadlineExceeded},
		{"stops inside the preface", []string{"PRI * HTTP/2.0\r\n"}, 0, os.ErrDeadlineExceeded},
		{"stops inside the request line", []string{"GET / HTTP/1"}, 0, os.ErrDeadlineExceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			server, client := sniffPair(t)
			go func() {
				for _, chunk := range c.chunks {
					io.WriteString(client, chunk)
					time.Sleep(20 * time.Millisecond) // let the sniff see each piece on its own
				}
			}()
			start := time.Now()
			got, err := Sniff(server, 500*time.Millisecond, 256)
			if got != c.want || !errors.Is(err, c.err) {
				t.Fatalf("%v %v, want %v %v", got, err, c.want, c.err)
			}
			if c.err == nil && time.Since(start) > 400*time.Millisecond {
				t.Fatalf("took %v: waited for bytes that could not change the answer", time.Since(start))
			}
			if len(c.chunks) == 0 || c.err != nil || got == SniffedNeither {
				return
			}
			// Nothing was consumed: the next reader sees the first byte on.
			first := c.chunks[0]
			buf := make([]byte, len(first))
			server.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(server, buf); err != nil || string(buf) != first {
				t.Fatalf("after the sniff: %q %v", buf, err)
			}
		})
	}
}

// A client that closes without a byte: EOF at once. One that closes inside
// the preface is seen at the timeout, as one that stalls there: a peek does
// not see past bytes waiting to the end of the stream.
func TestSniffPrefaceEOF(t *testing.T) {
	if !SniffSupported {
		t.Skip("no MSG_PEEK on this system")
	}
	server, client := sniffPair(t)
	client.Close()
	if ok, err := Sniff(server, 5*time.Second, 256); ok != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("closed at once: %v %v", ok, err)
	}
	server, client = sniffPair(t)
	io.WriteString(client, "PRI")
	client.Close()
	if ok, err := Sniff(server, 300*time.Millisecond, 256); ok != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("closed inside the preface: %v %v", ok, err)
	}
}

// A connection that is not a socket cannot be peeked at.
func TestSniffPrefaceNotASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := Sniff(a, time.Second, 256); !errors.Is(err, ErrNoSniff) {
		t.Fatalf("%v", err)
	}
}
