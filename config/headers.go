package config

import (
	"fmt"

	"gatehouse/internal/httpspec"
)

// Headers are header rules of a site or a route (middleware/headers): fields
// added, set and removed on requests before the backend sees them, and on
// responses as they go out. Values may use {host}, {remote_ip},
// {remote_port}, {scheme}, {method}, {uri}, {path}, {query} and
// {request_id}; "{{" and "}}" are braces.
type Headers struct {
	Request  HeaderOps `toml:"request"`
	Response HeaderOps `toml:"response"`
	// Always applies the response rules to every response, error pages
	// included, as nginx's add_header ... always. Default false: 2xx and
	// 3xx responses.
	Always bool `toml:"always"`
}

// HeaderOps are the rules of one direction, run remove, set, add.
type HeaderOps struct {
	Remove []string          `toml:"remove"`
	Set    map[string]string `toml:"set"`
	Add    map[string]string `toml:"add"`
}

// RequestID gives every request an ID (middleware/requestid), passed to
// backends, sent back and logged ($request_id). Absent: no IDs.
type RequestID struct {
	// Field is the request and response field. Default "X-Request-ID".
	Field string `toml:"field"`
	// Response sends the ID back on every response. Default true.
	Response *bool `toml:"response"`
}

func (c *Config) validateHeaders(p string, h *Headers, bad func(path, msg, hint string)) {
	name := func(kp, n string) {
		switch {
		case !httpspec.IsToken(n):
			bad(kp, fmt.Sprintf("headers: %q is not a field name", n), "field names are letters, digits and - (no spaces)")
		case httpspec.IsFramingField(n):
			bad(kp, fmt.Sprintf("headers: %s cannot be changed by a rule", n), "it frames the message or belongs to the connection: the server sets it")
		}
	}
	for _, d := range []struct {
		key string
		o   *HeaderOps
	}{{"request", &h.Request}, {"response", &h.Response}} {
		for i, n := range d.o.Remove {
			name(fmt.Sprintf("%s.%s.remove[%d]", p, d.key, i), n)
		}
		for _, op := range []struct {
			key string
			m   map[string]string
		}{{"set", d.o.Set}, {"add", d.o.Add}} {
			for _, n := range sortedKeys(op.m) {
				name(p+"."+d.key+"."+op.key, n)
			}
		}
	}
}

func (c *Config) validateRequestID(bad func(path, msg, hint string)) {
	r := c.RequestID
	if r == nil {
		return
	}
	if r.Field != "" && (!httpspec.IsToken(r.Field) || httpspec.IsFramingField(r.Field)) {
		bad("request_id.field", fmt.Sprintf("request_id.field %q is not a field a request ID can travel in", r.Field), "leave it out for X-Request-ID")
	}
}
