// Package web is gatehouse's handler vocabulary: Request, Header, ResponseWriter,
// Handler and Middleware, typed values middleware keeps on a request (Key), and
// the single place where errors become status codes (StatusOf, WriteError).
//
// It does not import net/http: net/http compatibility lives in web/nethttp, so only
// code that uses it pays for it.
//
// Lifetimes: a *Request and its ResponseWriter are owned by the server and reused.
// They, and every []byte they return, are valid only until ServeHTTP returns. Copy
// what you keep (Request.Clone, bytes.Clone, string(b)).
package web
