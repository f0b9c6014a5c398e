package wsgi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/internal/testserve"
	"gatehouse/internal/testutil"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// python returns the system interpreter, which has Flask from Debian
// (scripts/deps.sh installs python3-flask).
func python(t testing.TB) string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 is not installed: run scripts/deps.sh test")
	}
	return p
}

type logBuffer = testutil.LogBuffer

// testFile is served by the /file route (wsgi.file_wrapper).
var testFileData = func() []byte {
	b := make([]byte, 1<<20+123)
	for i := range b {
		b[i] = byte(i*7 + i>>11)
	}
	return b
}()

type fixture struct {
	pool *Pool
	logs *logBuffer
	url  string
	addr string
}

// start runs a pool for cfg (App defaulting to the validated test app) behind
// a real gatehouse HTTP/1.1 server on 127.0.0.1.
func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	logs := &logBuffer{}
	dir, _ := filepath.Abs("testdata")
	file := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(file, testFileData, 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg.App == "" {
		cfg.App = "apps:validated"
	}
	cfg.Python = python(t)
	if cfg.Chdir == "" {
		cfg.Chdir = dir
	}
	cfg.Env = append(cfg.Env, "TEST_FILE="+file)
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f := &fixture{pool: p, logs: logs}
	f.addr = serve(t, p, cfg.Logger)
	f.url = "http://" + f.addr
	return f
}

func serve(t *testing.T, h web.Handler, log *slog.Logger) string {
	t.Helper()
	return testserve.HTTP(t, h, shttp.Config{Logger: log, MaxBodyBytes: 8 << 20})
}

func client() *http.Client {
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(b)
}

func closeIdle(c *http.Client) { c.Transport.(*http.Transport).CloseIdleConnections() }

