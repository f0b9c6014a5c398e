package fastcgi

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	shttp "gatehouse/serve/http1"
	"gatehouse/upstream"
)

// TestCapture records what php-fpm and net/http/fcgi's child send back, as
// the golden captures the codec's fuzz targets start from. It runs only with
// GATEHOUSE_CAPTURE set to the directory to write them to:
//
//	GATEHOUSE_CAPTURE=$PWD/proto/fcgi/testdata go test -run TestCapture ./backend/fastcgi/
func TestCapture(t *testing.T) {
	out := os.Getenv("GATEHOUSE_CAPTURE")
	if out == "" {
		t.Skip("GATEHOUSE_CAPTURE not set")
	}
	var mu sync.Mutex
	var rec []byte
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &recordConn{Conn: c, mu: &mu, rec: &rec}, nil
	}
	save := func(name string) {
		mu.Lock()
		defer mu.Unlock()
		if err := os.WriteFile(filepath.Join(out, name), rec, 0o644); err != nil {
			t.Fatal(err)
		}
		rec = nil
	}
	root, fpm := phpFixture(t, 0)
	logs := &logBuffer{}
	h := newPHP(t, Config{Root: root, Upstream: upstream.Config{Addrs: []string{fpm.sock}, MaxConns: 2, MaxIdle: -1, Dial: dial}})
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	for name, target := range map[string]string{
		"php-fpm-headers.fcgi": "/headers.php",
		"php-fpm-stderr.fcgi":  "/stderr.php",
		"php-fpm-status.fcgi":  "/status.php",
		"php-fpm-env.fcgi":     "/env.php/x?y=1",
	} {
		do(t, c, "GET", "http://"+addr+target, nil, "Cookie: a=1")
		save(name)
	}
	sock := startGoChild(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Go", "1")
		w.WriteHeader(201)
		io.WriteString(w, strings.Repeat("go child ", 100))
	}))
	g, err := New(Config{Upstream: upstream.Config{Addrs: []string{sock}, MaxIdle: -1, Dial: dial}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	gaddr := serve(t, g, logs, shttp.Config{})
	do(t, c, "POST", "http://"+gaddr+"/", strings.NewReader("body"))
	save("net-http-fcgi.fcgi")
}

// recordConn keeps a copy of every byte read.
type recordConn struct {
	net.Conn
	mu  *sync.Mutex
	rec *[]byte
}

func (r *recordConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	*r.rec = append(*r.rec, p[:n]...)
	r.mu.Unlock()
	return n, err
}
