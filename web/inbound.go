package web

import (
	"iter"
	"strings"
)

// Inbound header hygiene: the fields that tell a backend who the user is, or
// carry gatehouse's CSRF token and session values, are gatehouse's to send,
// never the client's. A client that sends them itself would forge an
// identity the backend trusts (CVE-2025-64484, oauth2-proxy: the gateway
// removed X-Forwarded-Email but not X_Forwarded_Email, which WSGI and PHP
// read as the same HTTP_X_FORWARDED_EMAIL). So the client's copies are
// removed, in every spelling ('_' for '-', any case), and gatehouse's own
// values, recorded with PassField, are added in their place, by one call
// (Inbound) that the server's chain makes right before every backend.
//
// The reserved names:
//
//	X-CSRF-Token                                    the CSRF token (middleware/csrf)
//	X-Forwarded-User, -Email, -Groups,
//	  -Preferred-Username, -Access-Token            identity, as oauth2-proxy sends it
//	X-Session-*                                     session values (middleware/session)
//	Gatehouse-*                                     anything else of gatehouse's
//
// A CGI-style variable gatehouse passes (GATEHOUSE_CSRF_TOKEN) cannot be
// forged by a field at all: a field becomes HTTP_*, and proto/cgienv drops
// every field whose name holds '_'.

var reservedNames = [...]string{
	"x-csrf-token",
	"x-forwarded-user",
	"x-forwarded-email",
	"x-forwarded-groups",
	"x-forwarded-preferred-username",
	"x-forwarded-access-token",
}

var reservedPrefixes = [...]string{"x-session-", "gatehouse-"}

// ReservedField reports whether a field named name is one only gatehouse may
// send a backend, in any case, with '_' or '-'.
func ReservedField(name []byte) bool {
	// Every reserved name starts with x or g and is at least 10 bytes long:
	// most fields are passed over by these two comparisons.
	if len(name) < 10 {
		return false
	}
	if c := name[0] | 0x20; c != 'x' && c != 'g' {
		return false
	}
	for _, p := range reservedPrefixes {
		if len(name) > len(p) && foldDash(name[:len(p)], p) {
			return true
		}
	}
	for _, n := range reservedNames {
		if foldDash(name, n) {
			return true
		}
	}
	return false
}

// foldDash compares b with the lower-case s ignoring ASCII case, taking '_'
// in b for '-'.
func foldDash(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '_' {
			c = '-'
		} else if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// PassField records a field to send the backend with this request, in place
// of any copy the client sent: name must be a reserved name (ReservedField),
// or the client's own copy would reach the backend beside it; a second
// PassField of the same name replaces the first. The field is added by
// Inbound.
func (r *Request) PassField(name, value string) {
	if !ReservedField([]byte(name)) {
		panic("web: PassField of " + name + ", which is not a reserved field name")
	}
	r.pass.Set(name, value)
}

// PassVar records a variable the gateways (CGI, FastCGI, uwsgi, WSGI) pass
// the application beside the ones built from the request: name starts with
// GATEHOUSE_. A second PassVar of the same name replaces the first.
func (r *Request) PassVar(name, value string) {
	if !strings.HasPrefix(name, "GATEHOUSE_") {
		panic("web: PassVar of " + name + ", which does not start with GATEHOUSE_")
	}
	r.passVars.Set(name, value)
}

// PassedVars iterates over the variables recorded with PassVar.
func (r *Request) PassedVars() iter.Seq2[[]byte, []byte] { return r.passVars.All() }

// Passed returns the value of a field recorded with PassField, or nil.
func (r *Request) Passed(name string) []byte { return r.pass.Peek(name) }

// Inbound makes the request what the backend must see: it removes every
// reserved field (ReservedField) and adds the ones recorded with PassField.
// The server's chain calls it right before every backend; calling it again
// changes nothing.
func (r *Request) Inbound() {
	h := &r.Header
	out := h.fields[:0]
	for _, f := range h.fields {
		if !ReservedField(f.Name) {
			out = append(out, f)
		}
	}
	clear(h.fields[len(out):])
	h.fields = out
	for _, f := range r.pass.fields {
		h.AddBytes(f.Name, f.Value)
	}
}