// Every route of the test application runs behind wsgiref.validate, which
// raises on any PEP 3333 violation by gatehouse (the environ, the input and
// error streams, start_response, iteration, close): a 200 means it held.
func TestValidatedApp(t *testing.T) {
	f := start(t, Config{Threads: 2})
	c := client()
	defer closeIdle(c)

	resp, body := get(t, c, f.url+"/hello")
	if resp.StatusCode != 200 || body != "Hello, world" || resp.ContentLength != 12 {
		t.Fatalf("GET /hello: %d %q len=%d", resp.StatusCode, body, resp.ContentLength)
	}
	if resp.Header.Get("Content-Type") != "text/plain" || resp.Header.Get("Server") == "" || resp.Header.Get("Date") == "" {
		t.Errorf("headers: %v", resp.Header)
	}

	req, _ := http.NewRequest("HEAD", f.url+"/hello", nil)
	hr, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != 200 || hr.ContentLength != 12 {
		t.Errorf("HEAD: %d len=%d", hr.StatusCode, hr.ContentLength)
	}

	// Bodies: declared length, chunked, larger than one frame and one read.
	for _, size := range []int{0, 1, 7000, 65536, 3<<20 + 17} {
		payload := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
		for _, chunked := range []bool{false, true} {
			var rd io.Reader = bytes.NewReader(payload)
			if chunked {
				rd = io.MultiReader(rd) // hides the length: net/http sends it chunked
			}
			req, _ := http.NewRequest("POST", f.url+"/echo", rd)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(got, payload) || resp.Header.Get("X-Length") != strconv.Itoa(size) {
				t.Errorf("echo size=%d chunked=%v: %d, %d bytes back", size, chunked, resp.StatusCode, len(got))
			}
		}
	}

	_, body = get(t, c, f.url+"/stream?n=50")
	var want strings.Builder
	for i := range 50 {
		fmt.Fprintf(&want, "chunk %d\n", i)
	}
	if body != want.String() {
		t.Errorf("stream: %q", body)
	}
	if _, body = get(t, c, f.url+"/write"); body != "written returned" {
		t.Errorf("write callable: %q", body)
	}
	resp, body = get(t, c, f.url+"/status")
	if resp.StatusCode != 418 || body != "teapot" || len(resp.Header.Values("Set-Cookie")) != 2 {
		t.Errorf("status: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ = get(t, c, f.url+"/empty"); resp.StatusCode != 204 {
		t.Errorf("empty: %d", resp.StatusCode)
	}
	if resp, _ = get(t, c, f.url+"/nowhere"); resp.StatusCode != 404 {
		t.Errorf("app 404: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", f.url+"/lines", strings.NewReader("one\ntwo\nthree"))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "3|three" {
		t.Errorf("readlines: %q", b)
	}
	if s := f.logs.String(); strings.Contains(s, "raised") || strings.Contains(s, "AssertionError") {
		t.Errorf("wsgiref.validate complained:\n%s", s)
	}
}

// The environ holds the CGI variables, the wsgi.* keys and the client's fields.
func TestEnviron(t *testing.T) {
	f := start(t, Config{Workers: 1, Threads: 3, ScriptName: "/app"})
	c := client()
	defer closeIdle(c)
	req, _ := http.NewRequest("GET", f.url+"/app/env?x=1&y=%C3%A9", nil)
	req.Header.Set("X-Custom", "v1")
	resp2, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp2.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(f.addr)
	want := map[string]any{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/app", "PATH_INFO": "/env", "QUERY_STRING": "x=1&y=%C3%A9",
		"SERVER_NAME": host, "SERVER_PORT": port, "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_X_CUSTOM": "v1",
		"REMOTE_ADDR": "127.0.0.1", "REQUEST_URI": "/app/env?x=1&y=%C3%A9", "wsgi.url_scheme": "http",
		"wsgi.multithread": true, "wsgi.input_terminated": true, "SERVER_SOFTWARE": "gatehouse",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %v, want %v", k, env[k], v)
		}
	}
	if _, ok := env["CONTENT_LENGTH"]; ok {
		t.Errorf("CONTENT_LENGTH set for a request without a body")
	}
	if resp, _ := get(t, c, f.url+"/elsewhere"); resp.StatusCode != 404 {
		t.Errorf("outside the mount point: %d", resp.StatusCode)
	}
}

// RFC 9112 §3.2.2 through a real gateway: the authority of an absolute-form
// target is the application's HTTP_HOST and SERVER_NAME, never the Host field
// sent beside it (an application building password-reset links from the host
// would be poisoned), and REQUEST_URI is the origin form, as nginx passes it.
func TestEnvironAbsoluteForm(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain"})
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "GET http://shop.example/env?x=1 HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("%d: %v", resp.StatusCode, err)
	}
	want := map[string]any{"HTTP_HOST": "shop.example", "SERVER_NAME": "shop.example", "REQUEST_URI": "/env?x=1",
		"PATH_INFO": "/env", "QUERY_STRING": "x=1"}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %v, want %v", k, env[k], v)
		}
	}
}

// The HTTP strictness rules hold in front of a WSGI application as on any
// handler: what the server refuses never reaches Python, and an HTTP/1.0 client
// that sends Expect: 100-continue gets no 1xx (RFC 9110 §15.2).
func TestStrictHTTPInFront(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain"})
	cases := []struct {
		name, raw string
		status    int
		body      string
	}{
		{"HTTP/1.0 with Expect: 100-continue", "POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello", 200, "hello"},
		{"UTF-8 in the target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
		{"overlong UTF-8 in the target", "GET /\xc0\xafhello HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
		{"empty Host", "GET /hello HTTP/1.1\r\nHost:\r\n\r\n", 400, ""},
		{"fragment", "GET /hello#x HTTP/1.1\r\nHost: a\r\n\r\n", 400, ""},
		{"CONNECT", "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n", 501, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(conn, c.raw)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || c.body != "" && string(b) != c.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, b, c.status, c.body)
			}
		})
	}
}

