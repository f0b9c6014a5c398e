// Package proxy is a web.Handler that passes requests to HTTP/1.1 upstream
// servers (a Node, Go, Java or Python application, another gatehouse), as
// nginx's proxy_pass and Caddy's reverse_proxy do, with its own client on
// proto/http1.
//
// Requests: the method, target and Host go as they came (Host may be set
// instead); the hop-by-hop fields are removed in the order that stops
// hop-by-hop abuse (the names the Connection field lists, then the fixed
// list, and only then the fields gatehouse adds, so that "Connection:
// X-Forwarded-For" cannot remove what is added); X-Forwarded-For,
// X-Forwarded-Proto and X-Forwarded-Host are set (appended to only when the
// peer is a trusted proxy, see middleware/realip), and RFC 7239 Forwarded
// and Via when asked. The body goes with a Content-Length, or chunked when
// its length is unknown.
//
// Responses are read with proto/http1's strict parser (upstream/relay): a
// response that breaks a rule of RFC 9112 (two framings, a bad status line,
// a bare LF, obs-fold, a head over 64 KiB) is 502, nothing of it reaches
// the client, and its connection is closed and never reused; a body cut
// short by the upstream cuts the client's response too (no clean end of a
// truncated body). Interim responses are skipped; 101 is accepted only for
// the protocol the client asked to switch to and that is allowed
// (websocket by default, never h2c), and the connection then becomes a
// tunnel; any other answer to an upgrade is relayed as a plain response.
//
// One request at a time per upstream connection; a connection goes back to
// the pool only after an exchange that ended exactly (the request all sent,
// the response read to its last byte and nothing after it, no "Connection:
// close").
//
// Retries (research: a request is replayed only when that cannot do harm):
// a request goes to another upstream when nothing was sent to the client
// yet, the failure came before any byte of a response, the body can be
// sent again (none, at most RetryBuffer bytes, or buffered whole by the
// request buffering), and either the request never left (a failed dial: the
// pool moves on by itself) or its method is idempotent (RFC 9110 §9.2.2, or
// an Idempotency-Key field), within Retries and RetryWindow. A kept
// connection that fails that way is retried once on a new one first: the
// upstream may have closed it while it sat idle.
//
// Errors: no upstream reachable, a refused or broken exchange, a malformed
// response: 502; a connect, send or read timeout: 504; every upstream at its
// connection limit past the queue timeout: 503.
package proxy
