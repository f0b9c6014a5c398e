package fastcgi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/upstream"
	"gatehouse/web"
	"gatehouse/web/webtest"
)

var resolveSite = map[string]string{
	"index.php": "", "a.php": "", "sub/index.php": "", "sub/b.php": "", "file.txt": "",
	"dir.php/": "", ".hidden/x.php": "", ".well-known/w.php": "", "nodir/": "", "front/app.php": "",
}

// resolver returns a PHP-mode handler over a fresh copy of resolveSite, with
// a pool nothing listens on (these tests never reach an application).
func resolver(t testing.TB, cfg Config) (*Handler, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "www")
	writeFiles(t, root, resolveSite)
	os.WriteFile(filepath.Join(filepath.Dir(root), "out.php"), nil, 0o644)
	os.Symlink("../out.php", filepath.Join(root, "out.php"))
	cfg.Root, cfg.PHP = root, true
	cfg.Upstream = upstream.Config{Addrs: []string{"unix:" + filepath.Join(t.TempDir(), "none.sock")}}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, root
}

func TestResolve(t *testing.T) {
	h, _ := resolver(t, Config{})
	cases := []struct {
		key   string
		want  string // scriptName, file, internal
		err   error
		redir string
	}{
		{"/a.php", "/a.php a.php false", nil, ""},
		{"/a.php/x/y", "/a.php a.php false", nil, ""},
		{"/a.php/", "/a.php a.php false", nil, ""},
		{"//sub//b.php/p", "//sub//b.php sub/b.php false", nil, ""},
		{"/sub/", "/sub/index.php sub/index.php true", nil, ""},
		{"/", "/index.php index.php true", nil, ""},
		{"/missing", "/index.php index.php true", nil, ""},
		{"/file.txt/x", "/index.php index.php true", nil, ""},
		{"/dir.php/", "/index.php index.php true", nil, ""},
		{"/nodir/", "/index.php index.php true", nil, ""},
		{"/a.PHP", "/index.php index.php true", nil, ""},
		{"/.well-known/w.php", "/.well-known/w.php .well-known/w.php false", nil, ""},
		{"/sub", "", nil, "/p/sub/?q=1"},
		{"", "", nil, "/p/?q=1"},
		{"/file.txt", "", web.ErrNotFound, ""},
		{"/missing.php", "", errNoScript, ""},
		{"/missing.php/x", "", errNoScript, ""},
		{"/file.txt/a.php", "", errNoScript, ""},
		{"/out.php", "", errNoScript, ""},
		{"/.hidden/x.php", "", errHidden, ""},
		{"/sub/../a.php", "", errBadPath, ""},
		{"/./a.php", "", errBadPath, ""},
		{"/a\\b.php", "", errBadPath, ""},
	}
	for _, c := range cases {
		tg, err := h.resolve(c.key, "/p", []byte("q=1"))
		got := ""
		if err == nil && tg.location == "" {
			got = tg.scriptName + " " + tg.file + " " + map[bool]string{true: "true", false: "false"}[tg.internal]
		}
		if err != c.err || got != c.want || tg.location != c.redir {
			t.Errorf("%q: %q %q %v, want %q %q %v", c.key, got, tg.location, err, c.want, c.redir, c.err)
		}
	}

	h2, _ := resolver(t, Config{Fallback: "-"})
	if _, err := h2.resolve("/missing", "", nil); err != errNoFile {
		t.Errorf("no fallback: %v", err)
	}
	h3, _ := resolver(t, Config{Fallback: "front/app.php", Index: "a.php"})
	if tg, err := h3.resolve("/x/y", "", nil); err != nil || tg.scriptName != "/front/app.php" || !tg.internal {
		t.Errorf("custom fallback: %+v %v", tg, err)
	}
	if tg, err := h3.resolve("/", "", nil); err != nil || tg.file != "a.php" {
		t.Errorf("custom index: %+v %v", tg, err)
	}
}

