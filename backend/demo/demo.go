// Package demo is the site built into the binary, so `gatehouse serve --demo`
// serves something useful on a machine with no files: a page about gatehouse,
// /echo (the request as JSON), /stream (a chunked, streamed response) and /healthz.
package demo

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"gatehouse/web"
)

//go:embed site
var site embed.FS

// MaxEchoBody bounds the body /echo reads and returns.
const MaxEchoBody = 1 << 20

// MaxStreamLines and MaxStreamInterval bound /stream.
const (
	MaxStreamLines    = 1000
	MaxStreamInterval = 10 * time.Second
)

// Handler serves the demo site.
type Handler struct {
	pages map[string]page
}

type page struct {
	body  []byte
	ctype string
}

// New returns the demo handler.
func New() *Handler {
	h := &Handler{pages: map[string]page{}}
	for path, file := range map[string]string{"/": "site/index.html", "/index.html": "site/index.html", "/style.css": "site/style.css"} {
		b, err := site.ReadFile(file)
		if err != nil {
			panic(err) // embedded at build time: cannot fail
		}
		ctype := "text/html; charset=utf-8"
		if file == "site/style.css" {
			ctype = "text/css; charset=utf-8"
		}
		h.pages[path] = page{body: b, ctype: ctype}
	}
	return h
}

func (h *Handler) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	switch path := string(r.RawPath()); path {
	case "/echo":
		return echo(w, r)
	case "/stream":
		return stream(w, r)
	case "/healthz":
		return get(w, r, func() error {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			_, err := w.WriteString("ok\n")
			return err
		})
	default:
		p, ok := h.pages[path]
		if !ok {
			return web.ErrNotFound
		}
		return get(w, r, func() error {
			w.Header().Set("Content-Type", p.ctype)
			_, err := w.Write(p.body)
			return err
		})
	}
}

// get allows GET and HEAD (and answers OPTIONS) for f.
func get(w web.ResponseWriter, r *web.Request, f func() error) error {
	switch r.Method() {
	case web.MethodGet, web.MethodHead:
		return f()
	case web.MethodOptions:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(204)
		return nil
	}
	return web.MethodNotAllowed("GET, HEAD, OPTIONS")
}

// EchoReply is what /echo returns.
type EchoReply struct {
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	Query    string      `json:"query"`
	Proto    string      `json:"proto"`
	Host     string      `json:"host"`
	Remote   string      `json:"remote"`
	Headers  [][2]string `json:"headers"`
	Body     string      `json:"body"`
	BodyB64  bool        `json:"body_base64,omitempty"` // the body was not UTF-8
	BodySize int         `json:"body_size"`
}

var errEchoTooLarge = &web.Error{Status: 413, Err: errors.New("demo: /echo body over 1 MiB")}

func echo(w web.ResponseWriter, r *web.Request) error {
	if r.Method() == web.MethodConnect || r.Method() == web.MethodTrace {
		return web.MethodNotAllowed("GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body(), MaxEchoBody+1))
	if err != nil {
		return err
	}
	if len(body) > MaxEchoBody {
		return errEchoTooLarge
	}
	reply := EchoReply{
		Method: r.Method(), Path: r.Path(), Query: string(r.RawQuery()), Proto: r.Proto(),
		Host: string(r.Host()), BodySize: len(body), Headers: [][2]string{},
	}
	if a := r.RemoteAddr(); a.IsValid() {
		reply.Remote = a.String()
	} else {
		reply.Remote = "unix"
	}
	for name, value := range r.Header.All() {
		reply.Headers = append(reply.Headers, [2]string{string(name), string(value)})
	}
	if utf8.Valid(body) {
		reply.Body = string(body)
	} else {
		reply.Body, reply.BodyB64 = base64.StdEncoding.EncodeToString(body), true
	}
	out, err := json.MarshalIndent(reply, "", "  ")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(append(out, '\n'))
	return err
}

func stream(w web.ResponseWriter, r *web.Request) error {
	return get(w, r, func() error {
		q := r.Query()
		n, ms := 10, 100
		if v, err := strconv.Atoi(q.Get("n")); err == nil {
			n = v
		}
		if v, err := strconv.Atoi(q.Get("ms")); err == nil {
			ms = v
		}
		if n < 0 || n > MaxStreamLines || ms < 0 || time.Duration(ms)*time.Millisecond > MaxStreamInterval {
			return web.Errorf(400, "demo: /stream wants 0 <= n <= %d and 0 <= ms <= %d", MaxStreamLines, MaxStreamInterval.Milliseconds())
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Accel-Buffering", "no")
		t := time.NewTimer(0)
		defer t.Stop()
		<-t.C
		for i := 1; i <= n; i++ {
			if i > 1 && ms > 0 {
				t.Reset(time.Duration(ms) * time.Millisecond)
				select {
				case <-t.C:
				case <-r.Context().Done():
					return r.Context().Err()
				}
			}
			if _, err := w.WriteString("line " + strconv.Itoa(i) + " of " + strconv.Itoa(n) + " at " +
				time.Now().UTC().Format(time.RFC3339Nano) + "\n"); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
		}
		return nil
	})
}
