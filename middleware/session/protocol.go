package session

import "bytes"

// The protocol between gatehouse's sessions and a backend that has no
// session library of its own (a PHP script, a Flask app, a CGI program):
//
// Request: every value the operator passes (Config.Pass) that the session
// holds is a request field X-Session-<Name> ("user" is X-Session-User;
// HTTP_X_SESSION_USER to CGI, FastCGI, uwsgi and WSGI). No other
// X-Session-* field reaches the backend: a client's are removed
// (web.Request.Inbound).
//
// Response: the backend changes the session with these fields, which
// gatehouse removes before the client sees the response:
//
//	X-Session-Set: user=alice     set a value the operator passes; the rest
//	                              of the field after the first '=' is the
//	                              value (trimmed, at most 1024 bytes)
//	X-Session-Delete: user        remove a value
//	X-Session-Renew: 1            a new session ID (login, privilege change)
//	X-Session-Destroy: 1          end the session (logout)
//
// Changing a value named in Config.RenewOn ("user" by default) renews the
// ID by itself, so a login that only sets the user is already safe from
// fixation. A field naming a value the operator does not pass is ignored
// and logged: the backend cannot write what it may not read.

// Response field names.
const (
	FieldSet     = "X-Session-Set"
	FieldDelete  = "X-Session-Delete"
	FieldRenew   = "X-Session-Renew"
	FieldDestroy = "X-Session-Destroy"
)

// ParseSet splits an X-Session-Set value into the value's name and value:
// name is lower-cased, both are trimmed of spaces and tabs. ok is false for
// a value without '=', a bad name or a value that is too long.
func ParseSet(v []byte) (name, val []byte, ok bool) {
	i := bytes.IndexByte(v, '=')
	if i < 0 {
		return nil, nil, false
	}
	name, val = bytes.ToLower(trim(v[:i])), trim(v[i+1:])
	if !validName(string(name)) || !validValue(string(val)) {
		return nil, nil, false
	}
	return name, val, true
}

func trim(b []byte) []byte { return bytes.Trim(b, " \t") }

// fieldName is the request field of a value: "X-Session-" and the name with
// each word capitalised ("user-id" is X-Session-User-Id).
func fieldName(name string) string {
	b := []byte("X-Session-")
	up := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = c == '-'
		b = append(b, c)
	}
	return string(b)
}
