package web

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Error is an error with the HTTP status it should be answered with.
type Error struct {
	Status int    // HTTP status code
	Err    error  // the cause, for the log; never shown to the client
	Allow  string // for 405: the methods the resource supports
	// RetryAfter, in seconds, is sent as Retry-After with 503 and 429; 0 omits it.
	RetryAfter int
	// Headers are sent with the error response, such as Content-Range with 416
	// or WWW-Authenticate with 401.
	Headers [][2]string
}

func (e *Error) Error() string {
	text := strconv.Itoa(e.Status) + " " + StatusText(e.Status)
	if e.Err != nil {
		return text + ": " + e.Err.Error()
	}
	return text
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus reports the status for e.
func (e *Error) HTTPStatus() int { return e.Status }

// Errorf returns an *Error with status and a formatted cause (%w wraps).
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Err: fmt.Errorf(format, args...)}
}

// Logged marks err as already logged by the handler that returns it (a
// gateway logs its failures itself, rate-limited, with what it knows of
// them): the server answers it as any error, by its status, and logs it
// again only at debug level. Logged(nil) is nil.
func Logged(err error) error {
	if err == nil || IsLogged(err) {
		return err
	}
	return &loggedError{err}
}

// IsLogged reports whether err was marked by Logged.
func IsLogged(err error) bool {
	var le *loggedError
	return errors.As(err, &le)
}

type loggedError struct{ err error }

// WithHeader returns err, answered with the field name: value on its error
// page too (the server discards the fields a handler set before it
// failed; see WriteError), for a middleware whose field belongs on every
// response, such as Strict-Transport-Security. WithHeader(nil, ...) is nil.
func WithHeader(err error, name, value string) error {
	if err == nil {
		return nil
	}
	return &headerError{err, name, value}
}

type headerError struct {
	err         error
	name, value string
}

func (e *headerError) Error() string { return e.err.Error() }
func (e *headerError) Unwrap() error { return e.err }

func (e *loggedError) Error() string { return e.err.Error() }
func (e *loggedError) Unwrap() error { return e.err }

// Common errors for handlers to return.
var (
	ErrBadRequest   = &Error{Status: 400}
	ErrForbidden    = &Error{Status: 403}
	ErrNotFound     = &Error{Status: 404}
	ErrUnavailable  = &Error{Status: 503}
	ErrBadGateway   = &Error{Status: 502}
	ErrGatewayTime  = &Error{Status: 504}
	ErrTooLarge     = &Error{Status: 413}
	ErrNotSupported = &Error{Status: 501}
)

// MethodNotAllowed returns a 405 error listing the allowed methods ("GET, HEAD").
func MethodNotAllowed(allow string) error { return &Error{Status: 405, Allow: allow} }

// statusCoder is implemented by errors that know their status, such as codec errors
// from proto/* (which cannot import this package).
type statusCoder interface{ HTTPStatus() int }

// StatusClientClosed is the status access logs record for a request whose
// connection ended before it was answered (the client went away, or the
// server was force-closed): nginx's 499. It is never sent.
const StatusClientClosed = 499

// StatusOf maps an error to the status code it is answered with. This is the one
// place that mapping lives:
//
//   - nil: 200
//   - an error with an HTTPStatus method (*Error, codec errors): that status
//   - context.DeadlineExceeded: 504 (an upstream or worker took too long)
//   - os.ErrDeadlineExceeded (a client read timed out): 408
//   - fs.ErrNotExist: 404; fs.ErrPermission: 403
//   - anything else: 500
func StatusOf(err error) int {
	if err == nil {
		return 200
	}
	var sc statusCoder
	if errors.As(err, &sc) {
		if s := sc.HTTPStatus(); s >= 100 && s <= 999 {
			return s
		}
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 408
	case errors.Is(err, context.DeadlineExceeded):
		return 504
	case errors.Is(err, os.ErrNotExist):
		return 404
	case errors.Is(err, os.ErrPermission):
		return 403
	}
	return 500
}

// ErrorPages maps statuses to HTML pages a site renders errors with.
type ErrorPages map[int][]byte

// RenderError renders err for r: with the page r's site set for its status (see
// Request.SetErrorPages) when there is one, else as WriteError does. Servers call
// it when a handler returns an error before writing anything.
func RenderError(w ResponseWriter, r *Request, err error) {
	if r != nil && r.errorPages != nil {
		if page, ok := r.errorPages[StatusOf(err)]; ok {
			writeError(w, err, "text/html; charset=utf-8", page)
			return
		}
	}
	WriteError(w, err)
}

// WriteError renders err as a short plain-text response: the status from StatusOf,
// Allow for 405, Retry-After when set. Headers the handler set before failing are
// discarded, except those WithHeader added to err. The body never includes
// err's text, which may hold internal detail.
func WriteError(w ResponseWriter, err error) {
	status := StatusOf(err)
	writeError(w, err, "text/plain; charset=utf-8", []byte(strconv.Itoa(status)+" "+StatusText(status)+"\n"))
}

func writeError(w ResponseWriter, err error, contentType string, body []byte) {
	status := StatusOf(err)
	h := w.Header()
	h.Reset()
	var e *Error
	if errors.As(err, &e) {
		if status == 405 && e.Allow != "" {
			h.Set("Allow", e.Allow)
		}
		if e.RetryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
		}
		for _, kv := range e.Headers {
			h.Add(kv[0], kv[1])
		}
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if he, ok := e.(*headerError); ok {
			h.Add(he.name, he.value)
		}
	}
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}
