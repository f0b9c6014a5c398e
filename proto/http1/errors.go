package http1

import "errors"

// ErrNeedMore reports that the input ends before the element being parsed does.
// Call again with the same bytes plus more.
var ErrNeedMore = errors.New("http1: need more data")

// Error is a protocol error in a received message. Status is the response status the
// server answers with; every Error leaves the connection in an unknown state, so the
// server closes it after answering.
type Error struct {
	Status int    // HTTP status code to respond with
	Reason string // short lowercase reason, for the log line
}

func (e *Error) Error() string { return "http1: " + e.Reason }

// HTTPStatus reports the response status for e; web.StatusOf reads it.
func (e *Error) HTTPStatus() int { return e.Status }

func newError(status int, reason string) *Error { return &Error{Status: status, Reason: reason} }

// Request-line errors (RFC 9112 §3).
var (
	ErrBareLF             = newError(400, "line not terminated by CRLF")
	ErrBareCR             = newError(400, "bare CR")
	ErrLeadingBlankLines  = newError(400, "too many blank lines before the request line")
	ErrRequestLine        = newError(400, "malformed request line")
	ErrMethod             = newError(400, "method is not a token")
	ErrMethodTooLong      = newError(501, "method longer than any implemented") // RFC 9112 §3
	ErrTarget             = newError(400, "invalid request-target")
	ErrTargetNonASCII     = newError(400, "non-ASCII byte in request-target")       // RFC 9112 §3.2, RFC 3986 §2
	ErrFragment           = newError(400, "fragment in request-target")             // RFC 9112 §3.2
	ErrPathEscape         = newError(400, "malformed percent-encoding in the path") // RFC 3986 §2.1
	ErrTargetForm         = newError(400, "request-target form not allowed for this method")
	ErrUserinfo           = newError(400, "userinfo in request-target") // RFC 9110 §4.2.4: phishing vector
	ErrVersion            = newError(400, "malformed HTTP version")
	ErrVersionUnsupported = newError(505, "HTTP version not supported")
	ErrRequestLineTooLong = newError(414, "request line too long")
)

// Field errors (RFC 9110 §5, RFC 9112 §5).
var (
	ErrFieldName        = newError(400, "invalid field name")
	ErrFieldValue       = newError(400, "invalid character in field value")
	ErrObsFold          = newError(400, "obsolete line folding")
	ErrLeadingSpace     = newError(400, "whitespace before the first field")
	ErrFieldTooLong     = newError(431, "field line too long")
	ErrHeaderTooLarge   = newError(431, "header section too large")
	ErrTooManyFields    = newError(431, "too many header fields")
	ErrHost             = newError(400, "invalid Host")
	ErrDuplicateHost    = newError(400, "duplicate Host")
	ErrEmptyHost        = newError(400, "empty Host")
	ErrDuplicateField   = newError(400, "duplicate singleton field")
	ErrContentLength    = newError(400, "invalid Content-Length")
	ErrDupContentLength = newError(400, "duplicate Content-Length")
)

// Framing errors (RFC 9112 §6, §7).
var (
	ErrTransferEncoding  = newError(400, "chunked is not the final transfer coding")
	ErrTransferCoding    = newError(501, "unsupported transfer coding")
	ErrLengthAndEncoding = newError(400, "both Content-Length and Transfer-Encoding")
	ErrEncodingHTTP10    = newError(400, "Transfer-Encoding in an HTTP/1.0 request")
	ErrChunkSize         = newError(400, "invalid chunk size")
	ErrChunkExt          = newError(400, "invalid chunk extension")
	ErrChunkExtTooLong   = newError(400, "chunk extensions too long")
	ErrChunkData         = newError(400, "chunk data not terminated by CRLF")
	ErrTrailerField      = newError(400, "forbidden trailer field")
	ErrTrailerTooLarge   = newError(431, "trailer section too large")
)
