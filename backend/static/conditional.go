package static

import (
	"strings"
	"time"

	"gatehouse/web"
)

// validators are what a representation can be checked against. A zero field
// means the representation has no such validator (a directory listing has
// neither).
type validators struct {
	etag    string    // strong entity-tag, with quotes
	modTime time.Time // Last-Modified as sent: whole seconds, UTC
}

// outcome is the result of evaluating a request's preconditions.
type outcome int

const (
	proceed            outcome = iota // perform the method
	notModified                       // answer 304
	preconditionFailed                // answer 412
)

// cond is the value of one precondition.
type cond int

const (
	condAbsent cond = iota // not in the request, or to be ignored
	condTrue
	condFalse
)

// evaluatePreconditions applies RFC 9110 §13.2.2 in its order. It is called only
// for a resource that exists and would otherwise be answered 2xx: §13.2.1 says
// preconditions are ignored when the answer would be anything else (404, 405,
// a redirect), and ServeHTTP gets to those first.
//
//  1. If-Match present: false → 412, true → step 3.
//  2. Else If-Unmodified-Since present: false → 412, true → step 3.
//  3. If-None-Match present: false → 304 for GET and HEAD, 412 for other
//     methods; true → step 5 (If-Modified-Since is skipped).
//  4. Else, for GET and HEAD, If-Modified-Since present: false → 304.
//  5. If-Range is the Range handling's (ifRangeHolds).
func evaluatePreconditions(method string, h *web.Header, v validators, now time.Time) outcome {
	getOrHead := method == web.MethodGet || method == web.MethodHead
	if im := ifMatch(h, v); im == condFalse {
		return preconditionFailed
	} else if im == condAbsent && ifUnmodifiedSince(h, v, now) == condFalse {
		return preconditionFailed
	}
	inm := ifNoneMatch(h, v)
	if inm == condFalse {
		if getOrHead {
			return notModified
		}
		return preconditionFailed
	}
	if inm == condAbsent && getOrHead && ifModifiedSince(h, v, now) == condFalse {
		return notModified
	}
	return proceed
}

// ifMatch evaluates If-Match (§13.1.1). The origin server "MUST use the strong
// comparison function". "*" is true because the resource exists. A value that is
// neither "*" nor a list of entity-tags is false: §13.1.1's third step,
// "Otherwise, the condition is false", which is also the safe side, as If-Match
// guards against lost updates.
func ifMatch(h *web.Header, v validators) cond {
	f := readETagField(h, "If-Match")
	switch {
	case !f.present:
		return condAbsent
	case !f.valid:
		return condFalse
	case f.star:
		return condTrue
	}
	for _, t := range f.tags {
		if v.etag != "" && t.strongMatch(v.etag) {
			return condTrue
		}
	}
	return condFalse
}

// ifNoneMatch evaluates If-None-Match (§13.1.2) with the weak comparison
// function, which the recipient MUST use. "*" is false because the resource
// exists. A malformed value is true: §13.1.2's third step, "Otherwise, the
// condition is true". The field is still present, so If-Modified-Since stays
// ignored; the worst a broken client gets is the full file, never a wrong 304.
func ifNoneMatch(h *web.Header, v validators) cond {
	f := readETagField(h, "If-None-Match")
	switch {
	case !f.present:
		return condAbsent
	case !f.valid:
		return condTrue
	case f.star:
		return condFalse
	}
	for _, t := range f.tags {
		if v.etag != "" && t.weakMatch(v.etag) {
			return condFalse
		}
	}
	return condTrue
}

// ifUnmodifiedSince evaluates If-Unmodified-Since (§13.1.4): false when the
// representation was modified after the date. It is ignored (condAbsent), as the
// RFC says a recipient MUST, when the value is not a valid HTTP-date "(including
// when the field value appears to be a list of dates)", here also several field
// lines, or when the resource has no modification date.
func ifUnmodifiedSince(h *web.Header, v validators, now time.Time) cond {
	date, ok := singleDate(h, "If-Unmodified-Since", now)
	if !ok || v.modTime.IsZero() {
		return condAbsent
	}
	if v.modTime.After(date) {
		return condFalse
	}
	return condTrue
}

// ifModifiedSince evaluates If-Modified-Since (§13.1.3): false when the
// representation was not modified after the date. Ignored when the value is not
// a valid HTTP-date or "has more than one member", or when the resource has no
// modification date (all MUSTs of §13.1.3), and when the date is later than the
// server's clock: such a date was not taken from a Last-Modified of this server
// (which is never in the future, §8.8.2.1), and answering 304 to it could pin a
// stale copy in the client for as long as the clocks disagree (RFC 2616 §14.25
// called such a date invalid; §13.1.3 has the recipient interpret the date "in
// terms of the origin server's clock").
func ifModifiedSince(h *web.Header, v validators, now time.Time) cond {
	date, ok := singleDate(h, "If-Modified-Since", now)
	if !ok || v.modTime.IsZero() || date.After(now) {
		return condAbsent
	}
	if v.modTime.After(date) {
		return condTrue
	}
	return condFalse
}

// ifRangeHolds evaluates If-Range (§13.1.5) for a GET with a Range field. With no
// If-Range the Range applies. An entity-tag must match the current one by the
// strong comparison (a weak tag never does); an HTTP-date must equal
// Last-Modified exactly. Anything else, including a malformed value or several
// field lines, is false, and false means "ignore the Range header field" (a
// 200 with the whole representation), which is what a client that sent a stale
// validator needs anyway.
//
// §13.1.5 also asks that a date be a strong validator (§8.8.2.2), which a server
// cannot prove for a file written twice within one second. The exact match is what
// nginx and net/http use; clients that have an ETag send it instead (§13.1.5: a
// client "MUST NOT generate an If-Range header field containing an HTTP-date
// unless the client has no entity tag").
func ifRangeHolds(h *web.Header, v validators, now time.Time) bool {
	var val []byte
	n := 0
	for x := range h.Values("If-Range") {
		val, n = x, n+1
	}
	switch {
	case n == 0:
		return true
	case n > 1:
		return false
	}
	s := string(val)
	// "W/" and not 'W' alone: "Wed, 15 Jan ..." is a date.
	if strings.HasPrefix(s, `"`) || strings.HasPrefix(s, "W/") {
		t, used, ok := scanETag(s)
		return ok && used == len(s) && v.etag != "" && t.strongMatch(v.etag)
	}
	date, ok := parseHTTPDate(s, now)
	return ok && !v.modTime.IsZero() && date.Equal(v.modTime)
}

// singleDate returns the HTTP-date of a field that appears once.
func singleDate(h *web.Header, name string, now time.Time) (time.Time, bool) {
	var val []byte
	n := 0
	for x := range h.Values(name) {
		val, n = x, n+1
	}
	if n != 1 {
		return time.Time{}, false
	}
	return parseHTTPDate(string(val), now)
}
