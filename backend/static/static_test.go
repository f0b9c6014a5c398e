package static

import (
	"bufio"
	"crypto/rand"
	"io"
	"log/slog"
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
)

const secret = "TOP-SECRET-OUTSIDE-ROOT"

// site builds:
//
//	tmp/secret.txt            outside the root
//	tmp/root/index.html a.txt style.css data.bin(1 MiB) .env .well-known/acme
//	tmp/root/sub/b.txt sub/index.html  nodir/ (no index)
//	tmp/root/link -> ../secret.txt     tmp/root/dirlink -> ..     tmp/root/inlink -> a.txt
func site(t *testing.T) (root string, big []byte) {
	t.Helper()
	tmp := t.TempDir()
	root = filepath.Join(tmp, "root")
	big = make([]byte, 1<<20)
	rand.Read(big)
	files := map[string]string{
		"secret.txt":             secret,
		"root/index.html":        "<h1>home</h1>",
		"root/a.txt":             "file a",
		"root/style.css":         "body{}",
		"root/.env":              "PASSWORD=" + secret,
		"root/.well-known/acme":  "token",
		"root/sub/b.txt":         "file b",
		"root/sub/index.html":    "sub index",
		"root/nodir/readme.md":   "# x",
		"root/%2e%2e/secret.txt": "decoy: a literal directory named %2e%2e",
	}
	for name, body := range files {
		p := filepath.Join(tmp, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "data.bin"), big, 0o644)
	os.Symlink("../secret.txt", filepath.Join(root, "link"))
	os.Symlink("..", filepath.Join(root, "dirlink"))
	os.Symlink("a.txt", filepath.Join(root, "inlink"))
	return root, big
}

func serve(t *testing.T, h web.Handler) string {
	t.Helper()
	return testserve.HTTP(t, h, shttp.Config{Logger: discardLogger()})
}

// get sends a raw request line (the target exactly as given, unnormalized, the
// way an attacker would) with extra fields ("Name: value") and returns the
// response.
func get(t *testing.T, addr, method, target string, fields ...string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var extra string
	for _, f := range fields {
		extra += f + "\r\n"
	}
	io.WriteString(c, method+" "+target+" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"+extra+"\r\n")
	r, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s: %v", target, err)
	}
	b, _ := io.ReadAll(r.Body)
	return r, string(b)
}

// TestTraversal: none of these may ever serve a byte from outside the root.
func TestTraversal(t *testing.T) {
	root, _ := site(t)
	h, err := New(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	addr := serve(t, h)
	payloads := []string{
		"/../secret.txt",
		"/..%2fsecret.txt",
		"/%2e%2e/secret.txt",
		"/%2e%2e%2fsecret.txt",
		"/%2E%2E/secret.txt",
		"/..%5csecret.txt",
		`/..\secret.txt`,
		`/\..\secret.txt`,
		"/%252e%252e/secret.txt",
		"/%c0%ae%c0%ae/secret.txt",
		"/%c0%ae%c0%ae%c0%afsecret.txt",
		"/..%c0%afsecret.txt",
		"/%e0%80%ae%e0%80%ae/secret.txt",
		"/a.txt%00.html",
		"/..%00/secret.txt",
		"/sub/../../secret.txt",
		"/sub/%2e%2e/%2e%2e/secret.txt",
		"/./../secret.txt",
		"//../secret.txt",
		"/.%2e/secret.txt",
		"/%2e./secret.txt",
		"/%5c..%5csecret.txt",
		"/sub%2f..%2f..%2fsecret.txt",
		"/sub/..%2f..%2fsecret.txt",
		"/%2e%2e%5csecret.txt",
		"/%2e%2e%2f%2e%2e%2fsecret.txt",
		"/..%255csecret.txt",
		"/%uff0e%uff0e/secret.txt",
		"/..;/secret.txt",
		"/..../secret.txt",
		"/.../secret.txt",
		"/link",
		"/dirlink/secret.txt",
		"/dirlink/root/a.txt",
		"/.env",
		"/.well-known/../.env",
		"/sub/.%65nv",
		"/%2e%65nv",
		"http://a/../secret.txt",
	}
	if len(payloads) < 30 {
		t.Fatal("the traversal table needs at least 30 payloads")
	}
	for _, p := range payloads {
		r, body := get(t, addr, "GET", p)
		if p == "/%252e%252e/secret.txt" {
			// Decoded once, this names the literal directory "%2e%2e" inside
			// the root; the decoy there proves there is no second decoding.
			if r.StatusCode != 200 || !strings.HasPrefix(body, "decoy") {
				t.Errorf("%s: %d %q", p, r.StatusCode, body)
			}
			continue
		}
		if r.StatusCode != 400 && r.StatusCode != 404 {
			t.Errorf("%s: status %d", p, r.StatusCode)
		}
		if strings.Contains(body, secret) {
			t.Errorf("%s: served the secret", p)
		}
	}
}

func TestServing(t *testing.T) {
	root, big := site(t)
	h, err := New(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	addr := serve(t, h)
	cases := []struct {
		target, method string
		status         int
		body, ctype    string
		location       string
	}{
		{"/", "GET", 200, "<h1>home</h1>", "text/html; charset=utf-8", ""},
		{"/a.txt", "GET", 200, "file a", "text/plain; charset=utf-8", ""},
		{"/style.css", "GET", 200, "body{}", "text/css; charset=utf-8", ""},
		{"/inlink", "GET", 200, "file a", "application/octet-stream", ""},
		{"/sub", "GET", 301, "", "", "/sub/"},
		{"/sub?x=1", "GET", 301, "", "", "/sub/?x=1"},
		{"//sub", "GET", 301, "", "", "/sub/"}, // never "//sub/": that would be an off-site redirect
		{"/sub/", "GET", 200, "sub index", "text/html; charset=utf-8", ""},
		{"/sub/b.txt", "GET", 200, "file b", "text/plain; charset=utf-8", ""},
		{"/sub//b.txt", "GET", 200, "file b", "text/plain; charset=utf-8", ""},
		{"/sub/b.txt/", "GET", 404, "", "", ""},
		{"/a.txt/x", "GET", 404, "", "", ""},
		{"/nodir/", "GET", 404, "", "", ""}, // no listing
		{"/nope", "GET", 404, "", "", ""},
		{"/.well-known/acme", "GET", 200, "token", "application/octet-stream", ""},
		{"/a%2etxt", "GET", 200, "file a", "text/plain; charset=utf-8", ""},
		{"/a.txt", "HEAD", 200, "", "text/plain; charset=utf-8", ""},
		{"/a.txt", "POST", 405, "", "", ""},
	}
	for _, tc := range cases {
		r, body := get(t, addr, tc.method, tc.target)
		if r.StatusCode != tc.status || (tc.status == 200 && body != tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.target, r.StatusCode, body, tc.status, tc.body)
			continue
		}
		if tc.ctype != "" && r.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.target, r.Header.Get("Content-Type"), tc.ctype)
		}
		if tc.location != "" && r.Header.Get("Location") != tc.location {
			t.Errorf("%s: Location %q, want %q", tc.target, r.Header.Get("Location"), tc.location)
		}
		if tc.status == 405 && r.Header.Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Errorf("405 without Allow: %v", r.Header)
		}
		if tc.method == "HEAD" && r.ContentLength != 6 {
			t.Errorf("HEAD Content-Length %d", r.ContentLength)
		}
	}
	// A large file, by sendfile, arrives intact.
	r, body := get(t, addr, "GET", "/data.bin")
	if r.StatusCode != 200 || body != string(big) || r.ContentLength != int64(len(big)) {
		t.Fatalf("data.bin: %d, %d bytes", r.StatusCode, len(body))
	}
	if lm, err := http.ParseTime(r.Header.Get("Last-Modified")); err != nil || time.Since(lm) > time.Hour {
		t.Fatalf("Last-Modified %q", r.Header.Get("Last-Modified"))
	}
}

