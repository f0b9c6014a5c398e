package server

import (
	"errors"
	"fmt"
	"strings"

	"gatehouse/backend/demo"
	"gatehouse/backend/static"
	"gatehouse/route"
	"gatehouse/web"
)

// Mount is one entry of the handler tree: a URL prefix and what serves it.
type Mount struct {
	// Prefix is the URL path, such as "/" or "/assets/".
	Prefix string
	// Static serves a directory (Static.Prefix is set from Prefix).
	Static *static.Config
	// Demo serves the built-in demo site; only at "/".
	Demo bool
}

// Site is a built handler tree and the resources it holds.
type Site struct {
	Handler web.Handler
	closers []func() error
}

// Close releases what the site holds (open directories).
func (s *Site) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// BuildSite wires mounts into one handler. Backends are chosen by an explicit
// switch; nothing registers itself.
func BuildSite(mounts []Mount) (*Site, error) {
	if len(mounts) == 0 {
		return nil, errors.New("nothing to serve: give --demo or --static /prefix=DIR")
	}
	site := &Site{}
	var mux route.Mux
	seen := map[string]bool{}
	for _, m := range mounts {
		prefix := m.Prefix
		if prefix == "" {
			prefix = "/"
		}
		if !strings.HasPrefix(prefix, "/") {
			site.Close()
			return nil, fmt.Errorf("mount %q: a prefix starts with /", prefix)
		}
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		if seen[prefix] {
			site.Close()
			return nil, fmt.Errorf("mount %q: two things are mounted there", prefix)
		}
		seen[prefix] = true
		switch {
		case m.Demo:
			if prefix != "/" {
				site.Close()
				return nil, fmt.Errorf("the demo site mounts only at /, not %q", prefix)
			}
			mux.Handle(prefix, demo.New())
		case m.Static != nil:
			cfg := *m.Static
			cfg.Prefix = prefix
			h, err := static.New(cfg)
			if err != nil {
				site.Close()
				return nil, fmt.Errorf("mount %q: %w", prefix, err)
			}
			site.closers = append(site.closers, h.Close)
			mux.Handle(prefix, h)
		default:
			site.Close()
			return nil, fmt.Errorf("mount %q: no backend", prefix)
		}
	}
	site.Handler = &mux
	return site, nil
}
