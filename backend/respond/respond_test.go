package respond

import (
	"testing"

	"gatehouse/web/webtest"
)

func TestRespond(t *testing.T) {
	rs := &Handler{Status: 503, Body: []byte("down for maintenance\n"), Headers: [][2]string{{"Retry-After", "120"}}}
	w := webtest.NewRecorder()
	webtest.Serve(rs, w, webtest.NewRequest("GET", "/", nil))
	if w.Code != 503 || w.Body.String() != "down for maintenance\n" || w.Head.Get("Retry-After") != "120" ||
		w.Head.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("%d %q %v", w.Code, w.Body.String(), w.Head.Get("Retry-After"))
	}
	w = webtest.NewRecorder()
	webtest.Serve(&Handler{}, w, webtest.NewRequest("GET", "/", nil))
	if w.Code != 200 || w.Body.Len() != 0 || w.Head.Has("Content-Type") {
		t.Fatalf("empty respond: %d %q", w.Code, w.Body.String())
	}
	w = webtest.NewRecorder()
	webtest.Serve(&Handler{Body: []byte("{}"), ContentType: "application/json"}, w, webtest.NewRequest("GET", "/", nil))
	if w.Code != 200 || w.Body.String() != "{}" || w.Head.Get("Content-Type") != "application/json" {
		t.Fatalf("typed respond: %d %q %q", w.Code, w.Body.String(), w.Head.Get("Content-Type"))
	}
}
