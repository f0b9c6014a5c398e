package server

import (
	"errors"
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
//	              (realip, the request ID, the ACME challenge; the forward proxy, admin: to come)
//	hosts         the site, by Host (route.Hosts)
//	site chain    what a whole site shares (hsts, headers, session, csrf; to come: access control)
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
	// realip first, always: every later layer, the access log and the
	// gateways see the client a trusted proxy reports, and no one else's
	// X-Forwarded-* (a client's own "X-Forwarded-Proto: https" must not
	// reach an application).
	{"realip", func(*Built) bool { return true },
		func(b *Built, next web.Handler) web.Handler { return b.trust.Middleware()(next) }},
	// The request ID next: every request that reaches a handler has one,
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
	// layer answers. (Access control comes after it.)
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
	// session before csrf: the synchronizer token lives in the session,
	// and a double-submit token is bound to its ID.
	{"session", func(s *config.Site) bool { return s.Session != nil },
		func(b *Built, s *config.Site, next web.Handler) (web.Handler, error) {
			return b.sessionLayer(s.Session, next)
		}},
	// csrf before routing: a forged request is refused whatever route it
	// names (the bypass patterns are matched on the path as routing
	// cleans it).
	{"csrf", func(s *config.Site) bool { return s.CSRF != nil },
		func(b *Built, s *config.Site, next web.Handler) (web.Handler, error) {
			return b.csrfLayer(s.CSRF, next)
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
	// methods next: a method the route refuses is 405 before any work,
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
	// (access control and signed requests come here, before sessions;
	// OAuth2 login after csrf.)
	//
	// session, then csrf, for a route whose site has neither: csrf's
	// tokens live in the session.
	{"session", func(r *config.Route) bool { return r.Session != nil },
		func(b *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			return b.sessionLayer(r.Session, next)
		}},
	// csrf before buffering: a forged request is refused before its body
	// is spooled, and the token field is looked for in the first max_form
	// bytes of a form, which then go on ahead of the rest, so that the
	// buffering below reads the body as the client sent it.
	{"csrf", func(r *config.Route) bool { return r.CSRF != nil },
		func(b *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			return b.csrfLayer(r.CSRF, next)
		}},
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
	// Buffering right around the application, so that the application
	// runs on a request whose body is in, and no worker waits for a client.
	// A php route buffers its scripts only, inside the backend (see php).
	{"buffering", func(r *config.Route) bool { return r.IsApplication() && r.PHP == nil },
		func(b *Built, r *config.Route, next web.Handler) (web.Handler, error) {
			return b.buffering(r).Wrap(next), nil
		}},
	// inbound on every route, right before the backend (only the timing
	// below is inside it): the fields
	// only gatehouse may send (identity, CSRF token, session values) are
	// removed from what the client sent, in every spelling, and gatehouse's
	// own added (CVE-2025-64484). Below the others, because they read the
	// client's X-CSRF-Token and record what they pass; one place, because a
	// backend (the proxy, a gateway) that forgot it would trust a forged user.
	{"inbound", func(r *config.Route) bool { return true },
		func(_ *Built, _ *config.Route, next web.Handler) (web.Handler, error) {
			return inbound{next}, nil
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

// inbound hands the backend the request as web.Request.Inbound makes it.
type inbound struct{ next web.Handler }

func (h inbound) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	r.Inbound()
	return h.next.ServeHTTP(w, r)
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
				var rp *routeProblem
				if errors.As(err, &rp) {
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
