package nethttp

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"

	"gatehouse/internal/bytesconv"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// ErrNoUpgrade is returned by Upgrade on requests HTTPHandler serves: an
// HTTP/2 stream has no connection of its own to take over (RFC 9113 §8.6),
// and a server's own upgrades do not pass through net/http.
var ErrNoUpgrade = errors.New("nethttp: no connection to take over (HTTP/2)")

// ErrContentLength is returned by writes past the Content-Length the
// handler declared, as serve/http1 refuses them.
var ErrContentLength = errors.New("nethttp: wrote more than the declared Content-Length")

// webWriter is the web.ResponseWriter of HTTPHandler, over net/http's
// ResponseWriter. The head goes to net/http at the first Write, Flush or
// SendFile, or when the handler returns; until then the handler's header is
// kept as web's (no map built).
type webWriter struct {
	h         *httpHandler
	w         http.ResponseWriter
	header    web.Header
	status    int
	isHead    bool
	committed bool
	declared  int64 // the handler's Content-Length, or -1
	written   int64 // body bytes the handler wrote
	sent      int64 // body bytes handed to net/http to send
	werr      error
}

var _ web.ResponseWriter = (*webWriter)(nil)

func (w *webWriter) reset(h *httpHandler, rw http.ResponseWriter, isHead bool) {
	w.h, w.w = h, rw
	w.header.Reset()
	w.status, w.isHead, w.committed = 0, isHead, false
	w.declared, w.written, w.sent, w.werr = -1, 0, 0, nil
}

func (w *webWriter) release() {
	w.h, w.w = nil, nil
	w.header.Reset()
	w.werr = nil
}

func (w *webWriter) Header() *web.Header { return &w.header }

func (w *webWriter) WriteHeader(status int) {
	if w.committed || w.status != 0 || status < 200 || status > 999 {
		// 1xx: 100 Continue is the server's to send; other interim
		// responses are not supported. A second call is ignored.
		return
	}
	w.status = status
}

func (w *webWriter) Status() int { return w.status }

func (w *webWriter) Written() int64 { return w.written }

// commit hands the head to net/http: the status, and the handler's fields
// but the connection-specific ones.
func (w *webWriter) commit() {
	w.committed = true
	if w.status == 0 {
		w.status = 200
	}
	h := w.w.Header()
	hasType, hasServer := false, false
	for i := 0; i < w.header.Len(); i++ {
		f := w.header.At(i)
		name := canonicalName(f.Name)
		switch name {
		case "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade":
			continue // connection-specific (RFC 9113 §8.2.2); the framing is HTTP/2's
		case "Connection":
			// A handler's "close" asks the server to close when idle, as on
			// HTTP/1.1: net/http then sends GOAWAY. Anything else goes.
			if http1.HasElement(f.Value, "close") {
				h["Connection"] = []string{"close"}
			}
			continue
		case "Content-Length":
			if n, ok := http1.ParseContentLength(f.Value); ok {
				w.declared = n
			}
		case "Content-Type":
			hasType = true
		case "Server":
			hasServer = true
		}
		h[name] = append(h[name], string(f.Value))
	}
	if !hasType {
		// Unlike net/http, gatehouse does not sniff a Content-Type the
		// handler left unset: a nil entry tells net/http so.
		h["Content-Type"] = nil
	}
	if !hasServer && w.h.cfg.ServerName != "-" {
		h["Server"] = []string{w.h.cfg.ServerName}
	}
	w.w.WriteHeader(w.status)
}

// commonNames are the canonical forms of fields handlers often set, so
// that the usual ones cost no string for their name.
var commonNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"Accept-Ranges", "Age", "Allow", "Cache-Control", "Connection", "Content-Disposition",
		"Content-Encoding", "Content-Language", "Content-Length", "Content-Location", "Content-Range",
		"Content-Security-Policy", "Content-Type", "Date", "Etag", "Expires", "Keep-Alive",
		"Last-Modified", "Link", "Location", "Proxy-Connection", "Referrer-Policy", "Retry-After",
		"Server", "Set-Cookie", "Strict-Transport-Security", "Transfer-Encoding", "Upgrade", "Vary",
		"Www-Authenticate", "X-Content-Type-Options", "X-Frame-Options",
	} {
		m[n] = n
		m[lower(n)] = n
	}
	return m
}()

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func canonicalName(b []byte) string {
	if s, ok := commonNames[string(b)]; ok { // no allocation for the lookup
		return s
	}
	return http.CanonicalHeaderKey(string(b))
}

