package web_test

import (
	"fmt"
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

type user struct{ name string }

var (
	userKey  = web.NewKey[*user]("user")
	adminKey = web.NewKey[*user]("admin") // same type, another key
	tokenKey = web.NewKey[string]("token")
	errKey   = web.NewKey[error]("error") // an interface type
)

// manyKeys are more keys than a request holds inline.
var manyKeys = func() []web.Key[*user] {
	k := make([]web.Key[*user], 7)
	for i := range k {
		k[i] = web.NewKey[*user](fmt.Sprint("k", i))
	}
	return k
}()

func TestKey(t *testing.T) {
	r := webtest.NewRequest("GET", "/", nil)
	if u, ok := userKey.Get(r); ok || u != nil {
		t.Fatalf("before Set: %v %v", u, ok)
	}
	alice, bob := &user{"alice"}, &user{"bob"}
	userKey.Set(r, alice)
	if u, ok := userKey.Get(r); !ok || u != alice {
		t.Fatalf("after Set: %v %v", u, ok)
	}
	if _, ok := adminKey.Get(r); ok {
		t.Fatal("a key of the same type and another name saw the value")
	}
	if _, ok := web.NewKey[*user]("user").Get(r); ok {
		t.Fatal("a key of the same name and type, made again, saw the value")
	}
	userKey.Set(r, bob)
	adminKey.Set(r, alice)
	tokenKey.Set(r, "t0k3n")
	if u, _ := userKey.Get(r); u != bob {
		t.Fatalf("Set again: %v", u)
	}
	if u, _ := adminKey.Get(r); u != alice {
		t.Fatalf("second key: %v", u)
	}
	if s, ok := tokenKey.Get(r); !ok || s != "t0k3n" {
		t.Fatalf("string value: %q %v", s, ok)
	}
	// A nil value is a value: set, and nil.
	errKey.Set(r, nil)
	if err, ok := errKey.Get(r); !ok || err != nil {
		t.Fatalf("nil interface value: %v %v", err, ok)
	}
	userKey.Set(r, nil)
	if u, ok := userKey.Get(r); !ok || u != nil {
		t.Fatalf("nil pointer value: %v %v", u, ok)
	}
	if userKey.String() != "user" || (web.Key[int]{}).String() == "" {
		t.Fatalf("String: %q %q", userKey.String(), web.Key[int]{}.String())
	}
}

// Past the inline slots every key still holds its own value.
func TestKeyMany(t *testing.T) {
	r := webtest.NewRequest("GET", "/", nil)
	users := make([]*user, len(manyKeys))
	for i, k := range manyKeys {
		users[i] = &user{fmt.Sprint(i)}
		k.Set(r, users[i])
	}
	manyKeys[5].Set(r, users[0]) // replaced in the overflow
	manyKeys[1].Set(r, users[6]) // and inline
	users[5], users[1] = users[0], users[6]
	for i, k := range manyKeys {
		if u, ok := k.Get(r); !ok || u != users[i] {
			t.Errorf("%v: %v %v, want %v", k, u, ok, users[i])
		}
	}
	if _, ok := userKey.Get(r); ok {
		t.Fatal("a key never set found a value among many")
	}
}

// The zero Key is no key: nothing is found under it, and Set is a wiring
// mistake.
func TestZeroKey(t *testing.T) {
	r := webtest.NewRequest("GET", "/", nil)
	var zero web.Key[*user]
	if _, ok := zero.Get(r); ok {
		t.Fatal("found a value under the zero key of an empty request")
	}
	for _, k := range manyKeys {
		k.Set(r, &user{})
	}
	if _, ok := zero.Get(r); ok {
		t.Fatal("found a value under the zero key")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Set with the zero key did not panic")
		}
	}()
	zero.Set(r, &user{})
}

