package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/proto/cookie"
)

// keyFile writes a key made by gatehouse keygen and returns its path.
func keyFile(t *testing.T) string {
	t.Helper()
	out, _, err := runCLI("keygen")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cookie.ParseKeys([]byte(out)); err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("keygen printed %q: %v", out, err)
	}
	f := filepath.Join(t.TempDir(), "gatehouse.key")
	if err := os.WriteFile(f, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestKeygen(t *testing.T) {
	a, _, _ := runCLI("keygen")
	b, _, _ := runCLI("keygen")
	if a == b {
		t.Fatal("two keys alike")
	}
	if _, _, err := runCLI("keygen", "extra"); exitCode(err) != 2 {
		t.Fatalf("keygen with an argument: %v", err)
	}
}

// The session and CSRF flags build the tables of the equivalent file.
func TestSecurityFlagsMeanTheFile(t *testing.T) {
	key := keyFile(t)
	head := "[[listen]]\naddr = \"127.0.0.1:8000\"\n[[site]]\n"
	route := "  [[site.route]]\n  path = \"/\"\n  demo = true\n"
	for _, c := range []struct {
		args []string
		file string
	}{
		{[]string{"--csrf"}, head + "[site.csrf]\n" + route},
		{[]string{"--session-store", "memory", "--session-pass", "user", "--session-pass", "role"},
			head + "[site.session]\nstore = \"memory\"\npass = [\"user\", \"role\"]\n" + route},
		{[]string{"--csrf-tokens", "--session-store", "redis://127.0.0.1:6379/0"},
			head + "[site.session]\nstore = \"redis://127.0.0.1:6379/0\"\n[site.csrf]\ntokens = \"session\"\n" + route},
		{[]string{"--csrf", "--csrf-tokens", "--session-key", key},
			head + "[site.csrf]\ntokens = \"double-submit\"\nkey_file = \"" + key + "\"\n" + route},
		{[]string{"--session-store", "cookie", "--session-key", key},
			head + "[site.session]\nstore = \"cookie\"\nkey_file = \"" + key + "\"\n" + route},
	} {
		args := append([]string{"--demo", "--http", "127.0.0.1:8000"}, c.args...)
		flagsMeanFile(t, args, c.file, true)
	}
}

func TestSecurityFlagErrors(t *testing.T) {
	key := keyFile(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--csrf-tokens"}, "--csrf-tokens keeps tokens in a session"},
		{[]string{"--session-pass", "user"}, "--session-pass applies to sessions"},
		{[]string{"--session-key", key}, "--session-key seals"},
		{[]string{"--session-store", "memory", "--session-key", key}, "--session-key seals"},
		{[]string{"--session-store", "cookie"}, "needs key_file"},
		{[]string{"--session-store", "mysql://x"}, "is not memory, cookie or a Redis URL"},
	} {
		_, _, err := runCLI(append([]string{"serve", "--demo"}, c.args...)...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.args, err, c.want)
		}
	}
	// A key file that is missing or holds no key stops the start, with the
	// keygen hint.
	empty := filepath.Join(t.TempDir(), "empty.key")
	os.WriteFile(empty, []byte("# no key yet\n"), 0o600)
	for _, f := range []string{empty, filepath.Join(t.TempDir(), "missing.key")} {
		_, stderr, err := runCLI("serve", "--demo", "--http", freeAddr(t), "--session-store", "cookie", "--session-key", f)
		if err == nil || !strings.Contains(err.Error()+stderr, "gatehouse keygen") {
			t.Errorf("%s: %v %s", f, err, stderr)
		}
	}
}

// A key file others may read starts, with a warning that says so.
func TestKeyFileModeWarning(t *testing.T) {
	key := keyFile(t)
	os.Chmod(key, 0o644)
	p := start(t, "--demo", "--session-store", "cookie", "--session-key", key)
	if log := p.stderr.String(); !strings.Contains(log, "key file readable by others") || !strings.Contains(log, "chmod 600") {
		t.Fatalf("no warning:\n%s", log)
	}
}
