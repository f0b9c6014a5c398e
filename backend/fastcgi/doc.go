// Package fastcgi is the FastCGI gateway: a web.Handler that runs requests
// through a FastCGI application (php-fpm, or any Responder of the FastCGI
// Specification 1.0) over connections from an upstream.Pool. The codec is
// gatehouse/proto/fcgi; the variables are gatehouse/proto/cgienv's
// (RFC 3875 §4.1, plus REQUEST_URI, DOCUMENT_ROOT and SCRIPT_FILENAME), so
// Proxy never becomes HTTP_PROXY (httpoxy).
//
// # One exchange
//
// BEGIN_REQUEST (Responder role, FCGI_KEEP_CONN unless NoKeepConn, spec
// §5.1), the variables as PARAMS (§5.2), then the body as STDIN (§5.3): the
// first 64 KiB go with the request in one write, the rest is streamed from a
// goroutine as the client sends it, while the response is read, since an
// application may answer before reading all of its input. A body of unknown
// length (chunked) is spooled first, up to MaxSpoolBytes, in memory up to
// 64 KiB and then in an unlinked temporary file, and sent with
// CONTENT_LENGTH: PHP reads no body without it (nginx does the same).
//
// STDOUT starts with a CGI response head (RFC 3875 §6), parsed by
// fcgi.ParseHead up to MaxHeadBytes: Status gives the status (302 for a
// Location without it), the other fields are sent on except hop-by-hop ones.
// The rest of STDOUT is written to the client as it arrives and flushed
// whenever the gateway would otherwise wait for the application: responses
// are never held whole. STDERR is logged line by line with the request.
// END_REQUEST ends the response; FCGI_OVERLOADED and FCGI_CANT_MPX_CONN are
// 503, other refusals 502.
//
// A connection is kept for the next request only when the exchange ended
// exactly after END_REQUEST with the whole body sent. A request that fails on
// a kept connection before any answer, and before any body beyond the first
// write was read from the client, is sent once more on a new connection:
// php-fpm closes kept connections when a child exits (pm.max_requests).
//
// Errors (rendered by the server): the application down, a broken or
// malformed response: 502; no progress within ReadTimeout or WriteTimeout,
// or the whole exchange over Timeout: 504; the pool's queue timeout: 503
// with Retry-After. On a timeout, a client that went away, or any error, the
// connection is closed rather than sent ABORT_REQUEST: php-fpm does not act
// on ABORT_REQUEST while a script runs, but a closed connection makes its
// next write fail and ends the script (unless it set ignore_user_abort).
//
// # PHP mode
//
// With Config.PHP, the path below Prefix names a script under Root, as
// nginx's usual try_files $uri $uri/ /index.php?$query_string with
// fastcgi_split_path_info ^(.+?\.php)(/.*)$ does. The decoded path is
// checked, then:
//
//  1. A malformed escape, a control byte (CR or LF above all: a newline in
//     PATH_INFO is CVE-2019-11043), a dot segment or a backslash: 400.
//  2. The first segment ending in ".php" that is not a directory ends the
//     script: "/a/b.php/c/d" runs Root/a/b.php with SCRIPT_NAME
//     Prefix+"/a/b.php" and PATH_INFO "/c/d". If that script is not a
//     regular file inside Root: 404, and php-fpm is not asked. Files are
//     looked up through os.Root, which refuses symlinks that lead out of
//     Root, so SCRIPT_FILENAME never names a file outside it. A script path
//     through a directory whose name starts with '.' (other than
//     .well-known) is 404 too.
//  3. Without a ".php" segment: a regular file returns web.ErrNotFound
//     itself, having written nothing (see below). A directory with Index
//     runs it (after a 301 adding the final slash when missing). Anything
//     else (no such file) runs Fallback (Root/index.php by default) with
//     SCRIPT_NAME Prefix+"/index.php", no PATH_INFO, and REQUEST_URI and
//     QUERY_STRING as the request had them; without a fallback: 404.
//
// The contract for the wiring: errors.Is(err, web.ErrNotFound) holds only
// for case 3's existing non-script file, which no FastCGI application should
// be asked for; every other 404 is a distinct error. So a route that tries
// this handler first and, on that error, the static backend for the same
// root serves a PHP site as nginx would: scripts run, files are sent as
// files (never executed), and unknown paths reach the front controller.
//
// Without PHP mode every request goes to the one application: SCRIPT_NAME
// is the mount point, PATH_INFO the rest of the path, SCRIPT_FILENAME
// Config.Script.
//
// File map: config.go (Config), handler.go (New, ServeHTTP, the request
// records), script.go (PHP mode), exchange.go (one exchange on a
// connection), body.go (spooling), stderr.go (STDERR lines).
package fastcgi
