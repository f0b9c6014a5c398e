package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"

	"gatehouse/proto/http1"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

func TestHeader(t *testing.T) {
	var h web.Header
	h.Add("Content-Type", "text/plain")
	h.Add("X-Multi", "1")
	h.Add("x-multi", "2")
	// Grow the arena many times: earlier fields must keep their values.
	for i := range 200 {
		h.Add(fmt.Sprintf("X-Fill-%d", i), strings.Repeat("v", i))
	}
	if got := h.Get("content-TYPE"); got != "text/plain" {
		t.Fatalf("Get: %q", got)
	}
	var multi []string
	for v := range h.Values("X-MULTI") {
		multi = append(multi, string(v))
	}
	if strings.Join(multi, ",") != "1,2" {
		t.Fatalf("Values: %v", multi)
	}
	if got := h.Get("X-Fill-150"); got != strings.Repeat("v", 150) {
		t.Fatalf("after growth: %d bytes", len(got))
	}
	h.Set("x-multi", "3")
	if h.Get("X-Multi") != "3" || h.Len() != 202 {
		t.Fatalf("Set: %q, %d fields", h.Get("X-Multi"), h.Len())
	}
	h.Del("X-MULTI")
	if h.Has("x-multi") || h.Peek("x-multi") != nil {
		t.Fatal("Del left the field")
	}
	c := h.Clone()
	h.Reset()
	if h.Len() != 0 || c.Get("Content-Type") != "text/plain" || c.Len() != 201 {
		t.Fatalf("Reset/Clone: %d %d", h.Len(), c.Len())
	}
	n := 0
	for name, value := range c.All() {
		if len(name) == 0 || value == nil && n == 0 {
			t.Fatal("All yielded an empty field")
		}
		n++
	}
	if n != c.Len() {
		t.Fatalf("All yielded %d of %d", n, c.Len())
	}
}

func TestHeaderAllocs(t *testing.T) {
	var h web.Header
	h.Set("Content-Type", "text/plain")
	h.Reset()
	if a := testing.AllocsPerRun(100, func() {
		h.Reset()
		h.Set("Content-Type", "text/plain")
		h.Add("Cache-Control", "no-store")
		_ = h.Peek("cache-control")
	}); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func TestStatusOf(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 200},
		{web.ErrNotFound, 404},
		{fmt.Errorf("wrapped: %w", web.ErrForbidden), 403},
		{web.Errorf(502, "upstream %s", "x"), 502},
		{web.MethodNotAllowed("GET"), 405},
		{http1.ErrRequestLineTooLong, 414},
		{fmt.Errorf("read: %w", http1.ErrHeaderTooLarge), 431},
		{http1.ErrTransferCoding, 501},
		{http1.ErrVersionUnsupported, 505},
		{context.DeadlineExceeded, 504},
		{fmt.Errorf("read body: %w", os.ErrDeadlineExceeded), 408},
		{fs.ErrNotExist, 404},
		{fs.ErrPermission, 403},
		{errors.New("anything else"), 500},
		{&web.Error{Status: 42}, 500},
	}
	for _, c := range cases {
		if got := web.StatusOf(c.err); got != c.want {
			t.Errorf("%v: %d, want %d", c.err, got, c.want)
		}
	}
}

func TestWriteError(t *testing.T) {
	w := webtest.NewRecorder()
	w.Header().Set("X-Handler", "discarded")
	web.WriteError(w, &web.Error{Status: 503, RetryAfter: 7, Err: errors.New("secret detail")})
	if w.Code != 503 || w.Head.Get("Retry-After") != "7" || w.Head.Get("X-Handler") != "" ||
		w.Body.String() != "503 Service Unavailable\n" || w.Head.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("%d %v %q", w.Code, w.Head.Get("Retry-After"), w.Body.String())
	}
	w = webtest.NewRecorder()
	web.WriteError(w, web.MethodNotAllowed("GET, HEAD"))
	if w.Code != 405 || w.Head.Get("Allow") != "GET, HEAD" {
		t.Fatalf("405: %d %q", w.Code, w.Head.Get("Allow"))
	}
}

