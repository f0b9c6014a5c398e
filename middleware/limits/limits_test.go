package limits

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

func withLength(r *web.Request, n int64) *web.Request {
	r.SetBody(r.Body(), n)
	return r
}

// TestMaxBody: at the limit and one past, declared and chunked.
func TestMaxBody(t *testing.T) {
	read := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		_, err := io.ReadAll(r.Body())
		return err
	})
	h := Config{MaxBody: 10}.Wrap(read)
	for _, c := range []struct {
		name   string
		body   string
		length int64
		status int
	}{
		{"declared at the limit", strings.Repeat("a", 10), 10, 200},
		{"declared one past", strings.Repeat("a", 11), 11, 413},
		{"chunked at the limit", strings.Repeat("a", 10), -1, 200},
		{"chunked one past", strings.Repeat("a", 11), -1, 413},
		{"no body", "", 0, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := withLength(webtest.NewRequest("POST", "/", strings.NewReader(c.body)), c.length)
			w := webtest.NewRecorder()
			webtest.Serve(h, w, r)
			if w.Code != c.status {
				t.Fatalf("%d, want %d", w.Code, c.status)
			}
		})
	}
}

// TestTimeout: a backend that waits on the request's context stops at the
// route's deadline: 504; the request's own context is put back.
func TestTimeout(t *testing.T) {
	var inner context.Context
	h := Config{Timeout: 50 * time.Millisecond}.Wrap(web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		inner = r.Context()
		select {
		case <-r.Context().Done():
			return r.Context().Err()
		case <-time.After(5 * time.Second):
			return nil
		}
	}))
	r := webtest.NewRequest("GET", "/", nil)
	outer := r.Context()
	w := webtest.NewRecorder()
	began := time.Now()
	err := webtest.Serve(h, w, r)
	if w.Code != 504 || !errors.Is(err, context.DeadlineExceeded) || time.Since(began) > 2*time.Second {
		t.Fatalf("%d %v after %v", w.Code, err, time.Since(began))
	}
	if r.Context() != outer || inner == outer {
		t.Error("the context was not bounded, or not put back")
	}
}
