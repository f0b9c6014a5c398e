package server

import (
	"sync"
	"sync/atomic"

	"gatehouse/web"
)

// Root is a swappable handler: the built configuration every endpoint serves
// (unless it has its own). Swap installs a new handler for the requests that
// start from then on; requests already in the old one finish there, and the
// channel Swap returns closes when the last of them has, so that the old
// build can then be closed (its worker pools stopped, its files closed).
//
// A request costs two atomic additions on its generation's counter.
type Root struct {
	cur atomic.Pointer[generation]
}

// generation is one handler a Root has served, with its requests in flight.
type generation struct {
	h       web.Handler
	active  atomic.Int64
	retired atomic.Bool
	drained chan struct{}
	once    sync.Once
}

var _ web.Handler = (*Root)(nil)

// NewRoot returns a Root serving h.
func NewRoot(h web.Handler) *Root {
	rt := &Root{}
	rt.cur.Store(newGeneration(h))
	return rt
}

func newGeneration(h web.Handler) *generation {
	return &generation{h: h, drained: make(chan struct{})}
}

// ServeHTTP serves r with the current handler.
func (rt *Root) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	g := rt.enter()
	defer g.release() // also when the handler panics
	return g.h.ServeHTTP(w, r)
}

// enter counts a request in the current generation and returns it. (Apart
// from ServeHTTP so that its defer is not in a loop: a deferred call in a
// loop costs an allocation per request.)
func (rt *Root) enter() *generation {
	for {
		g := rt.cur.Load()
		g.active.Add(1)
		if !g.retired.Load() {
			return g
		}
		// Swapped between the load and the count: this request belongs
		// to the new handler (the old one may be drained already).
		g.release()
	}
}

func (g *generation) release() {
	if g.active.Add(-1) == 0 && g.retired.Load() {
		g.once.Do(func() { close(g.drained) })
	}
}

// Handler returns the handler serving new requests.
func (rt *Root) Handler() web.Handler { return rt.cur.Load().h }

// Swap makes h serve every request from now on and returns a channel that
// closes once no request is left in the handler it replaced.
func (rt *Root) Swap(h web.Handler) <-chan struct{} {
	old := rt.cur.Swap(newGeneration(h))
	old.retired.Store(true)
	if old.active.Load() == 0 {
		old.once.Do(func() { close(old.drained) })
	}
	return old.drained
}
