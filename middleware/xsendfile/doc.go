// Package xsendfile lets a backend answer with a file instead of a body: a
// response carrying X-Sendfile (a file path, as lighttpd and Apache's
// mod_xsendfile take it) or X-Accel-Redirect (a URL path, as nginx takes it)
// is not sent; the named file is served in its place by a files handler
// (a backend/static Handler for that directory, built by the wiring), so
// conditional requests, ranges and sendfile(2) apply, and a large download
// never passes through PHP or Python.
//
// What is decided, and why:
//
//   - Backends name only files under the configured directory (Dir for
//     X-Sendfile, the URL Prefix for X-Accel-Redirect). The value must be a
//     clean path: no "." or ".." segment, no empty segment, no backslash,
//     no control byte, valid UTF-8, and for X-Accel-Redirect no encoded
//     slash. Anything else is refused with 502 Bad Gateway (RFC 9110
//     §15.6.3): the response the gateway received is invalid, whatever the
//     client asked, and an application tricked into naming /etc/passwd
//     must not be told apart from one that is merely broken. The server
//     logs the refusal, value included, on one line. The files handler
//     confines again: os.Root refuses symlinks that lead out of its root.
//   - The file is fetched like nginx's internal redirect: as GET (HEAD stays
//     HEAD), with the request's fields (so If-None-Match, If-Modified-Since,
//     Range and If-Range apply), and the status is the files handler's (200,
//     206, 304, 404 for a missing file...), not the backend's.
//   - The backend's body is discarded. Of its fields, only those in
//     Config.Keep survive (default: Content-Disposition, Cache-Control,
//     Expires, Set-Cookie, Content-Language), replacing the files handler's
//     own, because they describe the download (its file name, its
//     caching, the session) rather than the bytes. Content-Type is not kept
//     by default: PHP sends text/html unless the script sets a type, and the
//     file's name gives a better one; add it to Keep for applications that
//     set the type of the files they name. Validators, lengths and ranges
//     are always the file's.
//   - An X-Accel-Redirect query ("?a=b") is ignored: files take none.
package xsendfile
