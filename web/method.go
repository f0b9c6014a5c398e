package web

import (
	"strings"

	"gatehouse/internal/httpspec"
)

// Request methods gatehouse serves. RFC 9110 §9 and PATCH (RFC 5789); the WebDAV
// methods (RFC 4918) pass through to applications that implement them.
const (
	MethodGet     = "GET"
	MethodHead    = "HEAD"
	MethodPost    = "POST"
	MethodPut     = "PUT"
	MethodDelete  = "DELETE"
	MethodOptions = "OPTIONS"
	MethodPatch   = "PATCH"
	MethodConnect = "CONNECT"
	MethodTrace   = "TRACE"
)

// InternMethod returns the method's constant string, without allocating, and true
// when m is a method the server knows; "" and false otherwise. Any other token
// is answered 501 (RFC 9110 §9.1). The list, and why TRACE and CONNECT are on
// it, is internal/httpspec's.
func InternMethod(m []byte) (string, bool) {
	switch string(m) { // the compiler does not allocate for a switch on string(b)
	case MethodGet:
		return MethodGet, true
	case MethodHead:
		return MethodHead, true
	case MethodPost:
		return MethodPost, true
	}
	return httpspec.Method(m)
}

// Allow wraps h so that it only sees the listed methods. OPTIONS is answered with
// 204 and an Allow field; HEAD is allowed whenever GET is; any other method gets
// 405 with Allow (RFC 9110 §15.5.6).
func Allow(h Handler, methods ...string) Handler {
	list := append([]string(nil), methods...)
	has := func(m string) bool {
		for _, x := range list {
			if x == m {
				return true
			}
		}
		return false
	}
	ownOptions := has(MethodOptions) // the handler answers OPTIONS itself
	if has(MethodGet) && !has(MethodHead) {
		list = append(list, MethodHead)
	}
	if !ownOptions {
		list = append(list, MethodOptions)
	}
	allow := strings.Join(list, ", ")
	return HandlerFunc(func(w ResponseWriter, r *Request) error {
		m := r.Method()
		if m == MethodOptions && !ownOptions {
			w.Header().Set("Allow", allow)
			w.WriteHeader(204)
			return nil
		}
		for _, x := range list {
			if x == m {
				return h.ServeHTTP(w, r)
			}
		}
		return MethodNotAllowed(allow)
	})
}
