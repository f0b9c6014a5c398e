package xsendfile

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"gatehouse/web"
)

// Config enables X-Sendfile or X-Accel-Redirect for one directory.
type Config struct {
	// Header is the response field that names the file. Default
	// "X-Accel-Redirect" when Prefix is set, else "X-Sendfile".
	Header string
	// Dir, for X-Sendfile: the field holds an absolute file path, which must
	// be under Dir (as configured, or with its symlinks resolved). Exactly
	// one of Dir and Prefix is required.
	Dir string
	// Prefix, for X-Accel-Redirect: the field holds a URL path, which must
	// start with Prefix, such as "/protected/"; the rest names the file,
	// percent-encoded.
	Prefix string
	// Files serves the named file. It receives a GET (or HEAD) request whose
	// path is "/" and the file's path relative to Dir (or what follows
	// Prefix), percent-encoded: a backend/static Handler with Root Dir and
	// the default Prefix "/" serves it. Required.
	Files web.Handler
	// Keep lists the backend's response fields that replace the files
	// handler's own on the file's response. Default: Content-Disposition,
	// Cache-Control, Expires, Set-Cookie, Content-Language. Field names
	// here are matched without regard to case.
	Keep []string
}

// DefaultKeep is Config.Keep's default.
var DefaultKeep = []string{"Content-Disposition", "Cache-Control", "Expires", "Set-Cookie", "Content-Language"}

// errRefused is wrapped by every refusal of a named path.
var errRefused = errors.New("xsendfile: path outside the allowed directory or not clean")

type sendfile struct {
	header string
	dirs   []string // Dir, and Dir with symlinks resolved when that differs; with a final slash
	prefix string   // with a final slash
	files  web.Handler
	keep   []string
}

// New returns the middleware for cfg.
func New(cfg Config) (web.Middleware, error) {
	s, err := newSendfile(cfg)
	if err != nil {
		return nil, err
	}
	return func(next web.Handler) web.Handler {
		return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			return s.serve(next, w, r)
		})
	}, nil
}

func newSendfile(cfg Config) (*sendfile, error) {
	if cfg.Files == nil {
		return nil, errors.New("xsendfile: no files handler")
	}
	if (cfg.Dir == "") == (cfg.Prefix == "") {
		return nil, errors.New("xsendfile: set exactly one of Dir (X-Sendfile) and Prefix (X-Accel-Redirect)")
	}
	s := &sendfile{header: cfg.Header, files: cfg.Files, keep: cfg.Keep}
	if s.keep == nil {
		s.keep = DefaultKeep
	}
	if cfg.Dir != "" {
		if !filepath.IsAbs(cfg.Dir) {
			return nil, fmt.Errorf("xsendfile: directory %q is not absolute", cfg.Dir)
		}
		dir := filepath.Clean(cfg.Dir)
		s.dirs = []string{strings.TrimSuffix(dir, "/") + "/"}
		if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir {
			s.dirs = append(s.dirs, strings.TrimSuffix(real, "/")+"/")
		}
		if s.header == "" {
			s.header = "X-Sendfile"
		}
	} else {
		if !strings.HasPrefix(cfg.Prefix, "/") {
			return nil, fmt.Errorf("xsendfile: prefix %q does not start with /", cfg.Prefix)
		}
		s.prefix = strings.TrimSuffix(cfg.Prefix, "/") + "/"
		if s.header == "" {
			s.header = "X-Accel-Redirect"
		}
	}
	return s, nil
}

// name maps a field value to the path the files handler is asked for.
func (s *sendfile) name(v string) (string, error) {
	refuse := func() (string, error) {
		return "", &web.Error{Status: 502, Err: fmt.Errorf("%w: %s: %q", errRefused, s.header, v)}
	}
	var segs []string
	if s.prefix == "" {
		var rel string
		for _, dir := range s.dirs {
			if r, ok := strings.CutPrefix(v, dir); ok {
				rel = r
				break
			}
		}
		if rel == "" {
			return refuse()
		}
		segs = strings.Split(rel, "/")
	} else {
		p, _, _ := strings.Cut(v, "?")
		rel, ok := strings.CutPrefix(p, s.prefix)
		if !ok || rel == "" {
			return refuse()
		}
		for _, raw := range strings.Split(rel, "/") {
			seg, err := url.PathUnescape(raw)
			if err != nil || strings.ContainsRune(seg, '/') {
				return refuse() // a malformed escape, or %2F hiding a separator
			}
			segs = append(segs, seg)
		}
	}
	var b strings.Builder
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." || !utf8.ValidString(seg) ||
			strings.ContainsFunc(seg, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
			return refuse()
		}
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	return b.String(), nil
}

func (s *sendfile) serve(next web.Handler, w web.ResponseWriter, r *web.Request) error {
	ic := interceptors.Get().(*interceptor)
	defer func() {
		*ic = interceptor{kept: ic.kept[:0]}
		interceptors.Put(ic)
	}()
	ic.w, ic.s = w, s
	err := next.ServeHTTP(ic, r)
	if ic.state == undecided && err == nil {
		ic.decide() // the backend set fields and returned without writing
	}
	if ic.state != intercepted || err != nil {
		return err
	}
	p, err := s.name(ic.value)
	if err != nil {
		return err
	}
	kw := &keepWriter{WriterWrapper: web.WriterWrapper{ResponseWriter: w}, kept: ic.kept}
	return s.files.ServeHTTP(kw, subrequest(r, p))
}

