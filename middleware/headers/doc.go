// Package headers adds, sets and removes request and response header
// fields by rules, per site and per route: nginx's add_header (with
// "always") and proxy_set_header, Caddy's header directive. A value is a
// template with a few variables ({host}, {remote_ip}, {request_id}, ...;
// see ParseTemplate).
//
// Request rules run before the handler: what they set is what the route's
// middleware and backend see (and what gateways pass on, as HTTP_*
// variables). Response rules run when the response's head goes out, on
// 2xx and 3xx responses, or with Always on every response, the server's
// error pages included, as nginx's "add_header ... always". Each list runs
// remove, then set, then add.
//
// Fields that frame a message (Content-Length, Transfer-Encoding) or belong
// to one connection (Connection, Keep-Alive, TE, Trailer, Upgrade) cannot be
// named: a rule that changed them would make the server and the client (or
// a backend) disagree on where a message ends, which is how requests are
// smuggled (CheckName).
package headers
