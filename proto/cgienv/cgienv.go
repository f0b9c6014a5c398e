// Package cgienv builds the meta-variables of RFC 3875 (CGI/1.1) for a request,
// once, for every gateway: CGI, FastCGI, uwsgi and WSGI.
//
// Beyond §4.1 it sets what applications expect from nginx and Apache:
// REQUEST_URI, REQUEST_SCHEME, DOCUMENT_ROOT, SCRIPT_FILENAME, REMOTE_PORT,
// SERVER_ADDR and HTTPS.
//
// Two header rules protect applications:
//   - A Proxy field never becomes HTTP_PROXY (httpoxy, CVE-2016-5385): CGI
//     programs read HTTP_PROXY as their outgoing proxy.
//   - Field names containing '_' are dropped: "Content_Length" and
//     "Content-Length" would both become HTTP_CONTENT_LENGTH, so one could
//     impersonate the other past a proxy that checks only the '-' spelling.
package cgienv

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
)

// Request is what the variables are built from. Byte slices may be views; Build
// copies what it keeps.
type Request struct {
	Method string
	Target []byte // the request-target as received; REQUEST_URI when it is origin-form
	Path   []byte // the path, still percent-encoded
	Query  []byte // without '?'; nil when there is none
	Host   []byte // the authority the request is for (absolute-form target, else Host): SERVER_NAME, and HTTP_HOST when a Host field was sent
	Proto  string // "HTTP/1.1"
	Scheme string // "http" or "https"
	Fields func(yield func(name, value []byte) bool)
	// Vars are variables gatehouse itself passes (GATEHOUSE_CSRF_TOKEN),
	// set last: neither a field nor Mount.Extra overrides them.
	Vars       func(yield func(name, value []byte) bool)
	BodyLength int64 // -1 when the body has no declared length
	Remote     netip.AddrPort
	Local      netip.AddrPort
}

// Mount says how the path splits and where scripts live.
type Mount struct {
	// ScriptName is the mount point ("/app"; "" for the root). The decoded path
	// must start with it; the rest becomes PATH_INFO.
	ScriptName string
	// DocumentRoot and ScriptFilename are passed as they are (PHP, CGI).
	DocumentRoot   string
	ScriptFilename string
	// ServerSoftware is SERVER_SOFTWARE, such as "gatehouse/1.0".
	ServerSoftware string
	// Extra variables, set after the standard ones (they may override them).
	Extra [][2]string
}

// ErrPath reports a path whose decoding holds a control character (a newline in
// PATH_INFO is CVE-2019-11043 in php-fpm) or a malformed escape. Answer 400.
var ErrPath = errors.New("cgienv: path with a control character or a malformed escape")

// ErrMount reports a path outside the mount point.
var ErrMount = errors.New("cgienv: path outside the mount point")

// Build calls set for every variable, in a fixed order. Values are strings of
// bytes as received (header values are not decoded); PATH_INFO is
// percent-decoded, as §4.1.5 requires.
func Build(r *Request, m *Mount, set func(name, value string)) error {
	path, err := Unescape(r.Path)
	if err != nil {
		return err
	}
	script := strings.TrimSuffix(m.ScriptName, "/")
	pathInfo, ok := strings.CutPrefix(path, script)
	if !ok || pathInfo != "" && pathInfo[0] != '/' {
		return ErrMount
	}
	set("GATEWAY_INTERFACE", "CGI/1.1")
	set("SERVER_SOFTWARE", m.ServerSoftware)
	set("SERVER_PROTOCOL", r.Proto)
	set("REQUEST_METHOD", r.Method)
	set("REQUEST_SCHEME", r.Scheme)
	if r.Scheme == "https" {
		set("HTTPS", "on")
	}
	set("REQUEST_URI", requestURI(r))
	set("SCRIPT_NAME", script)
	set("PATH_INFO", pathInfo)
	set("QUERY_STRING", string(r.Query))
	if m.DocumentRoot != "" {
		set("DOCUMENT_ROOT", m.DocumentRoot)
		if pathInfo != "" {
			set("PATH_TRANSLATED", strings.TrimSuffix(m.DocumentRoot, "/")+pathInfo)
		}
	}
	if m.ScriptFilename != "" {
		set("SCRIPT_FILENAME", m.ScriptFilename)
	}
	name, port := splitHostPort(string(r.Host))
	// An unspecified local address is a port known without its address
	// (a uwsgi front end that sends SERVER_PORT, not SERVER_ADDR).
	knownAddr := r.Local.IsValid() && !r.Local.Addr().IsUnspecified()
	if name == "" && knownAddr {
		name = r.Local.Addr().String()
	}
	if port == "" {
		port = "80"
		if r.Local.IsValid() {
			port = strconv.Itoa(int(r.Local.Port()))
		} else if r.Scheme == "https" {
			port = "443"
		}
	}
	set("SERVER_NAME", name)
	set("SERVER_PORT", port)
	if knownAddr {
		set("SERVER_ADDR", r.Local.Addr().String())
	}
	if r.Remote.IsValid() {
		addr := r.Remote.Addr().Unmap().String()
		set("REMOTE_ADDR", addr)
		set("REMOTE_HOST", addr) // §4.1.9: the address when no name is looked up
		set("REMOTE_PORT", strconv.Itoa(int(r.Remote.Port())))
	} else {
		set("REMOTE_ADDR", "127.0.0.1") // a Unix-socket peer is local
		set("REMOTE_HOST", "127.0.0.1")
	}
	if r.BodyLength >= 0 {
		set("CONTENT_LENGTH", strconv.FormatInt(r.BodyLength, 10))
	}
	fields(r, set)
	for _, kv := range m.Extra {
		set(kv[0], kv[1])
	}
	if r.Vars != nil {
		for name, value := range r.Vars {
			set(string(name), string(value))
		}
	}
	return nil
}

