package h2

import (
	"errors"
	"net"
	"time"
)

// Preface is the client connection preface (RFC 9113 §3.4), the first bytes
// of every HTTP/2 connection.
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// ErrNoSniff is returned by SniffPreface for a connection it cannot peek at
// (not a socket), and on systems without MSG_PEEK.
var ErrNoSniff = errors.New("h2: cannot peek at the connection")

// SniffPreface reports whether c begins with the client preface, waiting
// until timeout at most, without consuming anything: it peeks at the socket
// (MSG_PEEK), so whoever reads c next, net/http or gatehouse's HTTP/1.1
// server, sees every byte from the first. HTTP/1.1 thus keeps its sendfile
// and its buffer-free idle reads on an h2c endpoint: no wrapper replays
// bytes.
//
// It waits only while the bytes so far are a prefix of the preface: an
// HTTP/1.x request differs within its first bytes ("GET", "POST"), so
// HTTP/1.1 pays no wait, not even for a request shorter than the preface. A
// connection that says nothing, or stops inside the preface, gets
// os.ErrDeadlineExceeded after timeout (0: no timeout); so does one that
// closes inside the preface (a peek does not see the end of the stream
// behind bytes still unread). One that closes without a byte gets io.EOF.
func SniffPreface(c net.Conn, timeout time.Duration) (bool, error) {
	if timeout > 0 {
		c.SetReadDeadline(time.Now().Add(timeout))
		defer c.SetReadDeadline(time.Time{})
	}
	return sniff(c)
}

// matchPreface reports whether p is the preface (whole) or could still
// become it (a prefix of it).
func matchPreface(p []byte) (whole, prefix bool) {
	n := min(len(p), len(Preface))
	if string(p[:n]) != Preface[:n] {
		return false, false
	}
	return n == len(Preface), true
}