// Requests from many clients at once get their own answers: nothing crosses
// between requests served by the same thread or worker.
func TestConcurrentNoCrossing(t *testing.T) {
	f := start(t, Config{Workers: 2, Threads: 2})
	c := client()
	defer closeIdle(c)
	var wg sync.WaitGroup
	var bad atomic.Int32
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				msg := fmt.Sprintf("client %d request %d %s", g, i, strings.Repeat("z", (g*i)%5000))
				resp, err := c.Post(f.url+"/echo", "text/plain", strings.NewReader(msg))
				if err != nil {
					bad.Add(1)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != msg {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d of 480 requests got a wrong answer", n)
	}
	st := f.pool.Stats()
	var served int64
	for _, w := range st.Workers {
		served += w.Served
	}
	if served != 480 {
		t.Errorf("served %d, want 480", served)
	}
}

// Requests queued in a worker's pipe behind one that kills the worker never
// ran: they are served by the replacement, and only the crashing one fails.
func TestQueuedBehindACrash(t *testing.T) {
	// A long window: requests queue behind the crash however long it runs.
	f := start(t, Config{Workers: 1, Threads: 1, App: "apps:plain", window: time.Minute})
	c := client()
	defer closeIdle(c)
	results := make(chan string, maxDepth)
	fetch := func(path string) {
		resp, err := c.Get(f.url + path)
		if err != nil {
			results <- path + ": " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && string(b) != "Hello, world" {
			results <- fmt.Sprintf("%s: body %q", path, b)
			return
		}
		results <- fmt.Sprintf("%s: %d", path, resp.StatusCode)
	}
	s := f.pool.snapshot()[0].slots[0]
	go fetch("/crash?after=1")
	waitDepth(t, s, 1)
	for range maxDepth - 1 {
		go fetch("/hello")
	}
	waitDepth(t, s, maxDepth) // all queued in the pipe behind the crash
	got := map[string]int{}
	for range maxDepth {
		got[<-results]++
	}
	want := map[string]int{"/crash?after=1: 502": 1, "/hello: 200": maxDepth - 1}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func waitDepth(t *testing.T, s *slot, n int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.depth.Load() != n {
		if time.Now().After(deadline) {
			t.Fatalf("slot depth %d, want %d", s.depth.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFileWrapper(t *testing.T) {
	f := start(t, Config{Workers: 1})
	c := client()
	defer closeIdle(c)
	resp, body := get(t, c, f.url+"/file")
	if resp.StatusCode != 200 || body != string(testFileData) {
		t.Fatalf("file: %d, %d bytes", resp.StatusCode, len(body))
	}
	_, body = get(t, c, f.url+"/file?offset=1000000")
	if body != string(testFileData[1000000:]) {
		t.Errorf("file from an offset: %d bytes", len(body))
	}
	_, body = get(t, c, f.url+"/filelike")
	if body != "not a real file" {
		t.Errorf("file-like object: %q", body)
	}
	// The descriptor that travelled over the socket is closed after use.
	before := openFDs(t)
	for range 20 {
		get(t, c, f.url+"/file?offset=1048000")
	}
	if after := openFDs(t); after > before+2 {
		t.Errorf("descriptors leak: %d before, %d after", before, after)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// The application's failures: a 500 with the traceback in the log, never a
// broken worker.
func TestApplicationErrors(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain"})
	c := client()
	defer closeIdle(c)
	pid := f.pool.Stats().Workers[0].PID

	resp, body := get(t, c, f.url+"/raise")
	if resp.StatusCode != 500 || strings.Contains(body, "boom") {
		t.Errorf("raise: %d %q (the traceback must not reach the client)", resp.StatusCode, body)
	}
	f.logs.WaitForWithin(t, "RuntimeError: boom before start_response", time.Second)

	// An exception after the first block: if the head has not reached the
	// client yet, a whole 500 replaces the response; if it has, the response
	// is cut short. Never may a truncated body pass for a whole 200.
	r, err := c.Get(f.url + "/raise-after")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err == nil && r.StatusCode != 500 {
		t.Errorf("raise-after: %d %q read without error", r.StatusCode, b)
	}
	f.logs.WaitForWithin(t, "boom mid-stream", time.Second)
	r, err = c.Get(f.url + "/raise-late")
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(r.Body)
	r.Body.Close()
	if err == nil || string(b) != "first part " {
		t.Errorf("raise-late: %d %q, err %v: want the first block, then an incomplete body", r.StatusCode, b, err)
	}

	resp, body = get(t, c, f.url+"/exc-info")
	if resp.StatusCode != 500 || body != "error page" {
		t.Errorf("exc-info: %d %q", resp.StatusCode, body)
	}
	resp, body = get(t, c, f.url+"/bad-header")
	if resp.StatusCode != 500 || resp.Header.Get("Set-Cookie") != "" || body == "never" {
		t.Errorf("header with CRLF: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	f.logs.WaitForWithin(t, "invalid header field", time.Second)
	resp, body = get(t, c, f.url+"/hop")
	if resp.StatusCode != 200 || body != "hop" || resp.Close {
		t.Errorf("hop-by-hop fields from the app: %d %q close=%v", resp.StatusCode, body, resp.Close)
	}
	resp, _ = get(t, c, f.url+"/no-start")
	if resp.StatusCode != 500 {
		t.Errorf("data before start_response: %d", resp.StatusCode)
	}
	get(t, c, f.url+"/log")
	f.logs.WaitForWithin(t, "second line", time.Second)

	if now := f.pool.Stats().Workers[0].PID; now != pid {
		t.Errorf("the worker was replaced (%d → %d): application errors must not cost a worker", pid, now)
	}
	if _, body := get(t, c, f.url+"/hello"); body != "Hello, world" {
		t.Errorf("after the errors: %q", body)
	}
}

func TestFlask(t *testing.T) {
	f := start(t, Config{Workers: 2, App: "flaskapp:app"})
	jar, _ := cookiejar.New(nil)
	c := client()
	c.Jar = jar
	defer closeIdle(c)

	if _, body := get(t, c, f.url+"/"); body != "Hello from Flask" {
		t.Errorf("index: %q", body)
	}
	resp, err := c.Post(f.url+"/json", "application/json", strings.NewReader(`{"a":[1,2,3]}`))
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	if fmt.Sprint(j["got"]) != "map[a:[1 2 3]]" || j["method"] != "POST" {
		t.Errorf("json: %v", j)
	}
	resp, body := get(t, c, f.url+"/user/ann%C3%A9e?x=1")
	if resp.StatusCode != 200 || !strings.Contains(body, `"name":"ann\u00e9e"`) || !strings.Contains(body, `"x":"1"`) {
		t.Errorf("route with UTF-8: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, c, f.url+"/go") // followed by the client
	if resp.Request.URL.Path != "/user/redirected" || !strings.Contains(body, "redirected") {
		t.Errorf("redirect: %s %s", resp.Request.URL, body)
	}
	for i := 1; i <= 3; i++ {
		if _, body := get(t, c, f.url+"/count"); body != strconv.Itoa(i) {
			t.Errorf("session visit %d: %q", i, body)
		}
	}
	resp, _ = get(t, c, f.url+"/cookie")
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "flavour=oatmeal") || !strings.Contains(sc, "HttpOnly") {
		t.Errorf("Set-Cookie: %q", sc)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("note", "hi")
	fw, _ := mw.CreateFormFile("file", "data.bin")
	fw.Write(testFileData[:300000])
	mw.Close()
	resp, err = c.Post(f.url+"/upload", mw.FormDataContentType(), &mp)
	if err != nil {
		t.Fatal(err)
	}
	j = nil
	json.NewDecoder(resp.Body).Decode(&j)
	resp.Body.Close()
	if j["filename"] != "data.bin" || j["size"] != float64(300000) || j["field"] != "hi" {
		t.Errorf("upload: %v", j)
	}
	resp, body = get(t, c, f.url+"/big")
	if len(body) != 65536 || resp.ContentLength != 65536 {
		t.Errorf("big: %d bytes, Content-Length %d", len(body), resp.ContentLength)
	}
	if resp, _ := get(t, c, f.url+"/missing"); resp.StatusCode != 404 {
		t.Errorf("flask 404: %d", resp.StatusCode)
	}
}

// load runs clients against url until stop is closed, counting answers.
type load struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	wg         sync.WaitGroup
}

func runLoad(url string, clients int, stop chan struct{}) *load {
	l := &load{}
	for range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := client()
			defer closeIdle(c)
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != 200 || string(b) != "Hello, world") {
						err = fmt.Errorf("%d %q", resp.StatusCode, b)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					l.failures = append(l.failures, err.Error())
					l.mu.Unlock()
				} else {
					l.ok.Add(1)
				}
			}
		}()
	}
	return l
}

// kill -9 of a worker under load: only its in-flight request fails (502), and
// a new process takes its place within a second.
func TestWorkerKilledUnderLoad(t *testing.T) {
	f := start(t, Config{Workers: 2, App: "apps:plain"})
	stop := make(chan struct{})
	l := runLoad(f.url+"/hello", 6, stop)
	time.Sleep(300 * time.Millisecond)
	victim := f.pool.Stats().Workers[0]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var back time.Duration
	for time.Since(killed) < 3*time.Second {
		st := f.pool.Stats()
		if w := st.Workers[0]; w.PID != victim.PID && w.State == "ready" {
			back = time.Since(killed)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	l.wg.Wait()
	if back == 0 || back > time.Second {
		t.Errorf("replacement ready after %v, want within 1s", back)
	}
	if l.failed.Load() > 1 {
		t.Errorf("%d requests failed (at most the one in flight may): %v", l.failed.Load(), l.failures)
	}
	if l.ok.Load() < 100 {
		t.Errorf("only %d requests served", l.ok.Load())
	}
	t.Logf("served %d, failed %d, replacement ready in %v", l.ok.Load(), l.failed.Load(), back)
}

// A reload under load replaces every worker without a failed request.
func TestReloadUnderLoad(t *testing.T) {
	f := start(t, Config{Workers: 2, App: "apps:plain"})
	old := map[int]bool{}
	for _, w := range f.pool.Stats().Workers {
		old[w.PID] = true
	}
	stop := make(chan struct{})
	l := runLoad(f.url+"/hello", 6, stop)
	time.Sleep(200 * time.Millisecond)
	if err := f.pool.Reload(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	l.wg.Wait()
	if n := l.failed.Load(); n != 0 {
		t.Errorf("%d requests failed during the reload: %v", n, l.failures)
	}
	for _, w := range f.pool.Stats().Workers {
		if old[w.PID] {
			t.Errorf("worker %d still runs the old process %d", w.ID, w.PID)
		}
	}
	t.Logf("served %d during the reload", l.ok.Load())
}

// A request over the timeout: 504, the worker's Python stack in the log, and a
// fresh worker.
func TestTimeout(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain", Timeout: 400 * time.Millisecond})
	c := client()
	defer closeIdle(c)
	pid := f.pool.Stats().Workers[0].PID
	began := time.Now()
	resp, _ := get(t, c, f.url+"/slow?s=10")
	if resp.StatusCode != 504 {
		t.Errorf("status %d, want 504", resp.StatusCode)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("504 took %v", d)
	}
	f.logs.WaitForWithin(t, "over its timeout", time.Second)
	f.logs.WaitForWithin(t, "most recent call first", 2*time.Second) // faulthandler's dump
	f.logs.WaitForWithin(t, "apps.py", time.Second)
	deadline := time.Now().Add(3 * time.Second)
	for {
		if w := f.pool.Stats().Workers[0]; w.PID != pid && w.State == "ready" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the worker was not replaced")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, body := get(t, c, f.url+"/hello"); body != "Hello, world" {
		t.Errorf("after the timeout: %q", body)
	}
}

// Every worker busy past the queue timeout: 503 with Retry-After.
func TestQueueTimeout(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain", QueueTimeout: 200 * time.Millisecond})
	c := client()
	defer closeIdle(c)
	done := make(chan string)
	go func() {
		resp, err := c.Get(f.url + "/slow?s=1")
		if err != nil {
			done <- err.Error()
			return
		}
		resp.Body.Close()
		done <- resp.Status
	}()
	time.Sleep(100 * time.Millisecond)
	resp, _ := get(t, c, f.url+"/hello")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("queued past the timeout: %d Retry-After=%q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if s := <-done; s != "200 OK" {
		t.Errorf("the slow request: %s", s)
	}
}

// A client that goes away mid-stream: the application's iterable is closed,
// and the worker serves the next request.
func TestClientGoesAway(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain"})
	pid := f.pool.Stats().Workers[0].PID
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	if _, err := io.ReadFull(br, make([]byte, 20000)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	f.logs.WaitForWithin(t, "forever closed", 3*time.Second)
	c := client()
	defer closeIdle(c)
	if _, body := get(t, c, f.url+"/hello"); body != "Hello, world" {
		t.Errorf("next request: %q", body)
	}
	if w := f.pool.Stats().Workers[0]; w.PID != pid {
		t.Errorf("worker replaced (%d → %d); a client going away must not cost one", pid, w.PID)
	}
}

func TestMaxRequests(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain", MaxRequests: 3})
	c := client()
	defer closeIdle(c)
	pids := map[string]int{}
	for range 9 {
		resp, body := get(t, c, f.url+"/pid")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		pids[body]++
	}
	if len(pids) < 3 {
		t.Errorf("9 requests with max-requests 3 ran in %d processes: %v", len(pids), pids)
	}
	for pid, n := range pids {
		if n > 3 {
			t.Errorf("process %s served %d requests", pid, n)
		}
	}
}

func TestMaxRSS(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain", MaxRSS: 1 << 20}) // far below any Python
	f.logs.WaitForWithin(t, "over the limit", 3*time.Second)
}

func TestStatsLine(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain", StatsInterval: time.Second})
	f.logs.WaitForWithin(t, "wsgi stats", 3*time.Second)
	if !strings.Contains(f.logs.String(), "worker1=") {
		t.Errorf("stats line without the worker: %s", f.logs.String())
	}
}

// An application that cannot be imported stops Start with Python's own
// message.
func TestImportErrors(t *testing.T) {
	dir, _ := filepath.Abs("testdata")
	for _, tc := range []struct{ app, want string }{
		{"no_such_module:app", "ModuleNotFoundError: No module named 'no_such_module'"},
		{"apps:no_such_app", "AttributeError"},
		{"apps", "application"}, // module alone means module:application
	} {
		t.Run(tc.app, func(t *testing.T) {
			_, err := Start(Config{App: tc.app, Python: python(t), Chdir: dir, Workers: 1,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "cannot load the application") {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	_, err := Start(Config{App: "x:y", Python: "/nonexistent/python3", Workers: 1})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/python3") {
		t.Errorf("missing interpreter: %v", err)
	}
}

// Close ends every worker process.
func TestCloseEndsWorkers(t *testing.T) {
	dir, _ := filepath.Abs("testdata")
	p, err := Start(Config{App: "apps:plain", Python: python(t), Chdir: dir, Workers: 2, Threads: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, w := range p.Stats().Workers {
		pids = append(pids, w.PID)
	}
	p.Close()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("worker %d still runs after Close", pid)
		}
	}
}

// A client that leaves while the application works without output: when the
// application answers, the answer is dropped, the request is logged as
// abandoned (499), and the worker serves the next request.
func TestClientGoneBeforeAnswer(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain"})
	pid := f.pool.Stats().Workers[0].PID
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /slow?s=0.5 HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	conn.Close()
	f.logs.WaitForWithin(t, "request abandoned", 3*time.Second)
	if l := f.logs.String(); !strings.Contains(l, "status=499") {
		t.Fatalf("want status=499 in the log:\n%s", l)
	}
	c := client()
	defer closeIdle(c)
	if _, body := get(t, c, f.url+"/hello"); body != "Hello, world" {
		t.Errorf("next request: %q", body)
	}
	if w := f.pool.Stats().Workers[0]; w.PID != pid {
		t.Errorf("worker replaced (%d → %d)", pid, w.PID)
	}
}

// The application's Content-Length: one valid value frames the response;
// identical repeats are one value (RFC 9110 §8.6 lets a recipient merge them);
// different values, or a value that is not 1*DIGIT, make the response one that
// can be read two ways, or not at all: 502, as from an upstream server, with
// the reason in the log.
func TestResponseContentLength(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain"})
	c := client()
	defer closeIdle(c)
	for _, tc := range []struct {
		query  string
		status int
		length int64
		reason string
	}{
		{"cl=5", 200, 5, ""},
		{"cl=5&cl=5", 200, 5, ""},
		{"cl=5&cl=005", 200, 5, ""},
		{"cl=5&cl=6", 502, 0, "conflicting Content-Length"},
		{"cl=6&cl=5&body=hello!", 502, 0, "conflicting Content-Length"},
		{"cl=5&cl=5&cl=4", 502, 0, "conflicting Content-Length"},
		{"cl=abc", 502, 0, "invalid Content-Length"},
		{"cl=-5", 502, 0, "invalid Content-Length"},
		{"cl=5,5", 502, 0, "invalid Content-Length"},
		{"cl=", 502, 0, "invalid Content-Length"},
		{"cl=99999999999999999999", 502, 0, "invalid Content-Length"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := get(t, c, f.url+"/length?"+tc.query)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if tc.status == 200 {
				if resp.ContentLength != tc.length || len(resp.Header.Values("Content-Length")) != 1 || body != "hello" {
					t.Errorf("Content-Length %d %q, body %q", resp.ContentLength, resp.Header.Values("Content-Length"), body)
				}
				return
			}
			f.logs.WaitForWithin(t, tc.reason, time.Second)
		})
	}
	if _, body := get(t, c, f.url+"/hello"); body != "Hello, world" {
		t.Errorf("after the bad responses: %q", body)
	}
}

// A reload whose new processes cannot import the application (a broken
// deploy) logs why, never that the workers were reloaded, and the old
// workers keep serving.
func TestReloadFailsToImport(t *testing.T) {
	dir := t.TempDir()
	mod := filepath.Join(dir, "reloadapp.py")
	good := "def application(environ, start_response):\n" +
		"    start_response('200 OK', [('Content-Type', 'text/plain')])\n" +
		"    return [b'old code']\n"
	if err := os.WriteFile(mod, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	f := start(t, Config{Workers: 2, App: "reloadapp", Chdir: dir, Env: []string{"PYTHONDONTWRITEBYTECODE=1"}})
	pids := map[int]bool{}
	for _, w := range f.pool.Stats().Workers {
		pids[w.PID] = true
	}
	if err := os.WriteFile(mod, []byte("raise RuntimeError('deployed broken on purpose')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := f.pool.Reload()
	if err == nil || !strings.Contains(err.Error(), "deployed broken on purpose") {
		t.Errorf("Reload: %v, want the import error", err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "deployed broken on purpose") {
		t.Errorf("the reason is not in the log:\n%s", logs)
	}
	if strings.Contains(logs, "reloaded") {
		t.Errorf("a failed reload logged that the workers were reloaded:\n%s", logs)
	}
	if !strings.Contains(logs, "wsgi reload failed") {
		t.Errorf("no line says the reload failed:\n%s", logs)
	}
	c := client()
	defer closeIdle(c)
	for range 4 {
		if resp, body := get(t, c, f.url+"/"); resp.StatusCode != 200 || body != "old code" {
			t.Errorf("after the failed reload: %d %q", resp.StatusCode, body)
		}
	}
	for _, w := range f.pool.Stats().Workers {
		if !pids[w.PID] || w.State != "ready" {
			t.Errorf("worker %d: pid %d %s, want an old process, ready", w.ID, w.PID, w.State)
		}
	}
}

// An application that fails every request the same way (here it raises) is
// logged once at once, with its traceback, then counted: one line per
// interval, not a line per request.
func TestFailuresRateLimited(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain"})
	clock := testutil.NewClock(time.Now())
	f.pool.requests.Now, f.pool.requests.AfterFunc = clock.Now, clock.AfterFunc
	c := client()
	defer closeIdle(c)
	for range 30 {
		if resp, _ := get(t, c, f.url+"/raise"); resp.StatusCode != 500 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	failures := func() []string {
		var out []string
		for _, l := range strings.Split(f.logs.String(), "\n") {
			if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
				out = append(out, l)
			}
		}
		return out
	}
	got := failures()
	if len(got) != 1 || !strings.Contains(got[0], "wsgi application raised") || !strings.Contains(got[0], "boom before start_response") {
		t.Fatalf("30 failed requests: want one line at once, with the traceback; got %d:\n%s", len(got), strings.Join(got, "\n"))
	}
	clock.Advance(lograte.DefaultInterval)
	if got = failures(); len(got) != 2 || !strings.Contains(got[1], "wsgi application raised: 29 more like this in the last 10s") {
		t.Fatalf("after the interval:\n%s", strings.Join(got, "\n"))
	}
}

// TestOutputLevels: what an application writes is logged at the level of
// the event it belongs to, so --log-level warn keeps the tracebacks and
// the timeout's stack dump that an ERROR line announces: stdout at INFO,
// stderr and wsgi.errors at WARN, a Python traceback in either at ERROR,
// and everything a worker writes once its stacks are being dumped at ERROR.
func TestOutputLevels(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain", Timeout: 400 * time.Millisecond})
	c := client()
	defer closeIdle(c)
	for _, path := range []string{"/print", "/stderr-warning", "/stderr-traceback", "/errors-traceback", "/log"} {
		if resp, _ := get(t, c, f.url+path); resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
	}
	get(t, c, f.url+"/slow?s=10")
	f.logs.WaitForWithin(t, "most recent call first", 2*time.Second)
	f.logs.WaitForWithin(t, "caught and printed", time.Second)
	f.logs.WaitForWithin(t, "logged to wsgi.errors", time.Second)
	levels := map[string]string{
		"printed to stdout":                 "INFO",
		"a warning on stderr":               "WARN",
		"second line":                       "WARN",
		"Traceback (most recent call last)": "ERROR",
		"ValueError: caught and printed":    "ERROR",
		"KeyError: 'logged to wsgi.errors'": "ERROR",
		"most recent call first":            "ERROR",
		"apps.py":                           "ERROR",
	}
	lines := strings.Split(f.logs.String(), "\n")
	for text, want := range levels {
		found := false
		for _, l := range lines {
			if !strings.Contains(l, text) || strings.Contains(l, "wsgi application raised") {
				continue
			}
			found = true
			if !strings.Contains(l, "level="+want+" ") {
				t.Errorf("%q logged as %s, want %s", text, l, want)
			}
		}
		if !found {
			t.Errorf("%q not logged:\n%s", text, f.logs.String())
		}
	}
}

// TestWorkerDeathLogged: a worker that dies during a request is logged with
// how it ended (the signal, or its exit status), not as the EOF its pipe
// gave, and its replacement's pid is logged when it is ready.
func TestWorkerDeathLogged(t *testing.T) {
	for _, c := range []struct{ path, exit string }{
		{"/kill-self", "killed by signal 9 (killed)"},
		{"/crash", "exit status 1"},
	} {
		t.Run(c.path, func(t *testing.T) {
			f := start(t, Config{Workers: 1, App: "apps:plain"})
			cl := client()
			defer closeIdle(cl)
			pid := f.pool.Stats().Workers[0].PID
			if resp, _ := get(t, cl, f.url+c.path); resp.StatusCode != 502 {
				t.Fatalf("%d", resp.StatusCode)
			}
			f.logs.WaitForWithin(t, "wsgi worker failed during a request", 2*time.Second)
			f.logs.WaitForWithin(t, fmt.Sprintf("replaces=%d", pid), 5*time.Second)
			logs := f.logs.String()
			if strings.Contains(logs, "err=EOF") || !strings.Contains(logs, fmt.Sprintf("exit=%q", c.exit)) {
				t.Errorf("want exit=%q, not err=EOF:\n%s", c.exit, logs)
			}
			now := f.pool.Stats().Workers[0].PID
			if now == pid || !strings.Contains(logs, fmt.Sprintf("msg=\"wsgi worker replaced\" worker=1 pid=%d replaces=%d", now, pid)) {
				t.Errorf("the replacement's pid %d is not logged:\n%s", now, logs)
			}
		})
	}
}

// TestWorkerTitle: in ps a worker reads as what it is, not as the exec
// one-liner that starts it: its name (comm, what top shows) and its command
// line.
func TestWorkerTitle(t *testing.T) {
	f := start(t, Config{Workers: 1, App: "apps:plain"})
	pid := f.pool.Stats().Workers[0].PID
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		t.Fatal(err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimRight(strings.ReplaceAll(string(cmdline), "\x00", " "), " ")
	if strings.TrimSpace(string(comm)) != "gatehouse-wsgi" || line != "gatehouse-wsgi worker 1: apps:plain" {
		t.Errorf("comm %q, cmdline %q", comm, line)
	}
}

// TestImportErrorNamesInterpreter: when the application does not import,
// the error says which Python tried (python3 on PATH may not be the one
// with the application's packages) and how to choose another.
func TestImportErrorNamesInterpreter(t *testing.T) {
	dir, _ := filepath.Abs("testdata")
	py := python(t)
	_, err := Start(Config{App: "no_such_module:app", Python: py, Chdir: dir, Workers: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	real, _ := filepath.EvalSymlinks(py)
	if err == nil || !strings.Contains(err.Error(), "with the Python at "+real) ||
		!strings.Contains(err.Error(), "--python") || !strings.Contains(err.Error(), "--venv") {
		t.Errorf("err = %v", err)
	}
}
