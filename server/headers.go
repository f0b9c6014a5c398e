package server

import (
	"fmt"
	"maps"
	"slices"

	"gatehouse/config"
	"gatehouse/middleware/headers"
	"gatehouse/middleware/realip"
	"gatehouse/middleware/requestid"
)

// headerRules builds the middleware of a headers table: its templates
// parsed, each list in the order of its names (a TOML table has none).
func headerRules(h *config.Headers) (*headers.Middleware, error) {
	rs := headers.Rules{Always: h.Always}
	for _, d := range []struct {
		key string
		in  *config.HeaderOps
		out *headers.Ops
	}{{"request", &h.Request, &rs.Request}, {"response", &h.Response, &rs.Response}} {
		d.out.Remove = d.in.Remove
		for _, op := range []struct {
			key string
			m   map[string]string
			dst *[]headers.Field
		}{{"set", d.in.Set, &d.out.Set}, {"add", d.in.Add, &d.out.Add}} {
			for _, name := range slices.Sorted(maps.Keys(op.m)) {
				t, err := headers.ParseTemplate(op.m[name])
				if err != nil {
					return nil, &routeProblem{"headers." + d.key + "." + op.key,
						"variables are " + headers.VarNames + "; write {{ and }} for braces",
						fmt.Errorf("headers.%s.%s: %s: %w", d.key, op.key, name, err)}
				}
				*op.dst = append(*op.dst, headers.Field{Name: name, Value: t})
			}
		}
	}
	m, err := headers.New(rs)
	if err != nil {
		return nil, &routeProblem{"headers", "", err}
	}
	return m, nil
}

// requestIDConfig maps [request_id] onto middleware/requestid.Config; nil
// when the table is absent. An ID is kept from the peers [http]
// trusted_proxies names, as their X-Forwarded-For is: one list of whom
// gatehouse believes.
func requestIDConfig(r *config.RequestID, trust *realip.Trust) *requestid.Config {
	if r == nil {
		return nil
	}
	return &requestid.Config{Field: r.Field, NoResponse: r.Response != nil && !*r.Response, Trusted: trust.Peer}
}
