package server

import (
	"fmt"

	"gatehouse/config"
	"gatehouse/middleware/buffer"
	"gatehouse/middleware/hsts"
	"gatehouse/middleware/limits"
	"gatehouse/middleware/requestid"
	"gatehouse/route"
	"gatehouse/web"
)

// The order of the handler chains lives here, in one place, not in the order
// of keys in a file: each layer sees the request after the layers above it
// and the response before them. A new middleware takes its place in the list
// it belongs to, with the reason for that place beside it.
//
// A request goes through:
//
//	front chain   before site routing: what must answer whatever the host
//	              (the request ID, the ACME challenge; the forward proxy, admin: to come)
//	hosts         the site, by Host (route.Hosts)
//	site chain    what a whole site shares (hsts, headers; to come: access control, sessions)
//	routes        the route, by path (route.Mux)
//	route chain   routeChain below, outermost first
//	backend       backends.go
//
// frontLayer is one middleware of the front chain, before site routing.
type frontLayer struct {
	name    string
	applies func(b *Built) bool
	wrap    func(b *Built, next web.Handler) web.Handler
}

// frontChain wraps the host router, outermost first: what answers whatever
// the host. (CONNECT is refused by serve/http1 itself until the forward
// proxy takes it here.)
var frontChain = []frontLayer{
	// The request ID first: every request that reaches a handler has one,
	// whatever answers it, for the backends, the header rules and the log.
	{"request_id", func(b *Built) bool { return b.requestID != nil },
		func(b *Built, next web.Handler) web.Handler { return requestid.Wrap(*b.requestID, next) }},
	// The CA's HTTP-01 requests, before any site: the name it validates may
	// be served by no site yet, and a site's redirect must not catch them.
	{"acme", func(b *Built) bool { return b.acme != nil },
		func(b *Built, next web.Handler) web.Handler { return b.acme.Middleware()(next) }},
}

// siteLayer is one middleware of a site's chain, as routeLayer is of a
// route's.
type siteLayer struct {
	name    string
	applies func(s *config.Site) bool
	wrap    func(b *Built, s *config.Site, next web.Handler) (web.Handler, error)
}

// siteChain wraps a site's routes, outermost first.
var siteChain = []siteLayer{
	// hsts first: every response of the site carries it, whatever a later
	// layer answers. (Access control and sessions come after it.)
	{"hsts", func(s *config.Site) bool { return s.HSTS != "" },
		func(_ *Built, s *config.Site, next web.Handler) (web.Handler, error) {
			return hsts.Wrap(s.HSTS, next), nil
		}},
	// The site's header rules: around every route (and the 404 of a path
	// no route takes); a route's own rules run inside them, so on requests
	// the route's set wins and on responses the site's.
	{"headers", func(s *config.Site) bool { return s.Headers != nil },
		func(_ *Built, s *config.Site, next web.Handler) (web.Handler, error) {
			m, err := headerRules(s.Headers)
			if err != nil {
				return nil, err
			}
			return m.Wrap(next), nil
		}},
}

// routeLayer is one middleware of a route's chain: applies says whether the
// route has it, wrap builds it around next.
type routeLayer struct {
	name    string
	applies func(r *config.Route) bool
	wrap    func(b *Built, r *config.Route, next web.Handler) (web.Handler, error)
}

