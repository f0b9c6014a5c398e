package fastcgi

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"gatehouse/backend/static"
	"gatehouse/middleware/xsendfile"
	shttp "gatehouse/serve/http1"
	"gatehouse/upstream"
)

// X-Sendfile from PHP: the script names a file in a private directory (its
// path as PHP's realpath gives it), gatehouse sends the file by sendfile with
// ranges, and the script's download fields are kept.
func TestPHPXSendfile(t *testing.T) {
	root, fpm := phpFixture(t, 0)
	private := filepath.Join(filepath.Dir(root), "private")
	os.MkdirAll(private, 0o755)
	data := bytes.Repeat([]byte("private bytes "), 150_000) // about 2 MiB
	os.WriteFile(filepath.Join(private, "report.bin"), data, 0o644)
	writeFiles(t, root, map[string]string{
		"download.php": `<?php $f = realpath(__DIR__ . '/../private/' . $_GET['f']) ?: __DIR__ . '/../private/' . $_GET['f'];
header('X-Sendfile: ' . $f); header('Content-Disposition: attachment; filename="report.bin"'); echo 'not this';`,
		"accel.php": `<?php header('X-Accel-Redirect: /protected/' . rawurlencode($_GET['f'])); header('Cache-Control: private');`,
	})
	logs := &logBuffer{}
	h := newPHP(t, Config{Root: root, Upstream: upstream.Config{Addrs: []string{fpm.sock}, MaxConns: 2}, Logger: logs.Logger()})
	files, err := static.New(static.Config{Root: private})
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	bySendfile, err := xsendfile.New(xsendfile.Config{Dir: private, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	byAccel, err := xsendfile.New(xsendfile.Config{Prefix: "/protected/", Files: files})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t)
	for name, addr := range map[string]string{
		"X-Sendfile":       serve(t, bySendfile(h), logs, shttp.Config{}),
		"X-Accel-Redirect": serve(t, byAccel(h), logs, shttp.Config{}),
	} {
		t.Run(name, func(t *testing.T) {
			script := "/download.php?f="
			if name == "X-Accel-Redirect" {
				script = "/accel.php?f="
			}
			resp, body := do(t, c, "GET", "http://"+addr+script+"report.bin", nil)
			if resp.StatusCode != 200 || body != string(data) || resp.Header.Get("X-Sendfile") != "" ||
				resp.Header.Get("X-Accel-Redirect") != "" || resp.Header.Get("X-Powered-By") != "" {
				t.Fatalf("%d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
			}
			if name == "X-Sendfile" && resp.Header.Get("Content-Disposition") != `attachment; filename="report.bin"` ||
				name == "X-Accel-Redirect" && resp.Header.Get("Cache-Control") != "private" {
				t.Errorf("kept fields: %v", resp.Header)
			}
			resp, body = do(t, c, "GET", "http://"+addr+script+"report.bin", nil, "Range: bytes=1000-1999")
			if resp.StatusCode != 206 || body != string(data[1000:2000]) {
				t.Fatalf("range: %d %q", resp.StatusCode, body[:min(len(body), 40)])
			}
			resp, _ = do(t, c, "GET", "http://"+addr+script+"..%2F..%2Fwww%2Fenv.php", nil)
			if resp.StatusCode != 502 {
				t.Fatalf("traversal: %d", resp.StatusCode)
			}
		})
	}
}
