package fastcgi

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/backend/static"
	shttp "gatehouse/serve/http1"
	"gatehouse/upstream"
)

// phpSite holds the scripts of the end-to-end tests.
var phpSite = map[string]string{
	"env.php":    `<?php header('Content-Type: application/json'); echo json_encode($_SERVER);`,
	"post.php":   `<?php echo json_encode($_POST);`,
	"upload.php": `<?php $o = []; foreach ($_FILES as $k => $f) { $o[$k] = ['name' => $f['name'], 'size' => $f['size'], 'error' => $f['error'], 'md5' => $f['error'] ? '' : md5_file($f['tmp_name'])]; } echo json_encode(['files' => $o, 'post' => $_POST]);`,
	"input.php": `<?php $h = hash_init('md5'); $n = 0; $in = fopen('php://input', 'rb');
while (!feof($in)) { $b = fread($in, 1 << 16); $n += strlen($b); hash_update($h, $b); }
echo $n, ' ', hash_final($h);`,
	"headers.php": `<?php setcookie('a', '1'); setcookie('b', '2', ['path' => '/x', 'httponly' => true]);
header('X-Custom: yes'); header('Cache-Control: no-store'); echo 'ok';`,
	"status.php":    `<?php http_response_code(404); echo 'missing';`,
	"redirect.php":  `<?php header('Location: /elsewhere'); `,
	"nocontent.php": `<?php http_response_code(204); echo 'dropped';`,
	"sleep.php":     `<?php sleep((int)$_GET['s']); echo 'slept';`,
	"big.php": `<?php $c = str_repeat('0123456789abcdef', 4096); $n = (int)$_GET['mb'] * 16;
for ($i = 0; $i < $n; $i++) { echo $c; }`,
	"stderr.php": `<?php error_log('line one'); error_log("line two\nline three"); echo 'done';`,
	"flush.php": `<?php echo "first\n"; flush(); $f = $_GET['f'];
for ($i = 0; $i < 1000 && !file_exists($f); $i++) { usleep(10000); } echo file_exists($f) ? "second\n" : "timeout\n";`,
	"index.php":         `<?php echo 'front|', $_SERVER['REQUEST_URI'], '|', $_SERVER['SCRIPT_NAME'], '|', $_SERVER['PATH_INFO'] ?? '-', '|', $_SERVER['QUERY_STRING'], '|', isset($_SERVER['PATH_TRANSLATED']) ? 'pt' : '-';`,
	"sub/index.php":     `<?php echo 'sub index|', $_SERVER['SCRIPT_NAME'];`,
	"sub/a.php":         `<?php echo 'a|', $_SERVER['SCRIPT_NAME'], '|', $_SERVER['PATH_INFO'];`,
	"dir.php/inner.php": `<?php echo 'inner';`,
	"static.txt":        "plain file\n",
	".git/x.php":        `<?php echo 'hidden';`,
	"empty/":            "",
}

// phpFixture writes the site under a fresh root, with a secret and a script
// outside it and symlinks inside it that point out, and starts php-fpm.
func phpFixture(t *testing.T, maxRequests int) (root string, f *fpm) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "www")
	writeFiles(t, root, phpSite)
	writeFiles(t, base, map[string]string{"outside.php": `<?php echo 'SECRET';`, "outdir/x.php": `<?php echo 'SECRET';`})
	if err := os.Symlink("../outside.php", filepath.Join(root, "evil.php")); err != nil {
		t.Fatal(err)
	}
	os.Symlink("../outdir", filepath.Join(root, "evildir"))
	os.Symlink("sub/a.php", filepath.Join(root, "inlink.php")) // stays inside: allowed
	return root, startFPM(t, maxRequests)
}

