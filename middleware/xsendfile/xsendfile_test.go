package xsendfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/backend/static"
	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

func TestName(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	link := filepath.Join(dir, "link")
	os.Symlink(real, link)
	files := web.HandlerFunc(func(web.ResponseWriter, *web.Request) error { return nil })
	byDir, err := newSendfile(Config{Dir: link + "/", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	byURL, err := newSendfile(Config{Prefix: "/protected", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		s    *sendfile
		in   string
		want string // "" refused
	}{
		{byDir, link + "/a.pdf", "/a.pdf"},
		{byDir, real + "/a.pdf", "/a.pdf"}, // the same directory, symlink resolved (PHP's realpath)
		{byDir, link + "/sub/a b%20.pdf", "/sub/a%20b%2520.pdf"},
		{byDir, link + "/caf\u00e9", "/caf%C3%A9"},
		{byDir, link, ""},
		{byDir, link + "/", ""},
		{byDir, link + "X/a.pdf", ""},
		{byDir, link + "/../secret", ""},
		{byDir, link + "/sub/../../secret", ""},
		{byDir, link + "/./a.pdf", ""},
		{byDir, link + "//a.pdf", ""},
		{byDir, link + "/sub/", ""},
		{byDir, "a.pdf", ""},
		{byDir, "/etc/passwd", ""},
		{byDir, link + "/a\x00b", ""},
		{byDir, link + "/a\nb", ""},
		{byDir, link + "/a\\..\\b", ""},
		{byDir, link + "/\xff", ""},
		{byURL, "/protected/a.pdf", "/a.pdf"},
		{byURL, "/protected/sub/a%20b.pdf?x=1", "/sub/a%20b.pdf"},
		{byURL, "/protected/%2e%2e/secret", ""},
		{byURL, "/protected/../secret", ""},
		{byURL, "/protected/a%2fb", ""},
		{byURL, "/protected/a%5cb", ""},
		{byURL, "/protected/a%00", ""},
		{byURL, "/protected/a%zz", ""},
		{byURL, "/protected/", ""},
		{byURL, "/protected", ""},
		{byURL, "/protectedX/a", ""},
		{byURL, "/protected//a", ""},
		{byURL, "/other/a.pdf", ""},
		{byURL, "/protected/%ff", ""},
	}
	for _, c := range cases {
		got, err := c.s.name(c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("%q: %q %v, want %q", c.in, got, err, c.want)
		}
		if err != nil && (web.StatusOf(err) != 502 || !errors.Is(err, errRefused)) {
			t.Errorf("%q: %v", c.in, err)
		}
	}
}

func TestNew(t *testing.T) {
	files := web.HandlerFunc(func(web.ResponseWriter, *web.Request) error { return nil })
	for name, cfg := range map[string]Config{
		"no files":     {Dir: "/srv"},
		"neither":      {Files: files},
		"both":         {Dir: "/srv", Prefix: "/p/", Files: files},
		"relative dir": {Dir: "srv", Files: files},
		"bad prefix":   {Prefix: "p/", Files: files},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	s, _ := newSendfile(Config{Dir: "/srv", Files: files})
	u, _ := newSendfile(Config{Prefix: "/p/", Files: files})
	if s.header != "X-Sendfile" || u.header != "X-Accel-Redirect" || len(s.keep) != len(DefaultKeep) {
		t.Fatal(s.header, u.header)
	}
}

// fixture: a files directory with a static handler for it, and a backend
// that names what its X-File request field says.
func fixture(t *testing.T, cfg Config) (web.Handler, string, []byte) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "files")
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	data := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB: sent by sendfile
	os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "note.txt"), []byte("note"), 0o644)
	os.WriteFile(filepath.Join(base, "secret.txt"), []byte("SECRET"), 0o644)
	os.Symlink("../secret.txt", filepath.Join(dir, "escape.txt"))
	st, err := static.New(static.Config{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.Files = st
	if cfg.Prefix == "" {
		cfg.Dir = dir
	}
	mw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	backend := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		io.Copy(io.Discard, r.Body())
		h := w.Header()
		if f := r.Header.Get("X-File"); f != "" {
			h.Set(cfgHeader(cfg), strings.ReplaceAll(f, "@", dir))
		}
		h.Set("Content-Type", "text/html; charset=UTF-8")
		h.Set("Content-Disposition", `attachment; filename="report.bin"`)
		h.Add("Set-Cookie", "a=1")
		h.Add("Set-Cookie", "b=2")
		h.Set("Cache-Control", "private, max-age=60")
		h.Set("X-Internal", "dropped")
		w.WriteHeader(202)
		w.WriteString("BODY FROM THE BACKEND")
		return w.Flush()
	})
	return mw(backend), dir, data
}

