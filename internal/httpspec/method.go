package httpspec

// methods are the methods a request may carry to a handler; any other token
// is answered 501 (RFC 9110 §9.1). TRACE is known so that it gets 405 from
// handlers rather than 501, but no built-in handler serves it: it reflects
// credentials (XST). CONNECT is known, and answered 501 by the HTTP server
// before routing (serve/http1): gatehouse is not a forward proxy. The WebDAV
// methods (RFC 4918) pass through to applications that implement them.
//
// The most frequent come first: Method compares in this order.
var methods = [...]string{
	"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH",
}

// Method returns the constant string of m, without allocating, and true when
// m is a method gatehouse knows; "" and false otherwise. Methods are case
// sensitive (RFC 9110 §9.1): "get" is not GET.
func Method(m []byte) (string, bool) {
	for _, k := range methods {
		if string(m) == k {
			return k, true
		}
	}
	return "", false
}

// IsMethod reports whether m is a method gatehouse knows.
func IsMethod(m string) bool {
	for _, k := range methods {
		if m == k {
			return true
		}
	}
	return false
}
