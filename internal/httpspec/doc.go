// Package httpspec holds the HTTP rules that more than one layer checks, each
// written once: the token grammar (RFC 9110 §5.6.2), which the codecs parse
// with and the configuration validates field names with, and the request
// methods gatehouse knows (RFC 9110 §9, RFC 5789, RFC 4918), which the server
// serves and a route's method list may name.
//
// It sits at layer 0 so that config (which may import nothing else of
// gatehouse) and the packages that own the rules (proto/http1, web) share it.
package httpspec
