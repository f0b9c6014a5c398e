package upstreamspec

import "testing"

func TestParseStatus(t *testing.T) {
	for _, c := range []struct {
		in    string
		ok    bool
		match []int
		miss  []int
	}{
		{"200", true, []int{200}, []int{201, 299, 500}},
		{"204", true, []int{204}, []int{200}},
		{"100", true, []int{100}, []int{101}},
		{"599", true, []int{599}, []int{500}},
		{"2xx", true, []int{200, 204, 299}, []int{199, 300, 500}},
		{"1xx", true, []int{100, 199}, []int{200}},
		{"5xx", true, []int{500, 599}, []int{499}},
		{"099", false, nil, nil},
		{"600", false, nil, nil},
		{"0xx", false, nil, nil},
		{"6xx", false, nil, nil},
		{"2XX", false, nil, nil},
		{"2x0", false, nil, nil},
		{"+20", false, nil, nil},
		{"20", false, nil, nil},
		{"2000", false, nil, nil},
		{"", false, nil, nil},
		{" 200", false, nil, nil},
	} {
		s, err := ParseStatus(c.in)
		if (err == nil) != c.ok {
			t.Errorf("%q: err = %v", c.in, err)
			continue
		}
		if !c.ok {
			continue
		}
		if s.String() != c.in {
			t.Errorf("%q: String() = %q", c.in, s.String())
		}
		for _, code := range c.match {
			if !s.Match(code) {
				t.Errorf("%q does not match %d", c.in, code)
			}
		}
		for _, code := range c.miss {
			if s.Match(code) {
				t.Errorf("%q matches %d", c.in, code)
			}
		}
	}
}

func TestNames(t *testing.T) {
	if Policies[0] != "round_robin" {
		t.Fatalf("the default policy is %q", Policies[0])
	}
	for _, n := range []string{"round_robin", "least_conn", "ip_hash", "first", "random", "random_two"} {
		if !IsPolicy(n) {
			t.Errorf("%q is not a policy", n)
		}
	}
	for _, n := range []string{"", "roundrobin", "hash", "Round_Robin"} {
		if IsPolicy(n) {
			t.Errorf("%q is a policy", n)
		}
	}
	if !IsCheckKind("http") || !IsCheckKind("tcp") || IsCheckKind("udp") || IsCheckKind("") {
		t.Error("check kinds")
	}
}

func TestValidPathHost(t *testing.T) {
	for s, want := range map[string]bool{
		"/": true, "/health": true, "/a/b?x=1&y=%20": true, "/~user": true,
		"": false, "health": false, "*": false, "http://a/": false, "/a b": false,
		"/a\tb": false, "/a\r\nX: y": false, "/\x7f": false, "/\xc3\xa9": false,
	} {
		if ValidPath(s) != want {
			t.Errorf("ValidPath(%q) = %v", s, !want)
		}
	}
}
