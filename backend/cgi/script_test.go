package cgi

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/web"
)

// TestSingleScript: one script mounted at a prefix, as Apache's ScriptAlias
// /git /usr/lib/cgit/cgit.cgi: every path under the prefix runs it, with
// SCRIPT_NAME the prefix and PATH_INFO the rest, so a program such as cgit
// needs no configuration of its own to know where it is mounted.
func TestSingleScript(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cgit.cgi")
	os.WriteFile(file, []byte("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n%s|%s|%s|%s\\n' \"$SCRIPT_NAME\" \"$PATH_INFO\" \"$QUERY_STRING\" \"$SCRIPT_FILENAME\"\n"), 0o755)
	h, err := New(Config{Script: file, Prefix: "/git/"})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if !strings.HasPrefix(string(r.RawPath()), "/git") {
			return web.ErrNotFound
		}
		return h.ServeHTTP(w, r)
	}))
	for _, c := range []struct {
		target, want string
		status       int
	}{
		{"/git/", "/git|/||" + file, 200},
		{"/git", "/git|/||" + file, 200},
		{"/git/repo.git/tree/src?h=main", "/git|/repo.git/tree/src|h=main|" + file, 200},
		{"/git/repo/log/a%20b", "/git|/repo/log/a b||" + file, 200},
		{"/git/repo/../../etc/passwd", "", 400},
		{"/git/repo/%2e%2e/x", "", 400},
		{"/gitx", "", 404},
	} {
		r, body := do(t, addr, "GET", c.target, "")
		if r.StatusCode != c.status || c.status == 200 && body != c.want+"\n" {
			t.Errorf("%s: %d %q, want %d %q", c.target, r.StatusCode, body, c.status, c.want)
		}
	}
}

func TestSingleScriptRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "plain.txt"), []byte("x"), 0o644)
	for _, s := range []string{filepath.Join(dir, "plain.txt"), dir, filepath.Join(dir, "missing")} {
		if _, err := New(Config{Script: s}); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
	if _, err := New(Config{Script: filepath.Join(dir, "plain.txt")}); !errors.Is(err, ErrNotScript) {
		t.Errorf("not executable: %v", err)
	}
}
