// Package nethttp joins gatehouse and net/http, both ways. Handler adapts any
// http.Handler (routers, middleware, http.FileServer, frameworks) to
// web.Handler, to run on gatehouse; HTTPHandler adapts a web.Handler to
// http.Handler, for net/http's servers to run (Go's HTTP/2 server, which
// serve/h2 hands connections to).
//
// Each adapter builds the other side's request and header for every request,
// so it allocates where native web.Handlers do not; that cost stays in this
// package, paid by the requests that cross it. Unlike net/http, gatehouse does
// not sniff a Content-Type the handler left unset, either way.
package nethttp

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"gatehouse/web"
)

// Handler adapts h. Panics with http.ErrAbortHandler abort the response quietly,
// as net/http does; other panics propagate to the server, which answers 500.
func Handler(h http.Handler) web.Handler {
	return &adapter{h: h}
}

type adapter struct{ h http.Handler }

func (a *adapter) ServeHTTP(w web.ResponseWriter, r *web.Request) (err error) {
	req, err := Request(r)
	if err != nil {
		return &web.Error{Status: 400, Err: err}
	}
	rw := &responseWriter{w: w, header: make(http.Header)}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(web.ErrAbortHandler)
			}
			panic(p)
		}
	}()
	a.h.ServeHTTP(rw, req)
	if !rw.hijacked {
		rw.commit(http.StatusOK)
	}
	return nil
}

// Request builds the *http.Request net/http handlers expect from r. Its body
// reads r's body; it is valid only while r is.
func Request(r *web.Request) (*http.Request, error) {
	target := string(r.Target())
	var u *url.URL
	var err error
	if r.Method() == http.MethodConnect && len(target) > 0 && target[0] != '/' {
		u = &url.URL{Host: target}
	} else if target == "*" {
		u = &url.URL{Path: "*"}
	} else if u, err = url.ParseRequestURI(target); err != nil {
		return nil, err
	}
	h := make(http.Header, r.Header.Len())
	for name, value := range r.Header.All() {
		k := http.CanonicalHeaderKey(string(name))
		if k == "Host" {
			continue // net/http keeps Host in Request.Host
		}
		h[k] = append(h[k], string(value))
	}
	major, minor := 1, 1
	if !r.ProtoAtLeast(1, 1) {
		minor = 0
	}
	req := &http.Request{
		Method:        r.Method(),
		URL:           u,
		Proto:         r.Proto(),
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        h,
		Body:          io.NopCloser(r.Body()),
		ContentLength: r.ContentLength(),
		Host:          string(r.Host()),
		RequestURI:    target,
		TLS:           r.TLS(),
	}
	if req.ContentLength < 0 {
		req.TransferEncoding = []string{"chunked"}
	} else if req.ContentLength == 0 {
		req.Body = http.NoBody
	}
	if a := r.RemoteAddr(); a.IsValid() {
		req.RemoteAddr = a.String()
	} else {
		req.RemoteAddr = "@" // a Unix socket peer, as net/http reports it
	}
	if u.Host == "" {
		u.Host = req.Host
	}
	if r.Scheme() == "https" {
		u.Scheme = "https"
	}
	return req.WithContext(r.Context()), nil
}

// responseWriter implements http.ResponseWriter, http.Flusher and http.Hijacker
// over a web.ResponseWriter, and ResponseController's SetWriteDeadline.
type responseWriter struct {
	w         web.ResponseWriter
	header    http.Header
	committed bool
	hijacked  bool
}

func (rw *responseWriter) Header() http.Header { return rw.header }

// commit copies the header map once, at the first write.
func (rw *responseWriter) commit(status int) {
	if rw.committed {
		return
	}
	rw.committed = true
	h := rw.w.Header()
	for k, vs := range rw.header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	rw.w.WriteHeader(status)
}

func (rw *responseWriter) WriteHeader(status int) {
	if status < 200 {
		return // interim responses are the server's business
	}
	rw.commit(status)
}

func (rw *responseWriter) Write(p []byte) (int, error) {
	rw.commit(http.StatusOK)
	return rw.w.Write(p)
}

func (rw *responseWriter) WriteString(s string) (int, error) {
	rw.commit(http.StatusOK)
	return rw.w.WriteString(s)
}

func (rw *responseWriter) Flush() {
	rw.commit(http.StatusOK)
	rw.w.Flush()
}

// FlushError is http.ResponseController's flush.
func (rw *responseWriter) FlushError() error {
	rw.commit(http.StatusOK)
	return rw.w.Flush()
}

// ReadFrom lets io.Copy from an *os.File use SendFile.
func (rw *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			off, err := f.Seek(0, io.SeekCurrent)
			if err == nil {
				rw.commit(http.StatusOK)
				n := fi.Size() - off
				if err := rw.w.SendFile(f, off, n); err != nil {
					return 0, err
				}
				return n, nil
			}
		}
	}
	rw.commit(http.StatusOK)
	return io.Copy(writerOnly{rw.w}, r)
}

type writerOnly struct{ io.Writer }

func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if rw.committed {
		return nil, nil, errors.New("nethttp: hijack after the response started")
	}
	c, err := rw.w.Upgrade()
	if err != nil {
		return nil, nil, err
	}
	rw.hijacked = true
	return c, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)), nil
}

// SetWriteDeadline is accepted for http.ResponseController; gatehouse applies its
// own write timeout per write.
func (rw *responseWriter) SetWriteDeadline(time.Time) error { return nil }

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ http.Hijacker       = (*responseWriter)(nil)
	_ io.ReaderFrom       = (*responseWriter)(nil)
)