func cfgHeader(cfg Config) string {
	if cfg.Header != "" {
		return cfg.Header
	}
	if cfg.Prefix != "" {
		return "X-Accel-Redirect"
	}
	return "X-Sendfile"
}

func serve(t *testing.T, h web.Handler, logs io.Writer) string {
	t.Helper()
	return testserve.HTTP(t, h, shttp.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
}

func get(t *testing.T, addr, method, target string, fields ...string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := method + " " + target + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
	for _, f := range fields {
		req += f + "\r\n"
	}
	if method == "POST" {
		req += "Content-Length: 4\r\n\r\nbody"
	} else {
		req += "\r\n"
	}
	io.WriteString(c, req)
	r, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	return r, string(b)
}

func TestXSendfile(t *testing.T) {
	logs := &lockedLog{}
	h, dir, data := fixture(t, Config{})
	addr := serve(t, h, logs)

	r, body := get(t, addr, "GET", "/", "X-File: @/big.bin")
	if r.StatusCode != 200 || body != string(data) || r.ContentLength != int64(len(data)) {
		t.Fatalf("%d, %d bytes", r.StatusCode, len(body))
	}
	for name, want := range map[string]string{
		"Content-Disposition": `attachment; filename="report.bin"`,
		"Cache-Control":       "private, max-age=60",
		"Content-Type":        "application/octet-stream", // the file's, not the backend's text/html
		"X-Internal":          "",
		"X-Sendfile":          "",
		"Accept-Ranges":       "bytes",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if c := r.Header.Values("Set-Cookie"); len(c) != 2 || c[0] != "a=1" || c[1] != "b=2" {
		t.Errorf("Set-Cookie: %q", c)
	}
	etag := r.Header.Get("ETag")

	t.Run("range", func(t *testing.T) {
		r, body := get(t, addr, "GET", "/", "X-File: @/big.bin", "Range: bytes=100-199")
		if r.StatusCode != 206 || body != string(data[100:200]) || r.Header.Get("Content-Disposition") == "" {
			t.Fatalf("%d %q", r.StatusCode, body)
		}
	})
	t.Run("conditional", func(t *testing.T) {
		r, body := get(t, addr, "GET", "/", "X-File: @/big.bin", "If-None-Match: "+etag)
		if r.StatusCode != 304 || body != "" {
			t.Fatalf("%d %q", r.StatusCode, body)
		}
	})
	t.Run("HEAD and POST", func(t *testing.T) {
		r, body := get(t, addr, "HEAD", "/", "X-File: @/sub/note.txt")
		if r.StatusCode != 200 || body != "" || r.ContentLength != 4 {
			t.Fatalf("HEAD: %d %q %d", r.StatusCode, body, r.ContentLength)
		}
		r, body = get(t, addr, "POST", "/", "X-File: @/sub/note.txt")
		if r.StatusCode != 200 || body != "note" || r.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("POST: %d %q %v", r.StatusCode, body, r.Header)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, f := range []string{"@/../secret.txt", dir + "/../secret.txt", "/etc/passwd", "@", "@/", "@//big.bin"} {
			r, body := get(t, addr, "GET", "/", "X-File: "+f)
			if r.StatusCode != 502 || strings.Contains(body, "SECRET") || strings.Contains(body, "BACKEND") {
				t.Errorf("%s: %d %q", f, r.StatusCode, body)
			}
		}
		if !strings.Contains(logs.String(), "xsendfile: path outside") || !strings.Contains(logs.String(), "/etc/passwd") {
			t.Errorf("log:\n%s", logs.String())
		}
		// A symlink inside the directory that leads out: the files handler's
		// root refuses it.
		r, body := get(t, addr, "GET", "/", "X-File: @/escape.txt")
		if r.StatusCode != 404 || strings.Contains(body, "SECRET") {
			t.Errorf("escape: %d %q", r.StatusCode, body)
		}
		r, _ = get(t, addr, "GET", "/", "X-File: @/missing.bin")
		if r.StatusCode != 404 {
			t.Errorf("missing: %d", r.StatusCode)
		}
	})
	t.Run("pass through", func(t *testing.T) {
		r, body := get(t, addr, "GET", "/")
		if r.StatusCode != 202 || body != "BODY FROM THE BACKEND" || r.Header.Get("X-Internal") != "dropped" {
			t.Fatalf("%d %q %v", r.StatusCode, body, r.Header)
		}
	})
}

func TestXAccelRedirect(t *testing.T) {
	logs := &lockedLog{}
	h, _, _ := fixture(t, Config{Prefix: "/protected/", Keep: []string{"Content-Type", "content-disposition"}})
	addr := serve(t, h, logs)
	r, body := get(t, addr, "GET", "/", "X-File: /protected/sub/note.txt?ignored=1")
	if r.StatusCode != 200 || body != "note" || r.Header.Get("Content-Type") != "text/html; charset=UTF-8" ||
		r.Header.Get("Content-Disposition") == "" || r.Header.Get("Set-Cookie") != "" || r.Header.Get("Cache-Control") != "" {
		t.Fatalf("%d %q %v", r.StatusCode, body, r.Header)
	}
	for _, f := range []string{"/protected/%2e%2e/secret.txt", "/protected/sub%2fnote.txt", "/elsewhere/note.txt"} {
		if r, _ := get(t, addr, "GET", "/", "X-File: "+f); r.StatusCode != 502 {
			t.Errorf("%s: %d", f, r.StatusCode)
		}
	}
}

// Without a server: a backend that sets the field and writes nothing, and
// one that fails.
func TestInterceptor(t *testing.T) {
	files := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("Content-Type", "text/plain")
		_, err := w.WriteString("file " + string(r.RoutePath()) + " " + r.Method())
		return err
	})
	mw, _ := New(Config{Dir: "/srv/f", Files: files})
	quiet := mw(web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.WatchClient() // a gateway about to wait
		w.Header().Set("X-Sendfile", "/srv/f/a b")
		return nil
	}))
	w := webtest.NewRecorder()
	if err := webtest.Serve(quiet, w, webtest.NewRequest("PUT", "/x", strings.NewReader("in"))); err != nil ||
		w.Body.String() != "file /a%20b GET" || w.Head.Get("X-Sendfile") != "" || !w.Watched {
		t.Fatalf("%v %q watched=%v", err, w.Body.String(), w.Watched)
	}
	boom := errors.New("backend failed")
	failing := mw(web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("X-Sendfile", "/srv/f/a")
		return boom
	}))
	w = webtest.NewRecorder()
	if err := webtest.Serve(failing, w, webtest.NewRequest("GET", "/x", nil)); err != boom || w.Code != 500 {
		t.Fatalf("%v %d", err, w.Code)
	}
}

