package web_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

// stampWriter sets a field on the response when it starts, whichever method
// starts it; every other method passes through.
type stampWriter struct {
	web.WriterWrapper
	stamped bool
}

func (s *stampWriter) stamp() {
	if !s.stamped {
		s.stamped = true
		s.Header().Set("X-Served-By", "gatehouse")
	}
}

func (s *stampWriter) WriteHeader(status int) { s.stamp(); s.ResponseWriter.WriteHeader(status) }

func (s *stampWriter) Write(p []byte) (int, error) { s.stamp(); return s.ResponseWriter.Write(p) }

func (s *stampWriter) WriteString(str string) (int, error) {
	s.stamp()
	return s.ResponseWriter.WriteString(str)
}

func (s *stampWriter) Flush() error { s.stamp(); return s.ResponseWriter.Flush() }

func (s *stampWriter) SendFile(f *os.File, offset, count int64) error {
	s.stamp()
	return s.ResponseWriter.SendFile(f, offset, count)
}

func ExampleWriterWrapper() {
	stamp := func(next web.Handler) web.Handler {
		return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			return next.ServeHTTP(&stampWriter{WriterWrapper: web.WriterWrapper{ResponseWriter: w}}, r)
		})
	}
	h := stamp(web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.WatchClient() // passes through
		_, err := w.WriteString("hello")
		return err
	}))
	rec := webtest.NewRecorder()
	webtest.Serve(h, rec, webtest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Code, rec.Head.Get("X-Served-By"), rec.Body.String(), rec.Watched)
	// Output: 200 gatehouse hello true
}

// Every method the wrapper does not override reaches the wrapped writer.
func TestWriterWrapperForwards(t *testing.T) {
	rec := webtest.NewRecorder()
	var w web.ResponseWriter = web.WriterWrapper{ResponseWriter: rec}
	w.Header().Set("X-A", "1")
	w.WriteHeader(201)
	w.Write([]byte("ab"))
	w.WriteString("cd")
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, []byte("xefx"), 0o644)
	file, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := w.SendFile(file, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	w.WatchClient()
	if _, err := w.Upgrade(); err == nil {
		t.Error("Upgrade: the recorder's error did not come through")
	}
	if rec.Code != 201 || rec.Head.Get("X-A") != "1" || rec.Body.String() != "abcdef" || !rec.Flushed || !rec.Watched ||
		w.Status() != 201 || w.Written() != 6 {
		t.Fatalf("%d %q %q flushed=%v watched=%v status=%d written=%d",
			rec.Code, rec.Head.Get("X-A"), rec.Body.String(), rec.Flushed, rec.Watched, w.Status(), w.Written())
	}
}
