package accesslog

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gatehouse/middleware/requestid"
	"gatehouse/upstream"
	"gatehouse/web"
)

// Limits of a format string: longer ones, or ones with more variables, are
// mistakes, and each costs time on every line.
const (
	MaxFormat = 4096
	MaxVars   = 64
)

// variable is one $name a layout can use.
type variable uint8

const (
	vLiteral variable = iota
	vRemoteAddr
	vRemotePort
	vRemoteUser
	vTimeLocal
	vTimeISO8601
	vMsec
	vRequest
	vRequestMethod
	vRequestURI
	vURI
	vArgs
	vServerProtocol
	vScheme
	vHost
	vStatus
	vBodyBytesSent
	vRequestTime
	vRequestID
	vSSLProtocol
	vSSLCipher
	vUpstreamConnectTime
	vUpstreamHeaderTime
	vUpstreamResponseTime
	vHTTPField // $http_<name>: a request field
)

// variables are nginx's names for what gatehouse knows of an exchange.
var variables = map[string]variable{
	"remote_addr": vRemoteAddr, "remote_port": vRemotePort, "remote_user": vRemoteUser,
	"time_local": vTimeLocal, "time_iso8601": vTimeISO8601, "msec": vMsec,
	"request": vRequest, "request_method": vRequestMethod, "request_uri": vRequestURI,
	"uri": vURI, "args": vArgs, "query_string": vArgs, "server_protocol": vServerProtocol,
	"scheme": vScheme, "host": vHost, "status": vStatus, "body_bytes_sent": vBodyBytesSent,
	"request_time": vRequestTime, "request_id": vRequestID, "ssl_protocol": vSSLProtocol,
	"ssl_cipher": vSSLCipher, "upstream_connect_time": vUpstreamConnectTime,
	"upstream_header_time": vUpstreamHeaderTime, "upstream_response_time": vUpstreamResponseTime,
}

// VariableNames lists the variables, for hints.
var VariableNames = func() string {
	names := make([]string, 0, len(variables)+1)
	for n := range variables {
		names = append(names, "$"+n)
	}
	names = append(names, "$http_NAME")
	sortStrings(names)
	return strings.Join(names, ", ")
}()

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

type piece struct {
	v     variable
	lit   string // the literal, or the field name of $http_
	field string
}

// Layout is a parsed log format, nginx's log_format: text with $variables
// ("$remote_addr - [$time_local] \"$request\" $status"), ${name} where a
// name runs into the text after it, and $$ for a dollar sign. A value a
// client chose (the request line, fields, the host) is escaped as nginx
// does, \xHH for '"', '\' and bytes outside printable ASCII, so it cannot
// break the line or forge another; a value that is absent is "-".
type Layout struct {
	pieces []piece
	// Upstream reports whether the layout uses $upstream_*: the server
	// measures the exchange with the application only then.
	Upstream bool
}

// Errors of ParseLayout.
var (
	ErrFormatTooLong = fmt.Errorf("longer than %d bytes", MaxFormat)
	ErrTooManyVars   = fmt.Errorf("more than %d variables", MaxVars)
	ErrDollar        = errors.New("a '$' names no variable (write $$ for a dollar sign)")
	ErrBrace         = errors.New("a '${' without its '}'")
	ErrControlChar   = errors.New("a control character (write the line's text; the newline is added)")
)

// UnknownVariableError names a variable the layout does not know.
type UnknownVariableError struct{ Name string }

func (e *UnknownVariableError) Error() string {
	return fmt.Sprintf("unknown variable $%s", e.Name)
}

