// Package uwsgi serves the uwsgi protocol
// (https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html) with web.Handlers,
// so that gatehouse can sit behind nginx's uwsgi_pass (or Apache's
// mod_proxy_uwsgi) the way uWSGI does with --socket.
//
// Each connection carries one request: a packet of CGI/1.1 variables (RFC 3875
// §4.1, as nginx's uwsgi_params sends them) followed by CONTENT_LENGTH bytes of
// body. The variables become a web.Request: the method from REQUEST_METHOD, the
// target from REQUEST_URI (so routing sees what the client sent, as it does over
// HTTP), the header fields from the HTTP_* variables, the client's address from
// REMOTE_ADDR and REMOTE_PORT. The answer is an HTTP/1.1 response (status line,
// fields, body), framed by Content-Length when the length is known and by
// closing the connection otherwise, as uWSGI answers.
//
// Trust: the variables are whatever the peer says, including the client's
// address and HTTPS. Only peers in Config.Allow (loopback by default) and Unix
// sockets are served; anything else is closed with a log line. uWSGI's magic
// variables (UWSGI_SCRIPT, UWSGI_CHDIR, UWSGI_FILE, UWSGI_SCHEME, ...) make
// uWSGI load code or change directory; here they, like every variable that is
// neither a request fact nor HTTP_*, are ignored. HTTP_PROXY never becomes a
// Proxy field (httpoxy, CVE-2016-5385), and HTTP_CONTENT_LENGTH and
// HTTP_TRANSFER_ENCODING are dropped: the body is framed by CONTENT_LENGTH
// alone, and a field disagreeing with it would mislead a handler that relays
// the request.
//
// The codec is gatehouse/proto/uwsgi; this package owns the connection, its
// buffers and deadlines, and the ResponseWriter.
package uwsgi
