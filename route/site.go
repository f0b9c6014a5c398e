package route

import (
	"errors"

	"gatehouse/web"
)

// Site is one virtual host: its routes and its error pages.
type Site struct {
	Mux   Mux
	Pages web.ErrorPages // nil: the built-in text pages
}

var errBadPath = &web.Error{Status: 400, Err: errors.New("route: path with dot segments or a malformed escape")}

// ServeHTTP cleans the path, records it on the request for the backend, sets the
// site's error pages, and dispatches to the longest matching route.
func (s *Site) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	if s.Pages != nil {
		r.SetErrorPages(s.Pages)
	}
	if r.Target()[0] == '*' { // OPTIONS * never reaches a site; be safe anyway
		return web.ErrNotFound
	}
	clean, ok := Clean(r.RawPath())
	if !ok {
		return errBadPath
	}
	r.SetRoutePath(clean)
	h, ok := s.Mux.Handler(clean)
	if !ok {
		return web.ErrNotFound
	}
	return h.ServeHTTP(w, r)
}
