package headers

import (
	"fmt"
	"os"
	"sync"

	"gatehouse/internal/bytesconv"
	"gatehouse/internal/httpspec"
	"gatehouse/web"
)

// Field is a field a rule sets or adds, with its value's template.
type Field struct {
	Name  string
	Value Template
}

// Ops are the rules of one direction, run in this order.
type Ops struct {
	Remove []string
	Set    []Field
	Add    []Field
}

func (o *Ops) empty() bool { return len(o.Remove) == 0 && len(o.Set) == 0 && len(o.Add) == 0 }

// Rules are a site's or a route's.
type Rules struct {
	Request  Ops
	Response Ops
	// Always runs the response rules on every response, error pages
	// included. Default: 2xx and 3xx responses only.
	Always bool
}

// CheckName reports why name cannot be in a rule: it must be a field name
// (a token) and not one that frames the message or belongs to the
// connection.
func CheckName(name string) error {
	if !httpspec.IsToken(name) {
		return fmt.Errorf("%q is not a field name", name)
	}
	if httpspec.IsFramingField(name) {
		return fmt.Errorf("%s frames the message or belongs to the connection: the server sets it", name)
	}
	return nil
}

// Check reports the first name of the rules that CheckName refuses.
func (rs *Rules) Check() error {
	for _, o := range []*Ops{&rs.Request, &rs.Response} {
		for _, n := range o.Remove {
			if err := CheckName(n); err != nil {
				return err
			}
		}
		for _, f := range append(append([]Field(nil), o.Set...), o.Add...) {
			if err := CheckName(f.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply runs o on h, for r.
func (o *Ops) apply(h *web.Header, r *web.Request, scratch *[]byte) {
	for _, n := range o.Remove {
		h.Del(n)
	}
	for _, f := range o.Set {
		h.Set(f.Name, f.value(r, scratch))
	}
	for _, f := range o.Add {
		h.Add(f.Name, f.value(r, scratch))
	}
}

// value is the field's value for r, in scratch (Header.Set and Add copy it).
func (f *Field) value(r *web.Request, scratch *[]byte) string {
	if s, ok := f.Value.Static(); ok {
		return s
	}
	*scratch = f.Value.Append((*scratch)[:0], r)
	return bytesconv.String(*scratch)
}

// okStatus reports the statuses response rules apply to without Always:
// nginx's add_header list.
func okStatus(s int) bool {
	switch s {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
		return true
	}
	return false
}

// Middleware runs a set of rules. Build it once per site or route.
type Middleware struct {
	rules Rules
	ws    sync.Pool // *writer
}

// New returns the middleware for rs, or the error of Check.
func New(rs Rules) (*Middleware, error) {
	if err := rs.Check(); err != nil {
		return nil, err
	}
	m := &Middleware{rules: rs}
	m.ws.New = func() any { return &writer{m: m} }
	return m, nil
}

// Wrap returns next with the rules around it.
func (m *Middleware) Wrap(next web.Handler) web.Handler {
	rs := &m.rules
	respond := !rs.Response.empty()
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		var scratch []byte
		if !rs.Request.empty() {
			rs.Request.apply(&r.Header, r, &scratch)
		}
		if !respond {
			return next.ServeHTTP(w, r)
		}
		x := m.ws.Get().(*writer)
		x.WriterWrapper.ResponseWriter, x.r = w, r
		err := next.ServeHTTP(x, r)
		if err != nil && !x.done && rs.Always {
			// The server renders err's page with none of the fields the
			// handler set: the rules' fields go with the error.
			for _, f := range rs.Response.Set {
				err = web.WithHeader(err, f.Name, f.value(r, &x.scratch))
			}
			for _, f := range rs.Response.Add {
				err = web.WithHeader(err, f.Name, f.value(r, &x.scratch))
			}
		}
		x.WriterWrapper.ResponseWriter, x.r, x.done = nil, nil, false
		m.ws.Put(x)
		return err
	})
}

// writer runs the response rules when the head goes out: at the first
// WriteHeader with a final status, Write, Flush or SendFile.
type writer struct {
	web.WriterWrapper
	m       *Middleware
	r       *web.Request
	done    bool
	scratch []byte
}

func (x *writer) head(status int) {
	if x.done {
		return
	}
	x.done = true
	if x.m.rules.Always || okStatus(status) {
		x.m.rules.Response.apply(x.Header(), x.r, &x.scratch)
	}
}

func (x *writer) WriteHeader(status int) {
	if status >= 200 {
		x.head(status)
	}
	x.WriterWrapper.WriteHeader(status)
}

func (x *writer) Write(p []byte) (int, error) {
	x.head(200) // without WriteHeader first, the status is 200
	return x.WriterWrapper.Write(p)
}

func (x *writer) WriteString(s string) (int, error) {
	x.head(200) // without WriteHeader first, the status is 200
	return x.WriterWrapper.WriteString(s)
}

func (x *writer) Flush() error {
	x.head(200) // without WriteHeader first, the status is 200
	return x.WriterWrapper.Flush()
}

func (x *writer) SendFile(f *os.File, offset, count int64) error {
	x.head(200) // without WriteHeader first, the status is 200
	return x.WriterWrapper.SendFile(f, offset, count)
}
