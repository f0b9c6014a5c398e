// Package route dispatches requests to handlers by path.
package route

import (
	"sort"
	"strings"

	"gatehouse/web"
)

// Mux sends each request to the handler of the longest matching pattern. A pattern
// ending in "/" matches every path under it and the path without the slash (so the
// handler can redirect to it); any other pattern matches its path exactly. No
// match is 404.
type Mux struct {
	routes []entry
}

type entry struct {
	pattern string
	prefix  bool
	h       web.Handler
}

// Handle registers h for pattern, which must start with "/".
func (m *Mux) Handle(pattern string, h web.Handler) {
	if !strings.HasPrefix(pattern, "/") {
		panic("route: pattern must start with /: " + pattern) // a wiring mistake
	}
	for _, e := range m.routes {
		if e.pattern == pattern {
			panic("route: pattern registered twice: " + pattern)
		}
	}
	m.routes = append(m.routes, entry{pattern: pattern, prefix: strings.HasSuffix(pattern, "/"), h: h})
	sort.SliceStable(m.routes, func(i, j int) bool { return len(m.routes[i].pattern) > len(m.routes[j].pattern) })
}

// Handler returns the handler for path and whether one matched.
func (m *Mux) Handler(path []byte) (web.Handler, bool) {
	for _, e := range m.routes {
		p := e.pattern
		switch {
		case !e.prefix:
			if string(path) == p {
				return e.h, true
			}
		case len(path) >= len(p) && string(path[:len(p)]) == p,
			string(path) == p[:len(p)-1]:
			return e.h, true
		}
	}
	return nil, false
}

// ServeHTTP dispatches r.
func (m *Mux) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	h, ok := m.Handler(r.RawPath())
	if !ok {
		return web.ErrNotFound
	}
	return h.ServeHTTP(w, r)
}
