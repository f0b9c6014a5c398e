// Package fcgi is gatehouse's FastCGI codec: the records, name-value pairs and
// stream framing of the FastCGI Specification 1.0 (Mark R. Brown, Open Market,
// 29 April 1996; "the spec" below, cited by section), and the CGI response head
// an application writes on its FCGI_STDOUT stream (RFC 3875 §6).
//
// It is pure, as every proto/* package: bytes in, offsets and values out, no
// I/O, no goroutines. Parsers are incremental: given a prefix they return
// ErrNeedMore and are called again with more bytes.
//
// What the codec decides, and why:
//
//   - Only version 1 records are read (§3.3, FCGI_VERSION_1); another version
//     means the stream is out of step or is not FastCGI.
//   - Stream records (PARAMS, STDIN, STDOUT, STDERR, DATA, §3.3 "stream
//     records") are handed out in fragments as their content arrives, so a
//     reader's buffer need not hold a whole 64 KiB record. Other records
//     ("discrete" in §3.3) are handed out whole.
//   - Writers split content above 65535 bytes (the 16-bit contentLength of
//     §3.3) into several records and pad every record to a multiple of 8
//     bytes, as §3.3 recommends.
//   - Name-value lengths use the 1-byte form below 128 and the 4-byte form
//     from 128 up to 2^31-1 (§3.4); longer names or values cannot be encoded.
//     A 4-byte length below 128 is accepted when read: the spec does not
//     forbid it.
//   - The response head accepts lines ended by LF or CRLF: RFC 3875 §7.2
//     (UNIX) defines the newline as LF and says servers SHOULD also accept
//     CR LF. A CR anywhere else, obs-fold and control bytes in values are
//     errors: the head is sent on to an HTTP client, where they would split
//     or smuggle fields.
//
// Errors are *Error values whose HTTPStatus is 502 (Bad Gateway): whatever
// the codec refuses came from an application behind the gateway.
//
// File map: record.go (types, header, Parser), pairs.go (§3.4 name-value
// pairs), write.go (appending records), head.go (the CGI response head).
package fcgi
