// Package hsts sends a site's Strict-Transport-Security field (RFC 6797):
// a browser that has seen it over https goes to the site over https only,
// for max-age seconds, so a network attacker can no longer strip TLS from
// the first request a user types as http:// (the sslstrip attack, RFC 6797
// §2.3.1). The value is the configuration's, checked there (config's
// checkHSTS).
//
// The field goes only on responses to requests that came over https
// (Request.Scheme: a TLS listener, or a listener declared https behind a
// TLS proxy), never over plain http: RFC 6797 §7.2 forbids it there, where
// an attacker could forge or strip it anyway. It goes on every response
// of the site, error pages included (web.WithHeader), and first: where an
// application sends its own field too, browsers heed the first (§8.1).
package hsts

import "gatehouse/web"

// Field is the name of the field.
const Field = "Strict-Transport-Security"

// Wrap returns next sending value as Strict-Transport-Security on its
// https responses.
func Wrap(value string, next web.Handler) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if r.Scheme() != "https" {
			return next.ServeHTTP(w, r)
		}
		w.Header().Set(Field, value)
		return web.WithHeader(next.ServeHTTP(w, r), Field, value)
	})
}
