package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A response built with the helpers is read back by net/http's client parser.
func TestResponseHelpers(t *testing.T) {
	var b []byte
	b = AppendStatusLine(b, 200, "OK")
	b = AppendField(b, "Content-Type", "text/plain")
	b, ok := AppendFieldSafe(b, []byte("X-Evil"), []byte("a\r\nSet-Cookie: x=1\x00"))
	if !ok {
		t.Fatal("valid name refused")
	}
	if _, ok := AppendFieldSafe(b, []byte("Bad Name"), []byte("v")); ok {
		t.Fatal("invalid name accepted")
	}
	b = AppendFieldBytes(b, []byte("Transfer-Encoding"), []byte("chunked"))
	b = append(b, "\r\n"...)
	for _, chunk := range []string{"hello", strings.Repeat("x", 300)} {
		b = AppendChunkHeader(b, len(chunk))
		b = append(b, chunk...)
		b = append(b, "\r\n"...)
	}
	b = append(b, LastChunk...)
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil || string(body) != "hello"+strings.Repeat("x", 300) {
		t.Fatalf("%q %v", body, err)
	}
	if resp.Header.Get("X-Evil") != "a  Set-Cookie: x=1" || resp.Header.Get("Set-Cookie") != "" {
		t.Fatalf("header injection: %v", resp.Header)
	}
	if !bytes.Contains(b, []byte("\r\n12c\r\n")) {
		t.Fatal("chunk size not in hex")
	}
}

func TestBodyAllowed(t *testing.T) {
	for code, want := range map[int]bool{100: false, 101: false, 200: true, 204: false, 206: true, 304: false, 404: true, 500: true} {
		if BodyAllowed(code) != want {
			t.Errorf("%d: %v", code, !want)
		}
	}
}
