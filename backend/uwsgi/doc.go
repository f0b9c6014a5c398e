// Package uwsgi is a web.Handler that forwards requests to a uWSGI server
// (uwsgi --socket) over the uwsgi protocol
// (https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html), as nginx's
// uwsgi_pass does.
//
// A request becomes one packet of CGI/1.1 variables (RFC 3875 §4.1, built by
// proto/cgienv as for every gateway: SCRIPT_NAME and PATH_INFO split at the
// mount point, no HTTP_PROXY: httpoxy, CVE-2016-5385) followed by the body.
// The variables must fit the packet's 16-bit size: a request whose fields do
// not is answered 431, never sent truncated.
//
// uWSGI answers with an HTTP/1.x response, read with proto/http1's response
// parser (strict framing: a response that could be read two ways is 502) and
// streamed to the client: framed by Content-Length, chunked, or the
// connection's end, and sent on whenever uWSGI has nothing more ready, so a
// streamed response is seen as it is produced and a large one is never held
// in memory.
//
// Connections come from an upstream.Pool (balancing over several sockets,
// per-address limits, a queue with a timeout). uWSGI closes a connection
// after its response, so every connection serves one request.
//
// Errors: uWSGI down, a refused connection or a malformed response: 502; a
// connect, send or read timeout: 504; a full queue: 503.
package uwsgi
