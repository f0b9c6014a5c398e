package server

import (
	"os"
	"time"

	"gatehouse/upstream"
	"gatehouse/web"
)

// timed measures an application backend's exchange for the access log's
// $upstream_connect_time, $upstream_header_time and $upstream_response_time
// (upstream.Timing): the backend marks the connect, this the head and the
// end of its response. It sits right around the backend, inside the
// buffering, so that it times the application, not the client.
func timed(next web.Handler) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		t := &upstream.Timing{Start: time.Now(), Connect: -1, Header: -1, Response: -1}
		upstream.TimingKey.Set(r, t)
		err := next.ServeHTTP(&timingWriter{WriterWrapper: web.WriterWrapper{ResponseWriter: w}, t: t}, r)
		t.Response = time.Since(t.Start)
		return err
	})
}

// timingWriter records when the response's head goes out.
type timingWriter struct {
	web.WriterWrapper
	t *upstream.Timing
}

func (x *timingWriter) head() {
	if x.t.Header < 0 {
		x.t.Header = time.Since(x.t.Start)
	}
}

func (x *timingWriter) WriteHeader(status int) {
	if status >= 200 {
		x.head()
	}
	x.WriterWrapper.WriteHeader(status)
}

func (x *timingWriter) Write(p []byte) (int, error) {
	x.head()
	return x.WriterWrapper.Write(p)
}

func (x *timingWriter) WriteString(s string) (int, error) {
	x.head()
	return x.WriterWrapper.WriteString(s)
}

func (x *timingWriter) Flush() error {
	x.head()
	return x.WriterWrapper.Flush()
}

func (x *timingWriter) SendFile(f *os.File, offset, count int64) error {
	x.head()
	return x.WriterWrapper.SendFile(f, offset, count)
}