// FuzzName: an accepted value names a path whose decoded segments are clean
// and under the directory.
func FuzzName(f *testing.F) {
	for _, s := range []string{"/srv/f/a.pdf", "/srv/f/../x", "/srv/f/a%2fb", "/p/a%20b?x", "/p/%2e%2e/x", "/srv/f//a"} {
		f.Add(s)
	}
	files := web.HandlerFunc(func(web.ResponseWriter, *web.Request) error { return nil })
	byDir, _ := newSendfile(Config{Dir: "/srv/f", Files: files})
	byURL, _ := newSendfile(Config{Prefix: "/p/", Files: files})
	f.Fuzz(func(t *testing.T, v string) {
		for _, s := range []*sendfile{byDir, byURL} {
			p, err := s.name(v)
			if err != nil {
				continue
			}
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("%q: %q", v, p)
			}
			for _, raw := range strings.Split(p[1:], "/") {
				seg, err := urlUnescape(raw)
				if err != nil || seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "/\\\x00\r\n") {
					t.Fatalf("%q: segment %q of %q", v, seg, p)
				}
			}
			if s == byDir && filepath.Clean("/srv/f"+mustUnescape(p)) != "/srv/f"+mustUnescape(p) {
				t.Fatalf("%q: %q", v, p)
			}
		}
	})
}