// The handler refuses bad paths and missing scripts itself: the pool here
// leads nowhere, so any request that reached it would be a 502.
func TestRefusedWithoutApplication(t *testing.T) {
	h, _ := resolver(t, Config{Prefix: "/p/"})
	for target, status := range map[string]int{
		"/p/a.php/%0a":    400,
		"/p/a.php/x%0dy":  400,
		"/p/a.php/%00":    400,
		"/p/a.php/%zz":    400,
		"/p/%2e%2e/a.php": 400,
		"/p/missing.php":  404,
		"/p/file.txt":     404,
		"/other/a.php":    404,
		"/p":              301,
		"/p/a.php":        502, // reaches the (absent) application
	} {
		w := webtest.NewRecorder()
		err := webtest.Serve(h, w, webtest.NewRequest("GET", target, nil))
		if w.Code != status {
			t.Errorf("%s: %d (%v), want %d", target, w.Code, err, status)
		}
	}
	w := webtest.NewRecorder()
	if err := h.ServeHTTP(w, webtest.NewRequest("GET", "/p/file.txt", nil)); !errors.Is(err, web.ErrNotFound) {
		t.Errorf("existing file: %v, want web.ErrNotFound itself", err)
	}
	if err := h.ServeHTTP(w, webtest.NewRequest("GET", "/p/missing.php", nil)); errors.Is(err, web.ErrNotFound) {
		t.Error("a missing script must not fall through to the static backend")
	}
}

func TestNewErrors(t *testing.T) {
	good := upstream.Config{Addrs: []string{"unix:/nonexistent"}}
	for name, cfg := range map[string]Config{
		"no root in PHP mode": {PHP: true, Upstream: good},
		"missing root":        {PHP: true, Root: "/nonexistent/www", Upstream: good},
		"no address":          {},
		"bad prefix":          {Prefix: "app", Upstream: good},
		"prefix with escape":  {Prefix: "/a%2f", Upstream: good},
		"index with slash":    {Index: "a/index.php", Upstream: good},
		"fallback escapes":    {Fallback: "../x.php", Upstream: good},
		"fallback absolute":   {Fallback: "/x.php", Upstream: good},
		"param with CR":       {Params: [][2]string{{"PHP_VALUE", "a=1\r\nb=2"}}, Upstream: good},
		"param with NUL":      {Params: [][2]string{{"PHP_VALUE", "a=1\x00"}}, Upstream: good},
		"param without name":  {Params: [][2]string{{"", "x"}}, Upstream: good},
		"param name with =":   {Params: [][2]string{{"A=B", "x"}}, Upstream: good},
	} {
		h, err := New(cfg)
		if err == nil {
			h.Close()
			t.Errorf("%s: accepted", name)
		} else if pe := (*ParamError)(nil); strings.HasPrefix(name, "param") && !errors.As(err, &pe) {
			t.Errorf("%s: %v is not a ParamError", name, err)
		}
	}
	// php-fpm reads PHP_VALUE as settings one per line.
	h, err := New(Config{Params: [][2]string{{"PHP_VALUE", "upload_max_filesize=64M\npost_max_size=64M"}}, Upstream: good})
	if err != nil {
		t.Fatalf("a multi-line PHP_VALUE: %v", err)
	}
	h.Close()
}

// FuzzResolve: whatever the path, a script is a regular file inside the root
// whose SCRIPT_NAME is a prefix of the path (or, for an index or the
// fallback, its own name).
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"/a.php/x", "/sub/", "/out.php", "//sub//b.php", "/.hidden/x.php", "/x/../a.php", "/dir.php/y.php", ""} {
		f.Add(s)
	}
	h, root := resolver(f, Config{})
	defer h.Close()
	f.Fuzz(func(t *testing.T, key string) {
		if key != "" && key[0] != '/' {
			key = "/" + key
		}
		if strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return // cgienv.Unescape refuses these before resolve
		}
		tg, err := h.resolve(key, "", nil)
		if err != nil || tg.location != "" {
			return
		}
		if !validName(tg.file) {
			t.Fatalf("%q: file %q", key, tg.file)
		}
		fi, err := h.root.Stat(tg.file)
		if err != nil || !fi.Mode().IsRegular() || !strings.HasSuffix(tg.file, ".php") {
			t.Fatalf("%q: %q is not a script in the root (%v)", key, tg.file, err)
		}
		full := filepath.Join(root, filepath.FromSlash(tg.file))
		if !strings.HasPrefix(full, root+string(filepath.Separator)) {
			t.Fatalf("%q: %s outside %s", key, full, root)
		}
		if !tg.internal && !strings.HasPrefix(key, tg.scriptName) {
			t.Fatalf("%q: SCRIPT_NAME %q is not a prefix", key, tg.scriptName)
		}
	})
}
