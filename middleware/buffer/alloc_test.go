//go:build !race

package buffer

import (
	"net"
	"os"
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

// discardWriter is a reusable web.ResponseWriter that keeps nothing, as the
// server's own writer keeps nothing between requests.
type discardWriter struct {
	h       web.Header
	status  int
	written int64
}

func (d *discardWriter) Header() *web.Header { return &d.h }
func (d *discardWriter) WriteHeader(s int) {
	if d.status == 0 {
		d.status = s
	}
}
func (d *discardWriter) Write(p []byte) (int, error) {
	d.written += int64(len(p))
	return len(p), nil
}
func (d *discardWriter) WriteString(s string) (int, error)       { return d.Write([]byte(s)) }
func (d *discardWriter) Flush() error                            { return nil }
func (d *discardWriter) SendFile(f *os.File, off, n int64) error { return nil }
func (d *discardWriter) Upgrade() (net.Conn, error)              { return nil, nil }
func (d *discardWriter) WatchClient()                            {}
func (d *discardWriter) Status() int                             { return d.status }
func (d *discardWriter) Written() int64                          { return d.written }
func (d *discardWriter) reset()                                  { d.h.Reset(); d.status, d.written = 0, 0 }

// A buffered response that fits in memory costs no allocation once the pools
// are warm: the writer, its chunks and its header storage are reused.
func TestBufferedResponseAllocs(t *testing.T) {
	b := New(Config{})
	h := b.Wrap(web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("Content-Type", "text/plain")
		_, err := w.WriteString("Hello, World!")
		return err
	}))
	r := webtest.NewRequest("GET", "/", nil)
	w := &discardWriter{}
	run := func() {
		w.reset()
		if err := h.ServeHTTP(w, r); err != nil || w.written != 13 {
			t.Fatalf("%v, %d bytes", err, w.written)
		}
	}
	run()
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Fatalf("%v allocations per buffered response", n)
	}
}
