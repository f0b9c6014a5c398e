// Package redirect is the redirect backend: every request is answered with a
// 3xx status (RFC 9110 §15.4) whose Location (§10.2.2) is built from a
// template, as nginx's `return 301 https://$host$request_uri`.
//
// The template's {host}, {path}, {query} and {uri} are replaced by the
// request's, as received: paths and queries stay percent-encoded, so they
// cannot break the Location field.
//
// HTTPS is the redirect of a plain HTTP listener to the TLS one: the same
// host and target, with 308, except the ACME HTTP-01 challenge path.
package redirect