func TestOptionsAllowLeaving(t *testing.T) {
	root, _ := site(t)
	h, err := New(Config{Root: root, FollowSymlinks: true, AllowDotfiles: true, Prefix: "/files"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	addr := serve(t, h)
	if r, body := get(t, addr, "GET", "/files/link"); r.StatusCode != 200 || body != secret {
		t.Fatalf("FollowSymlinks: %d %q", r.StatusCode, body)
	}
	if r, _ := get(t, addr, "GET", "/files/.env"); r.StatusCode != 200 {
		t.Fatalf("AllowDotfiles: %d", r.StatusCode)
	}
	if r, _ := get(t, addr, "GET", "/files/../secret.txt"); r.StatusCode != 400 {
		t.Fatalf("dot segments stay refused: %d", r.StatusCode)
	}
	if r, _ := get(t, addr, "GET", "/files"); r.StatusCode != 301 || r.Header.Get("Location") != "/files/" {
		t.Fatalf("mount point: %d %v", r.StatusCode, r.Header)
	}
	if r, _ := get(t, addr, "GET", "/filesX/a.txt"); r.StatusCode != 404 {
		t.Fatalf("sibling of the mount point: %d", r.StatusCode)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("empty root accepted")
	}
	if _, err := New(Config{Root: "/definitely/not/here"}); err == nil {
		t.Error("missing root accepted")
	}
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, nil, 0o644)
	if _, err := New(Config{Root: f}); err == nil {
		t.Error("file as root accepted")
	}
	for _, cc := range []string{"max-age=1\r\nSet-Cookie: x=1", "a\nb", "a\x00", "a\x7f"} {
		if _, err := New(Config{Root: t.TempDir(), CacheControl: cc}); err == nil {
			t.Errorf("CacheControl %q accepted", cc)
		}
	}
	h, err := New(Config{Root: t.TempDir(), CacheControl: "public,\tmax-age=60"})
	if err != nil {
		t.Errorf("CacheControl with a tab: %v", err)
	} else {
		h.Close()
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"a.HTML": "text/html; charset=utf-8", "x.js": "text/javascript; charset=utf-8",
		"x.json": "application/json; charset=utf-8", "x.svg": "image/svg+xml; charset=utf-8",
		"x.png": "image/png", "x.woff2": "font/woff2", "x.unknown": "application/octet-stream", "noext": "application/octet-stream",
	} {
		if got := ContentType(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

func FuzzSplitPath(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/../x", "/%2e%2e/", "/%c0%ae", "/a%2fb", "//x//y/", "/a\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		segs, _, err := SplitPath(p)
		if err != nil {
			return
		}
		for _, s := range segs {
			if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") {
				t.Fatalf("%q gave segment %q", p, s)
			}
		}
		joined := filepath.Join(append([]string{"/root"}, segs...)...)
		if joined != "/root" && !strings.HasPrefix(joined, "/root/") {
			t.Fatalf("%q escapes: %s", p, joined)
		}
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
