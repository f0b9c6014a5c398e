package headers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gatehouse/middleware/requestid"
	"gatehouse/web"
)

// Limits of a template: a field value longer than MaxTemplate bytes, or with
// more than MaxVars variables, is a mistake, and each expansion costs time
// on every request.
const (
	MaxTemplate = 4096
	MaxVars     = 16
)

// Var is a variable a template may name, in braces.
type Var uint8

const (
	varNone       Var = iota
	VarHost           // {host}: the request's host, as routing saw it
	VarRemoteIP       // {remote_ip}: the client's address ("" for a Unix socket)
	VarRemotePort     // {remote_port}
	VarScheme         // {scheme}: http or https
	VarMethod         // {method}
	VarURI            // {uri}: the request target, path and query
	VarPath           // {path}: the target's path, still percent-encoded
	VarQuery          // {query}: the query, without '?'
	VarRequestID      // {request_id}: the request's ID (middleware/requestid), or "" without one
)

var varNames = map[string]Var{
	"host": VarHost, "remote_ip": VarRemoteIP, "remote_port": VarRemotePort, "scheme": VarScheme,
	"method": VarMethod, "uri": VarURI, "path": VarPath, "query": VarQuery, "request_id": VarRequestID,
}

// VarNames lists the variables, for hints.
const VarNames = "{host}, {remote_ip}, {remote_port}, {scheme}, {method}, {uri}, {path}, {query}, {request_id}"

// Template is a field value with variables: "{remote_ip}", "id={request_id}".
// "{{" and "}}" stand for a brace. The zero Template is the empty value.
type Template struct {
	parts []part
}

type part struct {
	lit string
	v   Var // varNone: lit
}

// Errors of ParseTemplate.
var (
	ErrTooLong  = fmt.Errorf("longer than %d bytes", MaxTemplate)
	ErrTooMany  = fmt.Errorf("more than %d variables", MaxVars)
	ErrUnclosed = errors.New("a '{' without its '}' (write {{ for a brace)")
	ErrStray    = errors.New("a '}' without its '{' (write }} for a brace)")
	ErrControl  = errors.New("a control character (a field value is one line of text)")
)

// UnknownVarError names a variable ParseTemplate does not know.
type UnknownVarError struct{ Name string }

func (e *UnknownVarError) Error() string {
	return fmt.Sprintf("unknown variable {%s} (known: %s)", e.Name, VarNames)
}

// ParseTemplate parses s. The literal text must be a valid field value
// (RFC 9110 §5.5: no control character but tab); the variables' values
// always are.
func ParseTemplate(s string) (Template, error) {
	if len(s) > MaxTemplate {
		return Template{}, ErrTooLong
	}
	var t Template
	var lit strings.Builder
	vars := 0
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			lit.WriteByte('{')
			i++
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			lit.WriteByte('}')
			i++
		case c == '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return Template{}, ErrUnclosed
			}
			name := s[i+1 : i+1+end]
			v, ok := varNames[name]
			if !ok {
				return Template{}, &UnknownVarError{name}
			}
			if vars++; vars > MaxVars {
				return Template{}, ErrTooMany
			}
			flush()
			t.parts = append(t.parts, part{v: v})
			i += end + 1
		case c == '}':
			return Template{}, ErrStray
		case c < ' ' && c != '\t' || c == 0x7f:
			return Template{}, ErrControl
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return t, nil
}

// Static reports whether t has no variable, and its text.
func (t Template) Static() (string, bool) {
	switch len(t.parts) {
	case 0:
		return "", true
	case 1:
		if t.parts[0].v == varNone {
			return t.parts[0].lit, true
		}
	}
	return "", false
}

// Append appends t's value for r to dst.
func (t Template) Append(dst []byte, r *web.Request) []byte {
	for _, p := range t.parts {
		switch p.v {
		case varNone:
			dst = append(dst, p.lit...)
		case VarHost:
			dst = append(dst, r.Host()...)
		case VarRemoteIP:
			if a := r.RemoteAddr(); a.IsValid() {
				dst = a.Addr().Unmap().AppendTo(dst)
			}
		case VarRemotePort:
			if a := r.RemoteAddr(); a.IsValid() {
				dst = strconv.AppendUint(dst, uint64(a.Port()), 10)
			}
		case VarScheme:
			dst = append(dst, r.Scheme()...)
		case VarMethod:
			dst = append(dst, r.Method()...)
		case VarURI:
			dst = append(dst, r.Target()...)
		case VarPath:
			dst = append(dst, r.RawPath()...)
		case VarQuery:
			dst = append(dst, r.RawQuery()...)
		case VarRequestID:
			dst = append(dst, requestid.Get(r)...)
		}
	}
	return dst
}
