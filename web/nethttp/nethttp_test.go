package nethttp_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/testserve"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
	"gatehouse/web/nethttp"
)

func serve(t *testing.T, h web.Handler) string {
	t.Helper()
	return "http://" + testserve.HTTP(t, h, shttp.Config{})
}

// The adapter runs with a real net/http client on the other side.
func TestHandlerFuncOverTheWire(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s q=%s host=%s ua=%s len=%d body=%s remote=%v",
			r.Method, r.URL.Path, r.URL.Query().Get("q"), r.Host, r.UserAgent(), r.ContentLength, body,
			strings.HasPrefix(r.RemoteAddr, "127.0.0.1:"))
	})
	base := serve(t, nethttp.Handler(h))
	resp, err := http.Post(base+"/a%20b?q=x", "text/plain", strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := "POST /a b q=x host=" + strings.TrimPrefix(base, "http://") + " ua=Go-http-client/1.1 len=7 body=payload remote=true"
	if resp.StatusCode != 201 || string(b) != want || strings.Join(resp.Header.Values("X-Multi"), ",") != "a,b" {
		t.Fatalf("%d %q %v", resp.StatusCode, b, resp.Header)
	}
}

func TestEcosystemHandlers(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte(strings.Repeat("hello file\n", 5000)), 0o644)
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", http.FileServer(http.Dir(dir))))
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "item ", r.PathValue("id"))
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "chunk %d\n", i)
			w.(http.Flusher).Flush()
		}
	})
	base := serve(t, nethttp.Handler(mux))
	for path, want := range map[string]string{
		"/files/hello.txt": strings.Repeat("hello file\n", 5000),
		"/items/42":        "item 42",
		"/stream":          "chunk 0\nchunk 1\nchunk 2\n",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("%s: %d %.80q", path, resp.StatusCode, b)
		}
		if path == "/stream" && len(resp.TransferEncoding) == 0 {
			t.Fatalf("flushed response not chunked")
		}
	}
	resp, _ := http.Post(base+"/items/1", "text/plain", nil)
	if resp.StatusCode != 405 {
		t.Fatalf("ServeMux method mismatch: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func TestHijack(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		brw.WriteString("echo:" + line)
		brw.Flush()
	})
	base := serve(t, nethttp.Handler(h))
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nping\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	if line, _ := br.ReadString('\n'); line != "echo:ping\n" {
		t.Fatalf("%q", line)
	}
}

func TestAbortHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	base := serve(t, nethttp.Handler(h))
	resp, err := http.Get(base + "/")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("an aborted response must not arrive complete")
	}
}
