package http1_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// One open file serves many requests at once, each from its own offset: SendFile
// neither uses nor moves the file's offset.
func TestSendFileSharedFile(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		data := make([]byte, 3<<20)
		for i := range data {
			data[i] = byte(i * 7 % 251)
		}
		path := filepath.Join(t.TempDir(), "data.bin")
		os.WriteFile(path, data, 0o644)
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.Seek(12345, io.SeekStart) // SendFile must not care
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			off, _ := strconv.ParseInt(string(r.RawQuery()), 10, 64)
			n := int64(len(data)) - off
			if r.Path() == "/chunked" {
				return w.SendFile(f, off, n) // no length: chunked
			}
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
			return w.SendFile(f, off, n)
		})
		ts := startServer(t, e, h, shttp.Config{})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				off := i * 100000
				path := "/cl"
				if i%2 == 1 {
					path = "/chunked"
				}
				c := dial(t, ts.addr)
				c.send(fmt.Sprintf("GET %s?%d HTTP/1.1\r\nHost: a\r\n\r\n", path, off))
				r, err := c.tryRead("GET")
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal([]byte(r.body), data[off:]) {
					t.Errorf("%s from %d: %d bytes, content differs", path, off, len(r.body))
				}
			}()
		}
		wg.Wait()
		if pos, _ := f.Seek(0, io.SeekCurrent); pos != 12345 {
			t.Fatalf("file offset moved to %d", pos)
		}
	})
}

// A file shorter than the count promised cuts the response and closes.
func TestSendFileShortFile(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		path := filepath.Join(t.TempDir(), "short")
		os.WriteFile(path, []byte("12345"), 0o644)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			w.Header().Set("Content-Length", "10")
			return w.SendFile(f, 0, 10)
		})
		ts := startServer(t, e, h, shttp.Config{})
		c := dial(t, ts.addr)
		c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		if _, err := c.tryRead("GET"); err == nil {
			t.Fatal("a response cut short looked complete")
		}
	})
}
