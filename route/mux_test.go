package route

import (
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

func named(name string) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("X-Handler", name)
		return nil
	})
}

func TestLongestMatch(t *testing.T) {
	var m Mux
	m.Handle("/", named("root"))
	m.Handle("/static/", named("static"))
	m.Handle("/static/img/", named("img"))
	m.Handle("/echo", named("echo"))
	cases := map[string]string{
		"/":                 "root",
		"/x":                "root",
		"/static":           "static",
		"/static/":          "static",
		"/static/a.css":     "static",
		"/static/img":       "img",
		"/static/img/a.png": "img",
		"/staticx":          "root",
		"/echo":             "echo",
		"/echo/more":        "root",
	}
	for path, want := range cases {
		w := webtest.NewRecorder()
		if err := webtest.Serve(&m, w, webtest.NewRequest("GET", path, nil)); err != nil {
			t.Fatal(err)
		}
		if got := w.Head.Get("X-Handler"); got != want {
			t.Errorf("%s -> %q, want %q", path, got, want)
		}
	}
	var empty Mux
	w := webtest.NewRecorder()
	webtest.Serve(&empty, w, webtest.NewRequest("GET", "/", nil))
	if w.Code != 404 {
		t.Fatalf("no route: %d", w.Code)
	}
}

func TestHandlePanicsOnWiringMistakes(t *testing.T) {
	for _, f := range []func(m *Mux){
		func(m *Mux) { m.Handle("x", named("x")) },
		func(m *Mux) { m.Handle("/a", named("a")); m.Handle("/a", named("b")) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f(&Mux{})
		}()
	}
}
