// Package http1 is gatehouse's HTTP/1.1 message codec (RFC 9112, with the field and
// semantics rules of RFC 9110 that framing depends on).
//
// It is pure: bytes in, offsets and values out. Nothing here does I/O, starts a
// goroutine or knows about handlers. The parsers are incremental: given a prefix of a
// message they return ErrNeedMore, and the caller calls again with more bytes.
//
// What the codec decides, and why (numbers refer to testdata/rfc9112-rules.md):
//
//   - Lines end in CRLF, everywhere. A bare LF or a bare CR is an error (R1, R2, R21):
//     accepting bare LF in one place and not another is how request smuggling starts.
//   - Exactly one SP separates the parts of the request line (R5). A method longer
//     than any implemented is 501 (R7, RFC 9112 §3). The request-target is visible
//     ASCII without a fragment, and '%' in its path starts two hex digits (RFC 9112
//     §3.2, RFC 3986): what two URL parsers read differently is refused.
//   - Size limits apply to a line before its end is looked at, so a status never
//     depends on how the bytes were cut into reads.
//   - An HTTP/1.1 request whose target needs the Host field may not send it empty
//     (R9, RFC 9110 §4.2.1).
//   - The version is "HTTP/" DIGIT "." DIGIT; HTTP/1.x is served, other well-formed
//     majors get 505 (R6).
//   - Field names are tokens followed directly by ':' (R11, R13); obs-fold and
//     whitespace before the first field are rejected (R3, R12); field values may hold
//     VCHAR, obs-text, SP and HTAB only (R14).
//   - Framing: Content-Length is 1*DIGIT, one field, no list form (R18, R19);
//     Transfer-Encoding must end in chunked (400) and may hold no other coding (501);
//     both together are rejected (R15); Transfer-Encoding in HTTP/1.0 is rejected (R17).
//   - Chunk sizes are 1*16HEXDIG; chunk extensions are parsed, ignored and capped
//     (R20-R22); trailer fields that would change framing, routing or authentication
//     are rejected (R23).
package http1
