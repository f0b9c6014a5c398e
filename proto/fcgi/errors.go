package fcgi

import "errors"

// ErrNeedMore reports that the input ends before the element being parsed does.
// Call again with the same bytes plus more.
var ErrNeedMore = errors.New("fcgi: need more data")

// Error is a FastCGI or CGI-response protocol error in bytes an application
// sent. The connection it came on is in an unknown state and must be closed.
type Error struct {
	Reason string // short lowercase reason, for the log line
}

func (e *Error) Error() string { return "fcgi: " + e.Reason }

// HTTPStatus reports 502: the gateway received an invalid response
// (RFC 9110 §15.6.3). web.StatusOf reads it.
func (e *Error) HTTPStatus() int { return 502 }

func newError(reason string) *Error { return &Error{Reason: reason} }

// Record errors (spec §3).
var (
	ErrVersion = newError("unsupported record version")
	// ErrTooLong is returned by writers for a name or value longer than a
	// 4-byte length can say (§3.4: 31 bits).
	ErrTooLong = newError("name or value longer than 2^31-1 bytes")
	// ErrPairs is a name-value pair cut short at the end of its stream.
	ErrPairs = newError("truncated name-value pair")
)

// Response head errors (RFC 3875 §6).
var (
	ErrHeadTooLarge    = newError("response head too large")
	ErrBareCR          = newError("bare CR in response head")
	ErrFieldName       = newError("invalid field name in response head")
	ErrFieldValue      = newError("invalid character in response field value")
	ErrObsFold         = newError("obsolete line folding in response head")
	ErrStatus          = newError("invalid Status field")
	ErrDuplicateStatus = newError("duplicate Status field")
	ErrContentLength   = newError("invalid or conflicting Content-Length")
	ErrNoHead          = newError("response ended before its head")
)