func (w *webWriter) WriteString(s string) (int, error) {
	return w.Write(bytesconv.Bytes(s)) // Write only reads p
}

func (w *webWriter) Write(p []byte) (int, error) {
	if w.werr != nil {
		return 0, w.werr
	}
	if !w.committed {
		w.commit()
	}
	var over error
	if w.declared >= 0 && !w.isHead && w.written+int64(len(p)) > w.declared {
		p, over = p[:max(w.declared-w.written, 0)], ErrContentLength
	}
	n, err := w.w.Write(p)
	w.written += int64(n)
	if !w.isHead && http1.BodyAllowed(w.status) {
		w.sent += int64(n)
	}
	if err != nil {
		if !errors.Is(err, http.ErrBodyNotAllowed) {
			w.werr = err
		}
		return n, err
	}
	return n, over
}

// Flush sends the head and what the body has so far.
func (w *webWriter) Flush() error {
	if w.werr != nil {
		return w.werr
	}
	if !w.committed {
		w.commit()
	}
	switch f := w.w.(type) {
	case interface{ FlushError() error }:
		if err := f.FlushError(); err != nil {
			w.werr = err
			return err
		}
	case http.Flusher:
		f.Flush()
	}
	return nil
}

// copyBufs are SendFile's buffers: net/http's HTTP/2 writer takes no file,
// so the file goes through memory, a frame's worth at a time.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// SendFile sends count bytes of f from offset, reading at explicit offsets
// (f's own offset is neither used nor moved).
func (w *webWriter) SendFile(f *os.File, offset, count int64) error {
	if w.werr != nil {
		return w.werr
	}
	if !w.committed {
		w.commit()
	}
	if count <= 0 {
		return nil
	}
	if w.declared >= 0 && w.written+count > w.declared {
		return ErrContentLength
	}
	if w.isHead || !http1.BodyAllowed(w.status) {
		w.written += count
		return nil
	}
	buf := copyBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(writerOnly{w.w}, io.NewSectionReader(f, offset, count), *buf)
	copyBufs.Put(buf)
	w.written += n
	w.sent += n
	if err == nil && n < count {
		err = io.ErrUnexpectedEOF // the file is shorter than count
	}
	if err != nil {
		w.werr = err
	}
	return err
}

// Upgrade fails: see ErrNoUpgrade. A handler that needs a connection of its
// own (a non-parsed-header CGI script) answers with an error instead.
func (w *webWriter) Upgrade() (net.Conn, error) { return nil, ErrNoUpgrade }

// WatchClient does nothing: the request's context ends when the client
// resets the stream or the connection closes, without being asked.
func (w *webWriter) WatchClient() {}

// resetForError discards what the handler prepared, before an error page.
func (w *webWriter) resetForError() {
	w.header.Reset()
	w.status, w.declared, w.written = 0, -1, 0
}

// abandon records a response given up: the access log keeps the status of a
// head already sent, 499 (the client is gone) or nothing otherwise.
func (w *webWriter) abandon(clientGone bool) {
	if !w.committed && clientGone {
		w.status = web.StatusClientClosed
	}
	w.committed = true
}

// finish completes the response after the handler returned. It reports
// whether the response must be cut short: a body shorter than its declared
// length must not end as if it were whole.
func (w *webWriter) finish() (abort bool) {
	if !w.committed {
		w.commit()
	}
	if w.werr != nil {
		return false // the stream is gone already
	}
	if w.declared >= 0 && !w.isHead && http1.BodyAllowed(w.status) && w.sent < w.declared {
		w.h.cfg.Logger.Error("handler wrote less than its Content-Length", "declared", w.declared, "written", w.sent)
		return true
	}
	return false
}
