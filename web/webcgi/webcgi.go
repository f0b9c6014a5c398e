// Package webcgi describes a web.Request for proto/cgienv, so that every gateway
// (CGI, FastCGI, uwsgi, WSGI) builds its variables from the same facts.
package webcgi

import (
	"gatehouse/proto/cgienv"
	"gatehouse/web"
)

// Request returns the cgienv description of r. Its slices are views into r:
// use it before the handler returns.
//
// BodyLength is -1 (no CONTENT_LENGTH) for a request without a body, as RFC
// 3875 §4.1.2 asks, and the declared length for one with a Content-Length
// field, even 0.
func Request(r *web.Request) *cgienv.Request {
	length := r.ContentLength()
	if length == 0 && !r.Header.Has("Content-Length") {
		length = -1
	}
	return &cgienv.Request{
		Method:     r.Method(),
		Target:     r.Target(),
		Path:       r.RawPath(),
		Query:      r.RawQuery(),
		Host:       r.Host(),
		Proto:      r.Proto(),
		Scheme:     r.Scheme(),
		Fields:     r.Header.All(),
		Vars:       r.PassedVars(),
		BodyLength: length,
		Remote:     r.RemoteAddr(),
		Local:      r.LocalAddr(),
	}
}
