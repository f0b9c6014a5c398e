package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCurlDemoKeepAlive(t *testing.T) {
	p := start(t, "--demo")
	base := "http://" + p.addr
	out, errOut, err := curl(t, "-v", base+"/", base+"/healthz")
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	if !strings.Contains(out, "<h1>gatehouse</h1>") || !strings.HasSuffix(out, "ok\n") {
		t.Fatalf("body: %.200q", out)
	}
	// Both requests went over one connection.
	if !strings.Contains(errOut, "Re-using existing connection") || strings.Count(errOut, "Connected to") != 1 {
		t.Fatalf("connection not reused:\n%s", errOut)
	}
	// The access log has both, in combined format.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.stderr.String(), `"GET /healthz HTTP/1.1" 200 3 "-" "curl/`) {
		if time.Now().After(deadline) {
			t.Fatalf("access log:\n%s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCurlEchoAndChunkedUpload(t *testing.T) {
	p := start(t, "--demo", "--access-log-format", "json")
	file := filepath.Join(t.TempDir(), "upload.bin")
	data := strings.Repeat("gatehouse chunked upload\n", 20000) // 500 KB
	os.WriteFile(file, []byte(data), 0o644)
	out, errOut, err := curl(t, "-H", "Transfer-Encoding: chunked", "--data-binary", "@"+file, "http://"+p.addr+"/echo?a=1")
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	var reply struct {
		Method   string      `json:"method"`
		Query    string      `json:"query"`
		Body     string      `json:"body"`
		BodySize int         `json:"body_size"`
		Headers  [][2]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(out), &reply); err != nil {
		t.Fatalf("%v: %.200q", err, out)
	}
	if reply.Method != "POST" || reply.Query != "a=1" || reply.BodySize != len(data) || reply.Body != data {
		t.Fatalf("echo: %s %s %d bytes", reply.Method, reply.Query, reply.BodySize)
	}
	chunked := false
	for _, h := range reply.Headers {
		chunked = chunked || strings.EqualFold(h[0], "Transfer-Encoding") && h[1] == "chunked"
	}
	if !chunked {
		t.Fatalf("the upload was not chunked: %v", reply.Headers)
	}
	// JSON access log line.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.stderr.String(), `"method":"POST","uri":"/echo?a=1"`) {
		if time.Now().After(deadline) {
			t.Fatalf("access log:\n%s", p.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCurlHeadAndOptions(t *testing.T) {
	p := start(t, "--demo")
	get, _, err := curl(t, "-i", "http://"+p.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	head, _, err := curl(t, "-I", "http://"+p.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	field := func(resp, name string) string {
		for _, l := range strings.Split(resp, "\r\n") {
			if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, name) {
				return v
			}
		}
		return ""
	}
	if !strings.HasPrefix(head, "HTTP/1.1 200") || field(head, "Content-Length") == "" ||
		field(head, "Content-Length") != field(get, "Content-Length") || strings.Contains(head, "<h1>") {
		t.Fatalf("HEAD:\n%s", head)
	}
	opts, _, err := curl(t, "-i", "-X", "OPTIONS", "http://"+p.addr+"/")
	if err != nil || !strings.HasPrefix(opts, "HTTP/1.1 204") || field(opts, "Allow") != "GET, HEAD, OPTIONS" {
		t.Fatalf("OPTIONS: %v\n%s", err, opts)
	}
	star, _, err := curl(t, "-i", "-X", "OPTIONS", "--request-target", "*", "http://"+p.addr)
	if err != nil || !strings.HasPrefix(star, "HTTP/1.1 200") || !strings.Contains(field(star, "Allow"), "GET") {
		t.Fatalf("OPTIONS *: %v\n%s", err, star)
	}
	del, _, _ := curl(t, "-i", "-X", "DELETE", "http://"+p.addr+"/")
	if !strings.HasPrefix(del, "HTTP/1.1 405") || field(del, "Allow") != "GET, HEAD, OPTIONS" {
		t.Fatalf("DELETE:\n%s", del)
	}
}

func TestCurlUnixSocket(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "gh.sock")
	tight := filepath.Join(dir, "tight.sock")
	p := start(t, "--demo", "--http", "unix:"+sock, "--http", "unix:"+tight+"", "--unix-mode", "0600")
	out, errOut, err := curl(t, "--unix-socket", sock, "http://localhost/healthz")
	if err != nil || out != "ok\n" {
		t.Fatalf("%v %q %s", err, out, errOut)
	}
	for _, s := range []string{sock, tight} {
		fi, err := os.Lstat(s)
		if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", s, fi.Mode(), err)
		}
	}
	if !strings.Contains(p.stderr.String(), "unix: - - [") {
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(p.stderr.String(), "unix: - - [") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	p.signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket file left after shutdown: %v", err)
	}
}

func TestPipeliningRawSocket(t *testing.T) {
	p := start(t, "--demo", "--access-log", "off")
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"+
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"+
		"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"+
		"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	br := bufio.NewReader(c)
	for i, want := range []struct {
		method string
		status int
		has    string
	}{{"GET", 200, "ok"}, {"POST", 200, `"body": "hello"`}, {"GET", 404, "404 Not Found"}, {"HEAD", 200, ""}} {
		r, err := http.ReadResponse(br, &http.Request{Method: want.method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != want.status || !strings.Contains(string(b), want.has) {
			t.Fatalf("response %d: %d %.100q", i, r.StatusCode, b)
		}
	}
	if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatal("connection not closed after Connection: close")
	}
}

func TestTimeoutsE2E(t *testing.T) {
	p := start(t, "--demo", "--read-header-timeout", "400ms", "--idle-timeout", "400ms", "--access-log", "off")
	// A head that never ends: 408, then close.
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n")
	start := time.Now()
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || r.StatusCode != 408 || !r.Close {
		t.Fatalf("%v %v", r, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 5*time.Second {
		t.Fatalf("408 after %v", d)
	}
	// An idle keep-alive connection is closed after the idle timeout.
	c2, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c2, "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c2)
	r2, err := http.ReadResponse(br, nil)
	if err != nil || r2.StatusCode != 200 {
		t.Fatalf("%v %v", r2, err)
	}
	io.Copy(io.Discard, r2.Body)
	idleStart := time.Now()
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("idle connection sent data")
	}
	if d := time.Since(idleStart); d < 300*time.Millisecond || d > 5*time.Second {
		t.Fatalf("idle close after %v", d)
	}
}

// TestGracefulShutdownSignal: SIGTERM lets an in-flight streamed response finish,
// stops accepting, and exits 0.
func TestGracefulShutdownSignal(t *testing.T) {
	p := start(t, "--demo", "--grace", "20s")
	cmd := exec.Command("curl", "-sS", "-N", "--max-time", "20", "http://"+p.addr+"/stream?n=6&ms=250")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	br := bufio.NewReader(stdout)
	first, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "line 1 of 6") {
		t.Fatalf("%q %v", first, err)
	}
	p.signal(syscall.SIGTERM)
	// New connections are refused promptly.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rest, _ := io.ReadAll(br)
	if lines := strings.Count(first+string(rest), "\n"); lines != 6 || !strings.Contains(string(rest), "line 6 of 6") {
		t.Fatalf("stream cut short by shutdown: %q", first+string(rest))
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("curl: %v", err)
	}
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "msg=stopped") {
		t.Fatalf("no clean stop:\n%s", p.stderr.String())
	}
}

// TestSecondSignalForcesClose: a second signal does not wait for the grace period.
func TestSecondSignalForcesClose(t *testing.T) {
	p := start(t, "--demo", "--grace", "60s")
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /stream?n=1000&ms=100 HTTP/1.1\r\nHost: a\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	p.signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	p.signal(syscall.SIGTERM)
	start := time.Now()
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v after the second signal", d)
	}
	if !strings.Contains(p.stderr.String(), "second signal") {
		t.Fatalf("%s", p.stderr.String())
	}
}

func TestStaticFlag(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("static hello"), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "index.html"), []byte("<p>sub</p>"), 0o644)
	p := start(t, "--static", "/files="+dir, "--demo")
	base := "http://" + p.addr
	checks := []struct{ path, want string }{
		{"/files/hello.txt", "static hello"},
		{"/files/sub/", "<p>sub</p>"},
		{"/healthz", "ok\n"},
	}
	for _, c := range checks {
		out, errOut, err := curl(t, base+c.path)
		if err != nil || out != c.want {
			t.Fatalf("%s: %q %v %s", c.path, out, err, errOut)
		}
	}
	out, _, _ := curl(t, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", base+"/files/sub")
	if out != fmt.Sprintf("301 %s/files/sub/", base) {
		t.Fatalf("directory redirect: %q", out)
	}
	out, _, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", "--path-as-is", base+"/files/../main_test.go")
	if out != "400" {
		t.Fatalf("traversal: %q", out)
	}
}