// A request the server reuses carries nothing of the last one: Init drops
// every value, inline and beyond.
func TestKeyInitDropsValues(t *testing.T) {
	r := webtest.NewRequest("GET", "/", nil)
	for _, k := range manyKeys {
		k.Set(r, &user{"previous"})
	}
	tokenKey.Set(r, "previous")
	r.Init(web.Head{Method: "GET", Target: []byte("/"), Path: []byte("/")}, web.Conn{}, web.NoBody)
	for _, k := range manyKeys {
		if u, ok := k.Get(r); ok {
			t.Fatalf("%v leaked into the next request: %v", k, u)
		}
	}
	if s, ok := tokenKey.Get(r); ok {
		t.Fatalf("token leaked into the next request: %q", s)
	}
	// The next request fills the slots afresh, in another order.
	for i := len(manyKeys) - 1; i >= 0; i-- {
		if i%2 == 0 {
			manyKeys[i].Set(r, &user{fmt.Sprint("next", i)})
		}
	}
	for i, k := range manyKeys {
		u, ok := k.Get(r)
		if ok != (i%2 == 0) || ok && u.name != fmt.Sprint("next", i) {
			t.Fatalf("%v after Init: %v %v", k, u, ok)
		}
	}
}

// A clone holds the same values, shallowly; a Set on one request afterwards
// does not show on the other.
func TestKeyClone(t *testing.T) {
	r := webtest.NewRequest("GET", "/", nil)
	alice := &user{"alice"}
	for _, k := range manyKeys {
		k.Set(r, alice)
	}
	c := r.Clone()
	for _, k := range manyKeys {
		if u, ok := k.Get(c); !ok || u != alice {
			t.Fatalf("%v on the clone: %v %v", k, u, ok)
		}
	}
	alice.name = "changed"
	if u, _ := manyKeys[0].Get(c); u.name != "changed" {
		t.Fatal("the clone's value is a copy, not the same pointer")
	}
	bob := &user{"bob"}
	manyKeys[0].Set(c, bob) // inline
	manyKeys[6].Set(c, bob) // overflow
	userKey.Set(c, bob)
	if u, _ := manyKeys[0].Get(r); u != alice {
		t.Fatal("a Set on the clone changed the original (inline)")
	}
	if u, _ := manyKeys[6].Get(r); u != alice {
		t.Fatal("a Set on the clone changed the original (overflow)")
	}
	if _, ok := userKey.Get(r); ok {
		t.Fatal("a Set on the clone added to the original")
	}
	r.Init(web.Head{}, web.Conn{}, web.NoBody)
	if u, ok := manyKeys[6].Get(c); !ok || u != bob {
		t.Fatal("the original's reuse cleared the clone")
	}
}

// A request that uses no key costs nothing; one that uses several, inline
// and beyond, allocates nothing once its storage has grown.
func TestKeyAllocs(t *testing.T) {
	r := webtest.NewRequest("GET", "/", nil)
	head := web.Head{Method: "GET", Target: []byte("/"), Path: []byte("/"), ContentLength: 0}
	if a := testing.AllocsPerRun(100, func() {
		r.Init(head, web.Conn{}, web.NoBody)
		if _, ok := userKey.Get(r); ok {
			t.Fatal("found")
		}
	}); a != 0 {
		t.Fatalf("unused keys: %v allocations", a)
	}
	alice := &user{"alice"}
	run := func() {
		r.Init(head, web.Conn{}, web.NoBody)
		for _, k := range manyKeys {
			k.Set(r, alice)
		}
		errKey.Set(r, nil)
		for _, k := range manyKeys {
			if u, ok := k.Get(r); !ok || u != alice {
				t.Fatal("lost")
			}
		}
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Fatalf("%d keys: %v allocations", len(manyKeys)+1, a)
	}
}

func ExampleKey() {
	type session struct{ id string }
	// Made once, beside the middleware that sets it.
	sessionKey := web.NewKey[*session]("session")

	withSession := func(next web.Handler) web.Handler {
		return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			sessionKey.Set(r, &session{id: "abc"})
			return next.ServeHTTP(w, r)
		})
	}
	h := withSession(web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		s, ok := sessionKey.Get(r)
		if !ok {
			return web.ErrForbidden
		}
		_, err := w.WriteString("session " + s.id)
		return err
	}))
	rec := webtest.NewRecorder()
	webtest.Serve(h, rec, webtest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body.String())
	// Output: session abc
}