// routeChain is a route's chain, outermost first.
var routeChain = []routeLayer{
	// Header rules first: their request fields are what every later layer
	// and the backend see, and their response rules see whatever the route
	// answers (405 included, with always).
	{"headers", func(r *config.Route) bool { return r.Headers != nil },
		func(_ *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			m, err := headerRules(r.Headers)
			if err != nil {
				return nil, err
			}
			return m.Wrap(next), nil
		}},
	// methods first: a method the route refuses is 405 before any work,
	// and OPTIONS is answered from the list.
	{"methods", func(r *config.Route) bool { return len(r.Methods) > 0 },
		func(_ *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			return web.Allow(next, r.Methods...), nil
		}},
	// The route's own limits after methods: a body over them is 413 before
	// anything reads it, and the deadline covers every layer below.
	{"limits", func(r *config.Route) bool { return r.Limits != nil },
		func(_ *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			var c limits.Config
			if m := r.Limits.MaxBody; m != nil {
				c.MaxBody = m.Bytes
			}
			c.Timeout = dur(r.Limits.Timeout, 0)
			return c.Wrap(next), nil
		}},
	// (access control, signed requests, sessions, CSRF and OAuth2 login go
	// here, in that order, when they come: each needs the one before.)
	//
	// Compression sees the response as it leaves the route: the file
	// X-Sendfile names (so outside x_sendfile and x_accel) and the
	// application's response after buffering, which it sends from its
	// drainer with the flushes the application made. Outside the
	// buffering, the application's worker is freed as soon as its
	// response is taken, not after it is compressed, and a slow client's
	// response waits uncompressed in the buffer, as nginx's gzip runs on
	// what proxy_buffering hands it. It never sees a flush late: every
	// flush reaches it as the buffer sends it.
	{"compress", func(r *config.Route) bool { return r.Compress != nil },
		func(b *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			e, err := b.compressor(r.Compress)
			if err != nil {
				return nil, err
			}
			return e.Wrap(next), nil
		}},
	// X-Sendfile and X-Accel-Redirect outside the buffering: the file an
	// application names goes out by sendfile from gatehouse, after the
	// application's worker is free.
	{"x_sendfile", func(r *config.Route) bool { return r.XSendfile != nil },
		func(b *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			return b.sendfile("x_sendfile", r.XSendfile.Dir, "", r.XSendfile.Keep, next)
		}},
	{"x_accel", func(r *config.Route) bool { return r.XAccel != nil },
		func(b *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			return b.sendfile("x_accel", r.XAccel.Dir, r.XAccel.Prefix, r.XAccel.Keep, next)
		}},
	// Buffering right around the application, so that everything above
	// runs on a request whose body is in, and no worker waits for a client.
	// A php route buffers its scripts only, inside the backend (see php).
	{"buffering", func(r *config.Route) bool { return r.IsApplication() && r.PHP == nil },
		func(b *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			return b.buffering(r).Wrap(next), nil
		}},
	// The application's timing innermost, right around the backend, when
	// the access log reports it ($upstream_*): it times the application,
	// not the client the buffering shields it from.
	{"upstream_timing", func(r *config.Route) bool { return r.IsApplication() },
		func(b *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			if !b.upstreamTiming {
				return next, nil
			}
			return timed(next), nil
		}},
}

// route builds a route's handler: its backend inside its chain.
func (b *Built) route(r *config.Route, site *route.Site, opt BuildOptions) (web.Handler, error) {
	h, err := b.backend(r, site, opt)
	if err != nil {
		return nil, err
	}
	for i := len(routeChain) - 1; i >= 0; i-- {
		if l := routeChain[i]; l.applies(r) {
			if h, err = l.wrap(b, r, h); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// front wraps the host router in the front chain.
func (b *Built) front(hosts web.Handler) web.Handler {
	h := hosts
	for i := len(frontChain) - 1; i >= 0; i-- {
		if l := frontChain[i]; l.applies(b) {
			h = l.wrap(b, h)
		}
	}
	return h
}

// siteHandler wraps a site in its chain, inside the site's error pages (a
// site middleware's errors are rendered with them too).
func (b *Built) siteHandler(s *config.Site, site *route.Site) (web.Handler, error) {
	var h web.Handler = site
	wrapped := false
	for i := len(siteChain) - 1; i >= 0; i-- {
		if l := siteChain[i]; l.applies(s) {
			var err error
			if h, err = l.wrap(b, s, h); err != nil {
				if _, named := err.(*routeProblem); named {
					return nil, err // it names its key
				}
				return nil, fmt.Errorf("%s: %w", l.name, err)
			}
			wrapped = true
		}
	}
	if !wrapped {
		return site, nil
	}
	inner := h
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if site.Pages != nil {
			r.SetErrorPages(site.Pages)
		}
		return inner.ServeHTTP(w, r)
	}), nil
}

// buffering returns the buffering of an application route: request and
// response buffering unless the route turns them off. Routes that agree
// share one (and its pools of buffers).
func (b *Built) buffering(r *config.Route) *buffer.Buffer {
	key := [2]bool{r.RequestBuffering != nil && !*r.RequestBuffering, r.ResponseBuffering != nil && !*r.ResponseBuffering}
	if bf := b.buffers[key]; bf != nil {
		return bf
	}
	c := b.bufCfg
	c.StreamRequests, c.StreamResponses = key[0], key[1]
	bf := buffer.New(c)
	if b.buffers == nil {
		b.buffers = map[[2]bool]*buffer.Buffer{}
	}
	b.buffers[key] = bf
	return bf
}