// WithHeader's field survives the reset of an error page, on the plain
// page and on a site's own; the error keeps its status and its marks.
func TestWithHeader(t *testing.T) {
	if web.WithHeader(nil, "A", "b") != nil {
		t.Fatal("WithHeader(nil) is not nil")
	}
	err := web.WithHeader(web.Logged(&web.Error{Status: 503, RetryAfter: 7}), "Strict-Transport-Security", "max-age=60")
	if web.StatusOf(err) != 503 || !web.IsLogged(err) || err.Error() != "503 Service Unavailable" {
		t.Fatalf("%d %v %q", web.StatusOf(err), web.IsLogged(err), err)
	}
	w := webtest.NewRecorder()
	w.Header().Set("X-Handler", "discarded")
	web.WriteError(w, err)
	if w.Code != 503 || w.Head.Get("Strict-Transport-Security") != "max-age=60" || w.Head.Get("Retry-After") != "7" || w.Head.Get("X-Handler") != "" {
		t.Fatalf("%d %v", w.Code, w.Head)
	}
	r := webtest.NewRequest("GET", "/", nil)
	r.SetErrorPages(web.ErrorPages{404: []byte("<h1>gone</h1>")})
	w = webtest.NewRecorder()
	web.RenderError(w, r, web.WithHeader(web.ErrNotFound, "Strict-Transport-Security", "max-age=60"))
	if w.Code != 404 || w.Body.String() != "<h1>gone</h1>" || w.Head.Get("Strict-Transport-Security") != "max-age=60" {
		t.Fatalf("site page: %d %q %v", w.Code, w.Body.String(), w.Head)
	}
}

func TestAllow(t *testing.T) {
	ok := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error { w.WriteString("ok"); return nil })
	h := web.Allow(ok, "GET", "POST")
	for method, want := range map[string]int{"GET": 200, "HEAD": 200, "POST": 200, "PUT": 405, "OPTIONS": 204} {
		w := webtest.NewRecorder()
		webtest.Serve(h, w, webtest.NewRequest(method, "/", nil))
		if w.Code != want {
			t.Errorf("%s: %d, want %d", method, w.Code, want)
		}
		if want != 200 && w.Head.Get("Allow") != "GET, POST, HEAD, OPTIONS" {
			t.Errorf("%s: Allow %q", method, w.Head.Get("Allow"))
		}
	}
	// A handler that lists OPTIONS answers it itself.
	w := webtest.NewRecorder()
	webtest.Serve(web.Allow(ok, "OPTIONS"), w, webtest.NewRequest("OPTIONS", "/", nil))
	if w.Code != 200 || w.Body.String() != "ok" {
		t.Fatalf("own OPTIONS: %d %q", w.Code, w.Body.String())
	}
}

