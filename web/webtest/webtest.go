// Package webtest helps test web.Handlers without a server, as net/http/httptest
// does for net/http.
package webtest

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"

	"gatehouse/web"
)

// NewRequest returns a request for method and target (origin-form, "/path?query")
// with the given header fields ("Name: value") and body (nil for none).
func NewRequest(method, target string, body io.Reader, fields ...string) *web.Request {
	r := new(web.Request)
	path, query, hasQuery := strings.Cut(target, "?")
	var q []byte
	if hasQuery {
		q = []byte(query)
	}
	n := int64(-1)
	if body == nil {
		body, n = web.NoBody, 0
	} else if b, ok := body.(*bytes.Reader); ok {
		n = int64(b.Len())
	} else if s, ok := body.(*strings.Reader); ok {
		n = int64(s.Len())
	}
	m, ok := web.InternMethod([]byte(method))
	if !ok {
		m = method
	}
	r.Init(web.Head{
		Method: m, Target: []byte(target), Path: []byte(path), Query: q, Host: []byte("example.test"),
		Scheme: "http", ProtoMajor: 1, ProtoMinor: 1, ContentLength: n,
	}, web.Conn{Remote: netip.MustParseAddrPort("192.0.2.1:1234"), Local: netip.MustParseAddrPort("192.0.2.2:80")}, body)
	r.Header.Add("Host", "example.test")
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ":")
		r.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return r
}

// Recorder is a web.ResponseWriter that records what a handler writes.
type Recorder struct {
	Code    int
	Head    web.Header
	Body    bytes.Buffer
	Flushed bool
	Watched bool // the handler called WatchClient
	wrote   bool
	written int64
}

var _ web.ResponseWriter = (*Recorder)(nil)

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{} }

func (r *Recorder) Header() *web.Header { return &r.Head }

func (r *Recorder) WriteHeader(status int) {
	if r.wrote {
		return
	}
	r.wrote, r.Code = true, status
}

func (r *Recorder) Write(p []byte) (int, error) {
	r.WriteHeader(200)
	r.written += int64(len(p))
	return r.Body.Write(p)
}

func (r *Recorder) WriteString(s string) (int, error) { return r.Write([]byte(s)) }

func (r *Recorder) Flush() error {
	r.WriteHeader(200)
	r.Flushed = true
	return nil
}

func (r *Recorder) SendFile(f *os.File, offset, count int64) error {
	r.WriteHeader(200)
	n, err := io.Copy(&r.Body, io.NewSectionReader(f, offset, count))
	r.written += n
	return err
}

func (r *Recorder) Upgrade() (net.Conn, error) { return nil, errors.New("webtest: no connection") }

// WatchClient records the call; there is no client to watch.
func (r *Recorder) WatchClient() { r.Watched = true }

func (r *Recorder) Status() int { return r.Code }

func (r *Recorder) Written() int64 { return r.written }

// Serve runs h and, as the server would, renders a returned error when nothing was
// written. It returns the handler's error.
func Serve(h web.Handler, w *Recorder, r *web.Request) error {
	err := h.ServeHTTP(w, r)
	if err != nil && !w.wrote {
		web.RenderError(w, r, err)
	}
	if !w.wrote {
		w.WriteHeader(200)
	}
	return err
}
