// Package static serves files from a directory: GET and HEAD, index files, a
// redirect for directories named without their trailing slash, a built-in media
// type table, and sendfile(2) for large files.
//
// Nothing outside the root is ever served. Request paths are decoded once and
// refused when they hold dot segments, encoded slashes, backslashes, NUL or other
// control bytes, or invalid (including overlong) UTF-8; files are opened through
// os.Root, which also refuses symlinks that lead out of the root.
//
// What it implements of RFC 9110 (HTTP Semantics):
//
//   - validators (§8.8): a strong ETag from the file's modification time and size,
//     and Last-Modified, never later than the response's Date (§8.8.2.1)
//   - HTTP-date in all three formats (§5.6.7)
//   - conditional requests (§13): If-Match, If-Unmodified-Since, If-None-Match,
//     If-Modified-Since and If-Range, evaluated in the order of §13.2.2
//   - range requests (§14): single and multiple byte ranges, multipart/byteranges
//     (§14.6), 416 with Content-Range (§15.5.17), limits against abuse (§17.15)
//   - content negotiation of precompressed sidecar files by Accept-Encoding
//     (§12.5.3) with Vary (§12.5.5)
//
// and RFC 8615 (.well-known) for the dotfile rule.
//
// File map: static.go (Config, routing a path to a file or a directory),
// path.go (request path checks), file.go (answering for one file), etag.go
// (validators and entity-tag lists), date.go (HTTP-date), conditional.go
// (preconditions), ranges.go (the Range field), multipart.go
// (multipart/byteranges), encoding.go (Accept-Encoding and sidecars),
// listing.go (directory listings), mime.go (media types).
package static