func TestInternMethod(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND"} {
		got, ok := web.InternMethod([]byte(m))
		if !ok || got != m {
			t.Errorf("%s: %q %v", m, got, ok)
		}
	}
	for _, m := range []string{"get", "BREW", "", "GETX"} {
		if _, ok := web.InternMethod([]byte(m)); ok {
			t.Errorf("%q known", m)
		}
	}
	if a := testing.AllocsPerRun(100, func() { web.InternMethod([]byte("DELETE")) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

func TestRequestAccessors(t *testing.T) {
	r := webtest.NewRequest("GET", "/a%20b/c%2Fd?x=1&y=%20", nil, "X-Test: yes")
	if r.Path() != "/a b/c/d" || string(r.RawPath()) != "/a%20b/c%2Fd" || r.Query().Get("y") != " " {
		t.Fatalf("%q %q %v", r.Path(), r.RawPath(), r.Query())
	}
	bad := webtest.NewRequest("GET", "/bad%zz", nil)
	if bad.Path() != "/bad%zz" {
		t.Fatalf("undecodable path: %q", bad.Path())
	}
	c := r.Clone()
	if string(c.Target()) != string(r.Target()) || c.Path() != r.Path() || c.Header.Get("X-Test") != "yes" ||
		string(c.RawQuery()) != "x=1&y=%20" || string(c.Host()) != "example.test" {
		t.Fatalf("clone: %q %q %q", c.Target(), c.Path(), c.RawQuery())
	}
	if r.Proto() != "HTTP/1.1" || !r.ProtoAtLeast(1, 1) || r.ProtoAtLeast(2, 0) || r.Context() == nil {
		t.Fatal("proto/context")
	}
}

// A clone keeps what routing recorded, in bytes of its own.
func TestCloneKeepsRouting(t *testing.T) {
	r := webtest.NewRequest("GET", "/a//b?q", nil)
	pages := web.ErrorPages{404: []byte("gone")}
	r.SetErrorPages(pages)
	routed := []byte("/a/b")
	r.SetRoutePath(routed)
	c := r.Clone()
	copy(routed, "/x/y")
	if string(c.RoutePath()) != "/a/b" || c.ErrorPages()[404] == nil {
		t.Fatalf("route path %q, pages %v", c.RoutePath(), c.ErrorPages())
	}
	// A route path inside the target is mapped onto the clone's target.
	r.SetRoutePath(r.Target()[:2])
	if c = r.Clone(); string(c.RoutePath()) != "/a" || &c.RoutePath()[0] != &c.Target()[0] {
		t.Fatalf("route path %q not in the clone's target", c.RoutePath())
	}
	if c = webtest.NewRequest("GET", "/p", nil).Clone(); string(c.RoutePath()) != "/p" || c.ErrorPages() != nil {
		t.Fatalf("unrouted clone: %q %v", c.RoutePath(), c.ErrorPages())
	}
}

// SetBody replaces the body and its length until the request is reused; a
// clone's body is empty.
func TestSetBody(t *testing.T) {
	r := webtest.NewRequest("POST", "/", strings.NewReader("original"))
	r.SetBody(strings.NewReader("rewritten!"), 10)
	if b, _ := io.ReadAll(r.Body()); string(b) != "rewritten!" || r.ContentLength() != 10 {
		t.Fatalf("%q %d", b, r.ContentLength())
	}
	if b, _ := io.ReadAll(r.Clone().Body()); len(b) != 0 {
		t.Fatalf("clone's body: %q", b)
	}
	r.Init(web.Head{Method: "GET", Target: []byte("/"), Path: []byte("/")}, web.Conn{}, web.NoBody)
	if b, _ := io.ReadAll(r.Body()); len(b) != 0 || r.ContentLength() != 0 {
		t.Fatalf("after Init: %q %d", b, r.ContentLength())
	}
}

func TestChain(t *testing.T) {
	var order []string
	mw := func(name string) web.Middleware {
		return func(next web.Handler) web.Handler {
			return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
				order = append(order, name)
				return next.ServeHTTP(w, r)
			})
		}
	}
	h := web.Chain(web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		order = append(order, "handler")
		return nil
	}), mw("a"), mw("b"))
	h.ServeHTTP(webtest.NewRecorder(), webtest.NewRequest("GET", "/", nil))
	if strings.Join(order, ",") != "a,b,handler" {
		t.Fatalf("%v", order)
	}
}

// An error marked Logged keeps its status and its Retry-After; only the
// server's log line changes.
func TestLogged(t *testing.T) {
	busy := &web.Error{Status: 503, RetryAfter: 7, Err: errors.New("queue full")}
	err := web.Logged(busy)
	if !web.IsLogged(err) || web.IsLogged(busy) || web.StatusOf(err) != 503 || !errors.Is(err, busy) || err.Error() != busy.Error() {
		t.Fatalf("Logged: %v logged=%v status=%d", err, web.IsLogged(err), web.StatusOf(err))
	}
	if web.Logged(nil) != nil || web.Logged(err) != err {
		t.Fatal("web.Logged(nil) or Logged twice")
	}
	rec := webtest.NewRecorder()
	web.WriteError(rec, err)
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "7" {
		t.Fatalf("rendered %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}
