// Package webcgi describes a web.Request for proto/cgienv, so that every gateway
// (CGI, FastCGI, uwsgi, WSGI) builds its variables from the same facts.
package webcgi

import (
	"gatehouse/proto/cgienv"
	"gatehouse/web"
)

// Request returns the cgienv description of r. Its slices are views into r:
// use it before the handler returns.
func Request(r *web.Request) *cgienv.Request {
	return &cgienv.Request{
		Method:     r.Method(),
		Target:     r.Target(),
		Path:       r.RawPath(),
		Query:      r.RawQuery(),
		Host:       r.Host(),
		Proto:      r.Proto(),
		Scheme:     r.Scheme(),
		Fields:     r.Header.All(),
		BodyLength: r.ContentLength(),
		Remote:     r.RemoteAddr(),
		Local:      r.LocalAddr(),
	}
}
