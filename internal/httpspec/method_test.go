package httpspec

import "testing"

func TestMethod(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"GET", true}, {"HEAD", true}, {"POST", true}, {"PUT", true}, {"DELETE", true},
		{"OPTIONS", true}, {"PATCH", true}, {"CONNECT", true}, {"TRACE", true},
		{"PROPFIND", true}, {"PROPPATCH", true}, {"MKCOL", true}, {"COPY", true}, {"MOVE", true},
		{"LOCK", true}, {"UNLOCK", true}, {"REPORT", true}, {"SEARCH", true},
		{"", false},
		{"get", false}, // methods are case sensitive (RFC 9110 §9.1)
		{"Get", false},
		{"GE", false},
		{"GETX", false},
		{"GET ", false},
		{"BREW", false}, // a token, but not a method gatehouse knows
		{"PRI", false},  // the HTTP/2 preface's
	} {
		got, ok := Method([]byte(c.in))
		if ok != c.want || ok && got != c.in || !ok && got != "" {
			t.Errorf("Method(%q) = %q %v, want %v", c.in, got, ok, c.want)
		}
		if IsMethod(c.in) != c.want {
			t.Errorf("IsMethod(%q) = %v, want %v", c.in, !c.want, c.want)
		}
		if c.want && !IsToken(c.in) {
			t.Errorf("%q is not a token", c.in)
		}
	}
	if len(methods) != 18 {
		t.Errorf("%d methods: add the new ones to the table above", len(methods))
	}
	m := []byte("SEARCH")
	if a := testing.AllocsPerRun(100, func() { Method(m) }); a != 0 {
		t.Fatalf("Method: %v allocations", a)
	}
}