func newPHP(t *testing.T, cfg Config) *Handler {
	t.Helper()
	cfg.PHP = true
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestPHP runs the gateway end to end: client → gatehouse's HTTP server →
// this handler → php-fpm.
func TestPHP(t *testing.T) {
	root, fpm := phpFixture(t, 0)
	logs := &logBuffer{}
	h := newPHP(t, Config{Root: root, Upstream: upstream.Config{Addrs: []string{fpm.sock}, MaxConns: 2}, Logger: logs.Logger()})
	st, err := static.New(static.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addr := serve(t, tryThen(h, st), logs, shttp.Config{})
	base := "http://" + addr
	c := client(t)

	t.Run("variables", func(t *testing.T) {
		resp, body := do(t, c, "GET", base+"/sub/a.php/x/y%20z?q=1&r=%41", nil, "X-Test: hello", "Proxy: http://evil.example/", "Cookie: a=1", "Cookie: b=2")
		if resp.StatusCode != 200 || body != "a|/sub/a.php|/x/y z" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		resp, body = do(t, c, "GET", base+"/env.php?q=1&r=%41", nil, "X-Test: hello", "Proxy: http://evil.example/", "Cookie: a=1", "Cookie: b=2")
		var env map[string]any
		if err := json.Unmarshal([]byte(body), &env); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v %q", resp.StatusCode, err, body)
		}
		want := map[string]string{
			"SCRIPT_NAME": "/env.php", "PATH_INFO": "", "REQUEST_URI": "/env.php?q=1&r=%41", "QUERY_STRING": "q=1&r=%41",
			"SCRIPT_FILENAME": filepath.Join(root, "env.php"), "DOCUMENT_ROOT": root, "HTTP_X_TEST": "hello",
			"HTTP_COOKIE": "a=1; b=2", "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1",
			"REMOTE_ADDR": "127.0.0.1", "SERVER_SOFTWARE": "gatehouse", "PHP_SELF": "/env.php", "CONTENT_LENGTH": "", // no body: no CONTENT_LENGTH (RFC 3875 §4.1.2)
		}
		for k, v := range want {
			if got, _ := env[k].(string); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		// httpoxy (CVE-2016-5385): a Proxy field must not become HTTP_PROXY.
		if _, ok := env["HTTP_PROXY"]; ok {
			t.Error("HTTP_PROXY reached PHP")
		}
		if _, ok := env["PATH_TRANSLATED"]; ok {
			t.Error("PATH_TRANSLATED without PATH_INFO")
		}
	})

	t.Run("front controller", func(t *testing.T) {
		for target, want := range map[string]string{
			"/blog/2024/hello?page=2": "front|/blog/2024/hello?page=2|/index.php||page=2|-",
			"/":                       "front|/|/index.php|||-",
			"/empty/":                 "front|/empty/|/index.php|||-",
			"/static.txt/more":        "front|/static.txt/more|/index.php|||-",
		} {
			resp, body := do(t, c, "GET", base+target, nil)
			if resp.StatusCode != 200 || body != want {
				t.Errorf("%s: %d %q, want %q", target, resp.StatusCode, body, want)
			}
		}
	})

	t.Run("directories and files", func(t *testing.T) {
		resp, body := do(t, c, "GET", base+"/sub/", nil)
		if resp.StatusCode != 200 || body != "sub index|/sub/index.php" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		resp, _ = do(t, c, "GET", base+"/sub?x=1", nil)
		if resp.StatusCode != 301 || resp.Header.Get("Location") != "/sub/?x=1" {
			t.Fatalf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		// An existing file that is not a script is never sent to php-fpm: the
		// handler returns web.ErrNotFound and the static backend serves it.
		resp, body = do(t, c, "GET", base+"/static.txt", nil)
		if resp.StatusCode != 200 || body != "plain file\n" || resp.Header.Get("X-Powered-By") != "" {
			t.Fatalf("static: %d %q %v", resp.StatusCode, body, resp.Header)
		}
		resp, body = do(t, c, "GET", base+"/dir.php/inner.php", nil)
		if resp.StatusCode != 200 || body != "inner" {
			t.Fatalf("directory named .php: %d %q", resp.StatusCode, body)
		}
		resp, body = do(t, c, "GET", base+"/inlink.php/p", nil)
		if resp.StatusCode != 200 || body != "a|/inlink.php|/p" {
			t.Fatalf("symlink inside the root: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("refused before php-fpm", func(t *testing.T) {
		before := fpm.requests()
		for target, status := range map[string]int{
			"/missing.php":        404,
			"/missing.php/extra":  404,
			"/sub/missing.php":    404,
			"/evil.php":           404, // symlink out of the root
			"/evildir/x.php":      404,
			"/.git/x.php":         404,
			"/static.txt/x.php":   404,
			"/env.php/%0a":        400,
			"/env.php/%0d%0aX":    400,
			"/env.php/a%00b":      400,
			"/a%5c..%5cenv.php":   400,
			"/sub/%2e%2e/env.php": 400,
		} {
			resp, body := do(t, c, "GET", base+target, nil)
			if resp.StatusCode != status || strings.Contains(body, "SECRET") {
				t.Errorf("%s: %d %q, want %d", target, resp.StatusCode, body, status)
			}
		}
		do(t, c, "GET", base+"/status.php", nil)
		fpm.waitRequests(t, before+1) // only that one
	})

	// CVE-2019-11043: a newline in PATH_INFO underflowed php-fpm's buffer.
	// Sent raw, as an attacker would, without a client normalising it.
	t.Run("CVE-2019-11043", func(t *testing.T) {
		for _, target := range []string{
			"/index.php/PHP%0Ais_the_shittiest_lang.php?" + strings.Repeat("Q", 1500),
			"/env.php/%0a%0d?a=b",
			"/sub/a.php/x%0ay",
			"/env.php/%zz",
			"/env.php/%0",
		} {
			got := raw(t, addr, "GET "+target+" HTTP/1.1\r\nHost: a\r\nD-Pisos: 8"+strings.Repeat("=", 1000)+"D\r\nEbut: mamku tvoyu\r\nConnection: close\r\n\r\n")
			if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
				t.Errorf("%.60s: %.40q", target, got)
			}
		}
	})

	t.Run("form POST", func(t *testing.T) {
		form := url.Values{"name": {"gatehouse"}, "list[]": {"a", "b"}, "empty": {""}}
		resp, body := do(t, c, "POST", base+"/post.php", strings.NewReader(form.Encode()), "Content-Type: application/x-www-form-urlencoded")
		if resp.StatusCode != 200 || body != `{"empty":"","list":["a","b"],"name":"gatehouse"}` {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	})

	t.Run("chunked POST is spooled", func(t *testing.T) {
		form := "name=chunked&x=" + strings.Repeat("y", 100<<10)
		// An io.Reader of unknown length: net/http sends it chunked.
		resp, body := do(t, c, "POST", base+"/post.php", io.MultiReader(strings.NewReader(form)), "Content-Type: application/x-www-form-urlencoded")
		if resp.StatusCode != 200 || !strings.HasPrefix(body, `{"name":"chunked","x":"yyy`) || len(body) < 100<<10 {
			t.Fatalf("%d %.80q", resp.StatusCode, body)
		}
	})

	t.Run("file upload", func(t *testing.T) {
		data := bytes.Repeat([]byte("upload-"), 3<<20/7) // about 3 MiB
		var mp bytes.Buffer
		mw := multipart.NewWriter(&mp)
		mw.WriteField("title", "a file")
		fw, _ := mw.CreateFormFile("doc", "big.bin")
		fw.Write(data)
		mw.Close()
		resp, body := do(t, c, "POST", base+"/upload.php", &mp, "Content-Type: "+mw.FormDataContentType())
		sum := md5.Sum(data)
		want := fmt.Sprintf(`{"files":{"doc":{"name":"big.bin","size":%d,"error":0,"md5":"%s"}},"post":{"title":"a file"}}`, len(data), hex.EncodeToString(sum[:]))
		if resp.StatusCode != 200 || body != want {
			t.Fatalf("%d %q\nwant %q", resp.StatusCode, body, want)
		}
	})

	t.Run("headers and cookies", func(t *testing.T) {
		resp, body := do(t, c, "GET", base+"/headers.php", nil)
		cookies := resp.Header.Values("Set-Cookie")
		if resp.StatusCode != 200 || body != "ok" || resp.Header.Get("X-Custom") != "yes" ||
			resp.Header.Get("Cache-Control") != "no-store" || len(cookies) != 2 ||
			cookies[0] != "a=1" || !strings.Contains(cookies[1], "path=/x") || !strings.Contains(cookies[1], "HttpOnly") {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
		if resp.ContentLength != 2 {
			t.Errorf("a small response should have a Content-Length: %d", resp.ContentLength)
		}
	})

	t.Run("status", func(t *testing.T) {
		resp, body := do(t, c, "GET", base+"/status.php", nil)
		if resp.StatusCode != 404 || body != "missing" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		resp, _ = do(t, c, "GET", base+"/redirect.php", nil)
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "/elsewhere" {
			t.Fatalf("redirect: %d %v", resp.StatusCode, resp.Header)
		}
		resp, body = do(t, c, "GET", base+"/nocontent.php", nil)
		if resp.StatusCode != 204 || body != "" {
			t.Fatalf("204: %d %q", resp.StatusCode, body)
		}
		resp, body = do(t, c, "HEAD", base+"/headers.php", nil)
		if resp.StatusCode != 200 || body != "" || resp.Header.Get("X-Custom") != "yes" {
			t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("stderr", func(t *testing.T) {
		resp, body := do(t, c, "GET", base+"/stderr.php?x=1", nil)
		if resp.StatusCode != 200 || body != "done" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		// php-fpm joins the messages of a request ("PHP message: a; PHP
		// message: b"); each line it sends is one log line.
		var lines []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `msg="fastcgi stderr"`) && strings.Contains(l, `target="/stderr.php?x=1"`) {
				lines = append(lines, l)
			}
		}
		if len(lines) != 2 || !strings.Contains(lines[0], "line one") || !strings.Contains(lines[0], "line two") ||
			!strings.Contains(lines[1], `line="line three"`) {
			t.Errorf("stderr lines: %q", lines)
		}
	})

	t.Run("streamed as produced", func(t *testing.T) {
		flag := filepath.Join(t.TempDir(), "go")
		resp, err := c.Get(base + "/flush.php?f=" + url.QueryEscape(flag))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 6)
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
			t.Fatalf("%q %v", buf, err)
		}
		// The script waits for this file: the first line arrived while it ran.
		os.WriteFile(flag, nil, 0o644)
		rest, _ := io.ReadAll(resp.Body)
		if string(rest) != "second\n" {
			t.Fatalf("%q", rest)
		}
	})

	t.Run("kept connections", func(t *testing.T) {
		before := fpm.requests()
		for range 20 {
			if resp, _ := do(t, c, "GET", base+"/status.php", nil); resp.StatusCode != 404 {
				t.Fatal(resp.StatusCode)
			}
		}
		fpm.waitRequests(t, before+20)
		if st := h.pool.Stats()[0]; st.Open > 2 || st.Idle < 1 {
			t.Fatalf("%+v", st)
		}
	})
}

func TestPHPTimeout(t *testing.T) {
	root, fpm := phpFixture(t, 0)
	logs := &logBuffer{}
	h := newPHP(t, Config{Root: root, Upstream: upstream.Config{Addrs: []string{fpm.sock}, MaxConns: 2},
		ReadTimeout: 300 * time.Millisecond, Logger: logs.Logger()})
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	start := time.Now()
	resp, _ := do(t, c, "GET", "http://"+addr+"/sleep.php?s=2", nil)
	if resp.StatusCode != 504 || time.Since(start) > 1500*time.Millisecond {
		t.Fatalf("%d after %v", resp.StatusCode, time.Since(start))
	}
	if !strings.Contains(logs.String(), "timed out") {
		t.Errorf("log: %s", logs.String())
	}
	// The timed-out connection was closed, not kept.
	if st := h.pool.Stats()[0]; st.Open != 0 {
		t.Fatalf("%+v", st)
	}
	// The other child answers meanwhile.
	if resp, body := do(t, c, "GET", "http://"+addr+"/status.php", nil); resp.StatusCode != 404 || body != "missing" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	// Timeout bounds the whole exchange, even while output trickles.
	h2 := newPHP(t, Config{Root: root, Pool: h.pool, Timeout: 200 * time.Millisecond})
	addr2 := serve(t, h2, logs, shttp.Config{})
	if resp, _ := do(t, c, "GET", "http://"+addr2+"/sleep.php?s=1", nil); resp.StatusCode != 504 {
		t.Fatalf("Timeout: %d", resp.StatusCode)
	}
}

// php-fpm killed: 502 while it is down, and the next request after a new
// php-fpm listens on the same socket succeeds.
func TestPHPRestart(t *testing.T) {
	root, fpm := phpFixture(t, 0)
	logs := &logBuffer{}
	h := newPHP(t, Config{Root: root, Upstream: upstream.Config{Addrs: []string{fpm.sock}, MaxConns: 2}, Logger: logs.Logger()})
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	url := "http://" + addr + "/status.php"
	if resp, _ := do(t, c, "GET", url, nil); resp.StatusCode != 404 {
		t.Fatal(resp.StatusCode)
	}
	if st := h.pool.Stats()[0]; st.Idle != 1 {
		t.Fatalf("no kept connection: %+v", st)
	}
	fpm.kill(t)
	for i := range 3 {
		if resp, _ := do(t, c, "GET", url, nil); resp.StatusCode != 502 {
			t.Fatalf("down, request %d: %d", i, resp.StatusCode)
		}
	}
	fpm.start(t)
	for i := range 3 {
		if resp, body := do(t, c, "GET", url, nil); resp.StatusCode != 404 || body != "missing" {
			t.Fatalf("after restart, request %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

// Children that exit after every request close their kept connections:
// requests still succeed, by the liveness check or by the one retry.
func TestPHPMaxRequests(t *testing.T) {
	root, fpm := phpFixture(t, 1)
	logs := &logBuffer{}
	h := newPHP(t, Config{Root: root, Upstream: upstream.Config{Addrs: []string{fpm.sock}, MaxConns: 2}, Logger: logs.Logger()})
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	for i := range 30 {
		form := "name=n" + strconv.Itoa(i)
		resp, body := do(t, c, "POST", "http://"+addr+"/post.php", strings.NewReader(form), "Content-Type: application/x-www-form-urlencoded")
		if resp.StatusCode != 200 || body != `{"name":"n`+strconv.Itoa(i)+`"}` {
			t.Fatalf("request %d: %d %q\n%s", i, resp.StatusCode, body, logs.String())
		}
	}
}

// patternReader yields n bytes of a fixed pattern, hashing them, without
// holding them.
type patternReader struct {
	left int64
	pos  int
	sum  hash.Hash
}

const pattern = "gatehouse streams bodies, it never holds them whole. "

func (p *patternReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && int64(n) < p.left {
		k := copy(b[n:min(len(b), n+int(p.left))], pattern[p.pos:])
		p.pos = (p.pos + k) % len(pattern)
		n += k
	}
	p.left -= int64(n)
	p.sum.Write(b[:n])
	return n, nil
}

// heapWatch samples the Go heap in use until stopped and returns the peak
// above the level at its start.
func heapWatch() (stop func() uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak.Load()
	}
}

// A 100 MiB upload and a 48 MiB response pass through without the gateway
// holding them: the heap (client, server and gateway share this process)
// stays far below their size.
func TestPHPLargeBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 150 MiB")
	}
	root, fpm := phpFixture(t, 0)
	logs := &logBuffer{}
	h := newPHP(t, Config{Root: root, Upstream: upstream.Config{Addrs: []string{fpm.sock}, MaxConns: 2}, Logger: logs.Logger()})
	addr := serve(t, h, logs, shttp.Config{})
	c := client(t)
	const limit = 24 << 20

	t.Run("upload", func(t *testing.T) {
		const size = 100 << 20
		src := &patternReader{left: size, sum: md5.New()}
		req, _ := http.NewRequest("POST", "http://"+addr+"/input.php", src)
		req.ContentLength = size
		req.Header.Set("Content-Type", "application/octet-stream")
		stop := heapWatch()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		peak := stop()
		want := fmt.Sprintf("%d %x", size, src.sum.Sum(nil))
		if resp.StatusCode != 200 || string(body) != want {
			t.Fatalf("%d %q, want %q", resp.StatusCode, body, want)
		}
		t.Logf("heap peak +%d KiB for a %d MiB upload", peak>>10, size>>20)
		if peak > limit {
			t.Fatalf("heap grew by %d MiB", peak>>20)
		}
	})

	t.Run("response", func(t *testing.T) {
		const mb = 48
		stop := heapWatch()
		resp, err := c.Get("http://" + addr + "/big.php?mb=" + strconv.Itoa(mb))
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.New()
		n, err := io.Copy(sum, resp.Body)
		resp.Body.Close()
		peak := stop()
		if err != nil || resp.StatusCode != 200 || n != mb<<20 {
			t.Fatalf("%d: %d bytes, %v", resp.StatusCode, n, err)
		}
		expect := md5.New()
		chunk := strings.Repeat("0123456789abcdef", 4096)
		for range mb * 16 {
			io.WriteString(expect, chunk)
		}
		if !bytes.Equal(sum.Sum(nil), expect.Sum(nil)) {
			t.Fatal("body differs")
		}
		t.Logf("heap peak +%d KiB for a %d MiB response", peak>>10, mb)
		if peak > limit {
			t.Fatalf("heap grew by %d MiB", peak>>20)
		}
		if resp.ContentLength != -1 || len(resp.TransferEncoding) == 0 {
			t.Errorf("a streamed response is chunked: %d %v", resp.ContentLength, resp.TransferEncoding)
		}
	})
}
