package encodespec

import "testing"

func TestValidType(t *testing.T) {
	for s, want := range map[string]bool{
		"text/html": true, "text/*": true, "application/ld+json": true,
		"text": false, "/html": false, "text/": false, "*/*": false, "Text/HTML": false,
		"text/html; charset=utf-8": false, "text/html,text/css": false, "text/ html": false, "": false,
	} {
		if got := ValidType(s); got != want {
			t.Errorf("%q: %v", s, got)
		}
	}
}

func TestLevels(t *testing.T) {
	for i, l := range Levels {
		if l.Min > l.Default || l.Default > l.Max {
			t.Errorf("%s: %+v", Codings[i], l)
		}
	}
}
