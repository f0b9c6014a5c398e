package http1

import "strconv"

// AppendStatusLine appends "HTTP/1.1 code reason\r\n" (RFC 9112 §4). A server sends
// its own version, HTTP/1.1, also to HTTP/1.0 clients (RFC 9110 §6.2).
func AppendStatusLine(dst []byte, code int, reason string) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ' ')
	dst = append(dst, reason...)
	return append(dst, "\r\n"...)
}

// AppendField appends "name: value\r\n". Callers validate name and value; see
// AppendFieldSafe for values from handlers.
func AppendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendFieldBytes is AppendField for byte slices.
func AppendFieldBytes(dst []byte, name, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

// AppendFieldSafe appends a field whose value came from a handler: any CR, LF, NUL or
// other CTL is replaced by a space, so a value can never end the field early
// (response splitting). It reports false, appending nothing, when name is not a token.
func AppendFieldSafe(dst []byte, name, value []byte) ([]byte, bool) {
	if !IsToken(name) {
		return dst, false
	}
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	start := len(dst)
	dst = append(dst, value...)
	for i := start; i < len(dst); i++ {
		if class[dst[i]]&cValue == 0 {
			dst[i] = ' '
		}
	}
	return append(dst, "\r\n"...), true
}

// AppendChunkHeader appends the chunk-size line for a chunk of n > 0 bytes.
func AppendChunkHeader(dst []byte, n int) []byte {
	dst = strconv.AppendUint(dst, uint64(n), 16)
	return append(dst, "\r\n"...)
}

// LastChunk ends a chunked body that has no trailer fields.
const LastChunk = "0\r\n\r\n"

// BodyAllowed reports whether a response with this status may carry content
// (RFC 9110 §6.4.1, §15.3.5, §15.4.5).
func BodyAllowed(status int) bool {
	return status >= 200 && status != 204 && status != 304
}
