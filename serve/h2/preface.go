package h2

import (
	"bytes"
	"errors"
	"net"
	"time"
)

// Preface is the client connection preface (RFC 9113 §3.4), the first bytes
// of every HTTP/2 connection.
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// ErrNoSniff is returned by Sniff for a connection it cannot peek at (not a
// socket), and on systems without MSG_PEEK.
var ErrNoSniff = errors.New("h2: cannot peek at the connection")

// Sniffed is what a plain connection on an h2c endpoint begins with.
type Sniffed uint8

const (
	// SniffedHTTP2: the client preface.
	SniffedHTTP2 Sniffed = iota + 1
	// SniffedHTTP1: a line that ends in an HTTP/1.x version (after any
	// empty lines), or one too long to tell: HTTP/1.1's to serve (or
	// refuse: its parser checks the rest).
	SniffedHTTP1
	// SniffedNeither: a first line that is neither, which RFC 9113 §3.4
	// calls an invalid connection preface: the connection is to be closed
	// without a reply. (On an endpoint without h2c, HTTP/1.1 answers it 400
	// or 505.) The bytes looked at are then consumed, so that the close
	// ends the connection cleanly instead of resetting it.
	SniffedNeither
)

// maxBlank is how many bytes of empty lines may come before a request line
// (RFC 9112 §2.2): proto/http1 ignores 16 of them, CRLF or LF.
const maxBlank = 2 * 16

// Sniff tells what c begins with, waiting until timeout at most (0: no
// timeout), without consuming anything: it peeks at the socket (MSG_PEEK),
// so whoever reads c next, net/http or gatehouse's HTTP/1.1 server, sees
// every byte from the first. HTTP/1.1 thus keeps its sendfile and its
// buffer-free idle reads on an h2c endpoint: no wrapper replays bytes.
//
// It waits only while the bytes so far can still be the preface, and, once
// they cannot, for the end of the first line (maxLine bytes at most, the
// HTTP/1.1 request line's limit: a longer one is HTTP/1.1's to refuse). A
// client's first request comes whole in its first packet, so HTTP/1.1 pays
// no wait in practice, not even for a request shorter than the preface.
//
// A connection that says nothing, or stops inside its first line, gets
// os.ErrDeadlineExceeded at the timeout; so does one that closes inside it
// (a peek does not see the end of the stream behind bytes still unread).
// One that closes without a byte gets io.EOF.
func Sniff(c net.Conn, timeout time.Duration, maxLine int) (Sniffed, error) {
	if timeout > 0 {
		c.SetReadDeadline(time.Now().Add(timeout))
		defer c.SetReadDeadline(time.Time{})
	}
	return sniff(c, max(maxLine, len(Preface))+maxBlank+2)
}

// classify decides from the first bytes of a connection, p, or reports that
// it needs more (0). full says p fills the peek buffer: no more will come.
func classify(p []byte, full bool) Sniffed {
	n := min(len(p), len(Preface))
	if string(p[:n]) == Preface[:n] {
		if n == len(Preface) {
			return SniffedHTTP2
		}
		return 0 // still the preface, so far
	}
	i := 0
	for i < len(p) && i < maxBlank && (p[i] == '\r' || p[i] == '\n') {
		i++
	}
	if i == maxBlank {
		return SniffedHTTP1 // more empty lines than HTTP/1.1 takes: its parser refuses them
	}
	line := p[i:]
	end := bytes.IndexByte(line, '\n')
	if end < 0 {
		if full {
			return SniffedHTTP1 // too long to tell: HTTP/1.1 refuses it
		}
		return 0
	}
	line = bytes.TrimSuffix(line[:end], []byte("\r"))
	// request-line = method SP request-target SP HTTP-version (RFC 9112 §3)
	if k := len(line) - len(" HTTP/1.x"); k > 0 && string(line[k:k+len(" HTTP/1.")]) == " HTTP/1." &&
		line[len(line)-1] >= '0' && line[len(line)-1] <= '9' {
		return SniffedHTTP1
	}
	return SniffedNeither
}