// requestURI is REQUEST_URI: the target as received when it is origin-form,
// else its path and query (an absolute-form target's authority is the Host),
// as nginx passes $request_uri.
func requestURI(r *Request) string {
	if len(r.Target) > 0 && r.Target[0] == '/' || len(r.Path) == 0 {
		return string(r.Target)
	}
	if r.Query == nil {
		return string(r.Path)
	}
	return string(r.Path) + "?" + string(r.Query)
}

// fields sets CONTENT_TYPE and an HTTP_* variable per field name. Repeated
// fields are joined with ", " (RFC 9110 §5.3), Cookie with "; " (RFC 6265 §5.4).
//
// HTTP_HOST is r.Host, the authority the request was routed by: after
// "GET http://shop.example/" (RFC 9112 §3.2.2) the Host field an attacker sent
// beside it must not reach an application that builds links from HTTP_HOST.
func fields(r *Request, set func(name, value string)) {
	if r.Fields == nil {
		return
	}
	type acc struct {
		name  string
		value []byte
	}
	var order []acc
	index := map[string]int{}
	for name, value := range r.Fields {
		if !usable(name) {
			continue
		}
		var v string
		switch {
		case equalFold(name, "content-length"):
			continue // CONTENT_LENGTH comes from the framing, not the field
		case equalFold(name, "content-type"):
			set("CONTENT_TYPE", string(value))
			continue
		case equalFold(name, "proxy"):
			continue // httpoxy
		case equalFold(name, "host"):
			value = r.Host
		}
		v = "HTTP_" + varName(name)
		if i, ok := index[v]; ok {
			sep := ", "
			if v == "HTTP_COOKIE" {
				sep = "; "
			}
			order[i].value = append(append(order[i].value, sep...), value...)
			continue
		}
		index[v] = len(order)
		order = append(order, acc{name: v, value: append([]byte(nil), value...)})
	}
	for _, a := range order {
		set(a.name, string(a.value))
	}
}

// usable reports whether a field name may become a variable: no '_' (see the
// package comment), and a token, which the HTTP parser has checked already.
func usable(name []byte) bool {
	for _, c := range name {
		if c == '_' {
			return false
		}
	}
	return len(name) > 0
}

// varName upper-cases name and turns '-' into '_' (RFC 3875 §4.1.18).
func varName(name []byte) string {
	b := make([]byte, len(name))
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c == '-':
			b[i] = '_'
		default:
			b[i] = c
		}
	}
	return string(b)
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func splitHostPort(h string) (host, port string) {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			host, rest := h[:i+1], h[i+1:]
			return host, strings.TrimPrefix(rest, ":")
		}
		return h, ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		return h[:i], h[i+1:]
	}
	return h, ""
}

// Unescape percent-decodes a path. It refuses malformed escapes and control
// characters in the result (NUL, CR, LF, ...): a decoded path reaches programs
// that treat them as separators (CVE-2019-11043).
func Unescape(p []byte) (string, error) {
	if len(p) == 0 || p[0] != '/' {
		return "", ErrPath
	}
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
				return "", ErrPath
			}
			c = byte(unhex(p[i+1])<<4 | unhex(p[i+2]))
			i += 2
		}
		if c < 0x20 || c == 0x7f {
			return "", ErrPath
		}
		b = append(b, c)
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