// ParseLayout parses a format string.
func ParseLayout(s string) (*Layout, error) {
	if len(s) > MaxFormat {
		return nil, ErrFormatTooLong
	}
	l := &Layout{}
	var lit strings.Builder
	vars := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, ErrControlChar
		}
		if c != '$' {
			lit.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			lit.WriteByte('$')
			i++
			continue
		}
		var name string
		if i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return nil, ErrBrace
			}
			name = s[i+2 : i+2+end]
			i += 2 + end
		} else {
			j := i + 1
			for j < len(s) && isNameByte(s[j]) {
				j++
			}
			name = s[i+1 : j]
			i = j - 1
		}
		if name == "" {
			return nil, ErrDollar
		}
		p := piece{}
		if v, ok := variables[name]; ok {
			p.v = v
		} else if f, ok := strings.CutPrefix(name, "http_"); ok && f != "" && validName(f) {
			p.v, p.field = vHTTPField, strings.ReplaceAll(f, "_", "-")
		} else {
			return nil, &UnknownVariableError{name}
		}
		if vars++; vars > MaxVars {
			return nil, ErrTooManyVars
		}
		if p.v >= vUpstreamConnectTime && p.v <= vUpstreamResponseTime {
			l.Upstream = true
		}
		if lit.Len() > 0 {
			l.pieces = append(l.pieces, piece{lit: lit.String()})
			lit.Reset()
		}
		l.pieces = append(l.pieces, p)
	}
	if lit.Len() > 0 {
		l.pieces = append(l.pieces, piece{lit: lit.String()})
	}
	return l, nil
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// appendLine writes e as the layout says, with its newline.
func (l *Layout) appendLine(dst []byte, e *web.AccessEntry) []byte {
	r := e.Request
	for _, p := range l.pieces {
		switch p.v {
		case vLiteral:
			dst = append(dst, p.lit...)
		case vRemoteAddr:
			dst = appendRemote(dst, e)
		case vRemotePort:
			if e.Remote.IsValid() {
				dst = strconv.AppendUint(dst, uint64(e.Remote.Port()), 10)
			} else {
				dst = append(dst, '-')
			}
		case vRemoteUser:
			dst = append(dst, '-')
		case vTimeLocal:
			dst = e.Start.AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
		case vTimeISO8601:
			dst = e.Start.AppendFormat(dst, "2006-01-02T15:04:05-07:00")
		case vMsec:
			dst = appendSeconds(dst, time.Duration(e.Start.UnixNano()))
		case vStatus:
			dst = strconv.AppendInt(dst, int64(e.Status), 10)
		case vBodyBytesSent:
			dst = strconv.AppendInt(dst, e.BodyBytes, 10)
		case vRequestTime:
			dst = appendSeconds(dst, e.Duration)
		default:
			if r == nil {
				dst = append(dst, '-')
				continue
			}
			dst = appendRequestVar(dst, p, r)
		}
	}
	return append(dst, '\n')
}

func appendRequestVar(dst []byte, p piece, r *web.Request) []byte {
	switch p.v {
	case vRequest:
		dst = append(dst, r.Method()...)
		dst = append(dst, ' ')
		dst = appendEscaped(dst, r.Target())
		dst = append(dst, ' ')
		return append(dst, r.Proto()...)
	case vRequestMethod:
		return append(dst, r.Method()...)
	case vRequestURI:
		return appendEscaped(dst, r.Target())
	case vURI:
		return appendEscaped(dst, r.RawPath())
	case vArgs:
		return orDash(dst, r.RawQuery())
	case vServerProtocol:
		return append(dst, r.Proto()...)
	case vScheme:
		return append(dst, r.Scheme()...)
	case vHost:
		return orDash(dst, r.Host())
	case vRequestID:
		if id := requestid.Get(r); id != "" {
			return append(dst, id...) // checked: no byte to escape
		}
	case vSSLProtocol:
		if st := r.TLS(); st != nil {
			return append(dst, tlsVersion(st.Version)...)
		}
	case vSSLCipher:
		if st := r.TLS(); st != nil {
			return append(dst, tls.CipherSuiteName(st.CipherSuite)...)
		}
	case vUpstreamConnectTime, vUpstreamHeaderTime, vUpstreamResponseTime:
		t, ok := upstream.TimingKey.Get(r)
		if !ok || t == nil {
			break
		}
		d := t.Connect
		switch p.v {
		case vUpstreamHeaderTime:
			d = t.Header
		case vUpstreamResponseTime:
			d = t.Response
		}
		if d >= 0 {
			return appendSeconds(dst, d)
		}
	case vHTTPField:
		return orDash(dst, r.Header.Peek(p.field))
	}
	return append(dst, '-')
}

func orDash(dst, v []byte) []byte {
	if len(v) == 0 {
		return append(dst, '-')
	}
	return appendEscaped(dst, v)
}

// appendSeconds writes d in seconds with milliseconds, as nginx's times.
func appendSeconds(dst []byte, d time.Duration) []byte {
	ms := d.Milliseconds()
	dst = strconv.AppendInt(dst, ms/1000, 10)
	dst = append(dst, '.')
	frac := ms % 1000
	return append(dst, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// tlsVersion names a TLS version as OpenSSL does ($ssl_protocol).
func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS13:
		return "TLSv1.3"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS10:
		return "TLSv1"
	}
	return "-"
}
