// Package testutil holds helpers shared by gatehouse's tests: corpus loaders,
// goroutine-leak checks and process helpers. It is imported only from _test files.
package testutil

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// GunicornCase is one request file of gunicorn's parser test suite
// (proto/http1/testdata/gunicorn, MIT, see LICENSE and SOURCE there).
type GunicornCase struct {
	ID       string         `json:"id"`
	RawB64   string         `json:"raw"`
	Settings map[string]any `json:"gunicorn_settings"`
	Error    string         `json:"error"` // invalid cases: the error class gunicorn raises
	Requests []struct {
		Method  string     `json:"method"`
		Target  string     `json:"target"`
		Version [2]int     `json:"version"`
		Headers [][]string `json:"headers"`
		BodyB64 string     `json:"body_b64"`
	} `json:"requests"` // valid cases: what the bytes parse into, in order

	Raw []byte `json:"-"`
}

// Valid reports whether gunicorn accepts the case.
func (c *GunicornCase) Valid() bool { return c.Error == "" }

// Latin1 turns a string decoded from JSON as Latin-1 code points back into the
// original bytes (the corpus was produced by a Python tool decoding bytes as Latin-1).
func Latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

// Body returns the decoded body of request i.
func (c *GunicornCase) Body(i int) []byte {
	b, _ := base64.StdEncoding.DecodeString(c.Requests[i].BodyB64)
	return b
}

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// GunicornCorpus loads valid.jsonl and invalid.jsonl.
func GunicornCorpus(t testing.TB) []*GunicornCase {
	t.Helper()
	dir := filepath.Join(ModuleRoot(t), "proto", "http1", "testdata", "gunicorn")
	var out []*GunicornCase
	for _, name := range []string{"valid.jsonl", "invalid.jsonl"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		for sc.Scan() {
			c := new(GunicornCase)
			if err := json.Unmarshal(sc.Bytes(), c); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if c.Raw, err = base64.StdEncoding.DecodeString(c.RawB64); err != nil {
				t.Fatalf("%s %s: %v", name, c.ID, err)
			}
			out = append(out, c)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 100 {
		t.Fatalf("gunicorn corpus has only %d cases", len(out))
	}
	return out
}

// GunicornLimits maps a case's gunicorn settings (or gunicorn's defaults) onto
// request-line, field-size and field-count limits. A zero field size means gunicorn's
// default, as in gunicorn itself.
func (c *GunicornCase) GunicornLimits() (requestLine, fieldBytes, fields int) {
	requestLine, fieldBytes, fields = 4094, 8190, 100
	num := func(k string) (int, bool) {
		v, ok := c.Settings[k].(float64)
		return int(v), ok
	}
	if v, ok := num("limit_request_line"); ok && v > 0 {
		requestLine = v
	}
	if v, ok := num("limit_request_field_size"); ok && v > 0 {
		fieldBytes = v
	}
	fieldBytes -= 2 // gunicorn counts the CRLF; gatehouse's MaxFieldBytes does not
	if v, ok := num("limit_request_fields"); ok && v > 0 {
		fields = v
	}
	return
}
