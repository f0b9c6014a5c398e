package web

// Key names one typed value a middleware keeps on a request for the handlers
// after it: a session, a user, a CSRF token.
//
//	var SessionKey = web.NewKey[*Session]("session")
//
//	SessionKey.Set(r, s)       // the session middleware
//	s, ok := SessionKey.Get(r) // a handler after it
//
// Values live on the Request, not in its context: there is no chain of
// context.WithValue to walk and no allocation to add one. They last as long
// as the request: the server drops them when it reuses the Request for the
// next one, and Clone copies them. Like the rest of a Request they are not
// safe for concurrent use.
//
// Make keys once, at package initialisation or start-up, never per request:
// every NewKey is a new key, distinct from all others even with the same name
// and type, and a request has room for four values without allocating (more
// are kept in storage the request reuses). A pointer (or a map, channel or
// func) is stored as it is; a value of another type is boxed, as a conversion
// to any boxes it, which most often costs an allocation per Set. The zero Key
// is no key: Get finds nothing under it, Set panics.
type Key[T any] struct{ k *key }

// key is a Key's identity, shared by every copy of the Key.
type key struct{ name string }

// NewKey returns a new key for values of type T; name is for people reading
// logs and test failures (String).
func NewKey[T any](name string) Key[T] { return Key[T]{&key{name: name}} }

// String returns the key's name.
func (k Key[T]) String() string {
	if k.k == nil {
		return "<zero web.Key>"
	}
	return k.k.name
}

// Get returns the value set under k on r, and whether one was.
func (k Key[T]) Get(r *Request) (T, bool) {
	if v, ok := r.value(k.k); ok {
		t, _ := v.(T) // always T, but a nil interface T comes back as nil any
		return t, true
	}
	var zero T
	return zero, false
}

// Set puts v on r under k, replacing the value k had there.
func (k Key[T]) Set(r *Request, v T) {
	if k.k == nil {
		panic("web: Set with a Key not made by NewKey")
	}
	r.setValue(k.k, v)
}

// inlineValues is how many values a Request holds without allocating.
const inlineValues = 4

// keyValue is one value set on a request.
type keyValue struct {
	k *key
	v any
}

// value returns the value under k. The inline slots fill from the first, and
// more is used only once they are all taken.
func (r *Request) value(k *key) (any, bool) {
	for i := range r.values {
		switch r.values[i].k {
		case nil:
			return nil, false
		case k:
			return r.values[i].v, true
		}
	}
	for i := range r.more {
		if r.more[i].k == k {
			return r.more[i].v, true
		}
	}
	return nil, false
}

func (r *Request) setValue(k *key, v any) {
	for i := range r.values {
		switch r.values[i].k {
		case nil:
			r.values[i] = keyValue{k, v}
			return
		case k:
			r.values[i].v = v
			return
		}
	}
	for i := range r.more {
		if r.more[i].k == k {
			r.more[i].v = v
			return
		}
	}
	r.more = append(r.more, keyValue{k, v})
}

// resetValues drops every value, keeping more's storage for the next request.
func (r *Request) resetValues() {
	if r.values[0].k == nil {
		return // none were set: the common case costs one comparison
	}
	clear(r.values[:])
	clear(r.more)
	r.more = r.more[:0]
}

// copyValues gives c the values of r: the same values, not copies of what
// they point to.
func (r *Request) copyValues(c *Request) {
	c.values = r.values
	if len(r.more) > 0 {
		c.more = append([]keyValue(nil), r.more...)
	}
}