// subrequest is the request for the file at path p: GET (or HEAD), with r's
// fields but those that describe r's own body.
func subrequest(r *web.Request, p string) *web.Request {
	method := web.MethodGet
	if r.Method() == web.MethodHead {
		method = web.MethodHead
	}
	var minor uint8
	if r.ProtoAtLeast(1, 1) {
		minor = 1
	}
	target := []byte(p)
	sub := new(web.Request)
	sub.Init(web.Head{
		Method: method, Target: target, Path: target, Host: r.Host(), Scheme: r.Scheme(),
		ProtoMajor: 1, ProtoMinor: minor, ContentLength: 0,
	}, web.Conn{Remote: r.RemoteAddr(), Local: r.LocalAddr(), TLS: r.TLS(), Ctx: r.Context()}, web.NoBody)
	for name, value := range r.Header.All() {
		switch strings.ToLower(string(name)) {
		case "content-length", "transfer-encoding", "content-type", "expect":
			continue
		}
		sub.Header.AppendView(name, value)
	}
	sub.SetErrorPages(r.ErrorPages())
	return sub
}

const (
	undecided = iota
	passing
	intercepted
)

// interceptor is the ResponseWriter the backend writes to. At the first
// write, WriteHeader, Flush or SendFile it looks for the field: without it,
// everything passes through; with it, the fields to keep are noted, the
// header is emptied, and the body is counted and dropped.
type interceptor struct {
	w       web.ResponseWriter
	s       *sendfile
	state   int
	value   string
	kept    [][2]string
	status  int
	written int64
}

var interceptors = sync.Pool{New: func() any { return new(interceptor) }}

func (ic *interceptor) decide() {
	if ic.state != undecided {
		return
	}
	h := ic.w.Header()
	v := h.Peek(ic.s.header)
	if v == nil {
		ic.state = passing
		return
	}
	ic.state, ic.value = intercepted, string(v)
	for _, name := range ic.s.keep {
		for value := range h.Values(name) {
			ic.kept = append(ic.kept, [2]string{name, string(value)})
		}
	}
	h.Reset()
}

func (ic *interceptor) Header() *web.Header { return ic.w.Header() }

func (ic *interceptor) WriteHeader(status int) {
	ic.decide()
	if ic.state == passing {
		ic.w.WriteHeader(status)
	} else if ic.status == 0 {
		ic.status = status
	}
}

func (ic *interceptor) Write(p []byte) (int, error) {
	ic.decide()
	if ic.state == passing {
		return ic.w.Write(p)
	}
	ic.written += int64(len(p))
	return len(p), nil
}

func (ic *interceptor) WriteString(s string) (int, error) {
	ic.decide()
	if ic.state == passing {
		return ic.w.WriteString(s)
	}
	ic.written += int64(len(s))
	return len(s), nil
}

func (ic *interceptor) Flush() error {
	ic.decide()
	if ic.state == passing {
		return ic.w.Flush()
	}
	return nil
}

func (ic *interceptor) SendFile(f *os.File, offset, count int64) error {
	ic.decide()
	if ic.state == passing {
		return ic.w.SendFile(f, offset, count)
	}
	ic.written += max(count, 0)
	return nil
}

func (ic *interceptor) Upgrade() (net.Conn, error) { return ic.w.Upgrade() }

// WatchClient passes the request on to the server's writer.
func (ic *interceptor) WatchClient() { ic.w.WatchClient() }

func (ic *interceptor) Status() int {
	if ic.state == intercepted {
		return ic.status
	}
	return ic.w.Status()
}

func (ic *interceptor) Written() int64 {
	if ic.state == intercepted {
		return ic.written
	}
	return ic.w.Written()
}

// keepWriter puts the kept fields of the backend's response on the file's
// response, replacing the files handler's own, when that response starts;
// everything else passes through.
type keepWriter struct {
	web.WriterWrapper
	kept    [][2]string
	applied bool
}

func (k *keepWriter) apply() {
	if k.applied {
		return
	}
	k.applied = true
	h := k.Header()
	for _, kv := range k.kept {
		h.Del(kv[0])
	}
	for _, kv := range k.kept {
		h.Add(kv[0], kv[1])
	}
}

func (k *keepWriter) WriteHeader(status int) { k.apply(); k.ResponseWriter.WriteHeader(status) }

func (k *keepWriter) Write(p []byte) (int, error) { k.apply(); return k.ResponseWriter.Write(p) }

func (k *keepWriter) WriteString(s string) (int, error) {
	k.apply()
	return k.ResponseWriter.WriteString(s)
}

func (k *keepWriter) Flush() error { k.apply(); return k.ResponseWriter.Flush() }

func (k *keepWriter) SendFile(f *os.File, offset, count int64) error {
	k.apply()
	return k.ResponseWriter.SendFile(f, offset, count)
}

var (
	_ web.ResponseWriter = (*interceptor)(nil)
	_ web.ResponseWriter = (*keepWriter)(nil)
)
