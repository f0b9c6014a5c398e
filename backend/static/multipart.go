package static

import (
	"crypto/rand"
	"os"
	"strconv"

	"gatehouse/web"
)

// multipartBody lays out a multipart/byteranges body (RFC 9110 §14.6, with the
// delimiters of RFC 2046 §5.1.1) for ranges of a representation of size bytes
// and media type ctype:
//
//	--BOUNDARY CRLF
//	Content-Type: ctype CRLF
//	Content-Range: bytes a-b/size CRLF
//	CRLF
//	<bytes a..b> CRLF --BOUNDARY CRLF ...
//	<last part's bytes> CRLF --BOUNDARY-- CRLF
//
// It returns the text before each part's bytes, the closing delimiter, and the
// exact length of the whole body, so that Content-Length is known before the
// first byte is written. Every part carries Content-Range, which §15.3.7.2 says
// the server MUST generate, and the Content-Type a 200 would have had (a SHOULD
// of the same section).
func multipartBody(ranges []byteRange, ctype string, size int64, boundary string) (heads []string, tail string, length int64) {
	heads = make([]string, len(ranges))
	for i, r := range ranges {
		h := "--" + boundary + "\r\n"
		if i > 0 {
			h = "\r\n" + h
		}
		if ctype != "" {
			h += "Content-Type: " + ctype + "\r\n"
		}
		h += "Content-Range: " + r.contentRange(size) + "\r\n\r\n"
		heads[i] = h
		length += int64(len(h)) + r.length
	}
	tail = "\r\n--" + boundary + "--\r\n"
	return heads, tail, length + int64(len(tail))
}

// newBoundary returns a fresh boundary for one response: 26 random base32
// characters (130 bits), all of them bchars (RFC 2046 §5.1.1), so the boundary
// needs no quoting and, being unpredictable, cannot be planted in a file's bytes
// to forge a part.
func newBoundary() string { return rand.Text() }

// sendMultipart writes a 206 whose body is ranges of f as multipart/byteranges.
// Each part's bytes go out by SendFile at their own offset; only the delimiters
// and part headers are written from memory.
func sendMultipart(w web.ResponseWriter, f *os.File, ranges []byteRange, ctype string, size int64) error {
	boundary := newBoundary()
	heads, tail, length := multipartBody(ranges, ctype, size, boundary)
	hdr := w.Header()
	hdr.Set("Content-Type", "multipart/byteranges; boundary="+boundary)
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(206)
	for i, r := range ranges {
		if _, err := w.WriteString(heads[i]); err != nil {
			return err
		}
		if err := w.SendFile(f, r.start, r.length); err != nil {
			return err
		}
	}
	_, err := w.WriteString(tail)
	return err
}
