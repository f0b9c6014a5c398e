// Package h2 serves HTTP/2 (RFC 9113) by handing connections to Go's own
// HTTP/2 server in net/http: gatehouse never writes or forks HTTP/2. Frames,
// HPACK (RFC 7541), flow control, stream limits and the denial-of-service
// defences (Rapid Reset, CONTINUATION floods, control-frame floods) are
// net/http's, and are fixed where Go fixes them.
//
// The connection dispatcher (server/dispatch.go) hands over two kinds of
// connection: TLS connections whose handshake chose "h2" by ALPN (RFC 7301),
// and, on an endpoint that opts in, plain connections that begin with the
// HTTP/2 client preface (h2c with prior knowledge, RFC 9113 §3.3; see
// SniffPreface). Each endpoint has one internal http.Server, fed through a
// listener whose Accept returns the connections the dispatcher pushes; its
// handler is web/nethttp's HTTPHandler, so every route sees the requests of
// an HTTP/2 stream as it sees those of HTTP/1.1. "Upgrade: h2c" (RFC 7540
// §3.2, removed by RFC 9113) is never honoured.
//
// This is the one package under serve/ that imports net/http
// (internal/archtest keeps the exception to it).
package h2
