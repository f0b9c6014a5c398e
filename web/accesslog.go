package web

import (
	"net/netip"
	"time"
)

// AccessEntry describes one finished exchange, for an access log.
type AccessEntry struct {
	// Request is the request as the handler saw it, or nil when the request was
	// refused before it could be parsed. Valid only during LogAccess.
	Request   *Request
	Status    int   // status sent; 0 if the connection ended before any response
	BodyBytes int64 // body bytes sent (for HEAD: 0)
	Start     time.Time
	Duration  time.Duration
	Remote    netip.AddrPort // zero for Unix sockets
}

// AccessLogger receives an entry for every finished exchange. LogAccess is called
// on the connection's goroutine and must not keep e or the request.
type AccessLogger interface {
	LogAccess(e *AccessEntry)
}
