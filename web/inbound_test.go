package web_test

import (
	"strings"
	"testing"

	"gatehouse/web"
	"gatehouse/web/webtest"
)

func TestReservedField(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{"X-CSRF-Token", true}, {"x-csrf-token", true}, {"X_CSRF_Token", true}, {"X-Csrf_Token", true}, {"X_CSRF-TOKEN", true},
		{"X-Forwarded-User", true}, {"X_Forwarded_User", true}, {"x-forwarded-email", true}, {"X_FORWARDED_EMAIL", true},
		{"X-Forwarded-Groups", true}, {"X-Forwarded-Preferred-Username", true}, {"X-Forwarded-Access-Token", true},
		{"X-Session-User", true}, {"X_Session_User", true}, {"x-session-x", true}, {"X-SESSION-SET", true},
		{"Gatehouse-Anything", true}, {"GATEHOUSE_CSRF_TOKEN", true}, {"gatehouse-x", true},

		{"X-Session-", false}, // a prefix alone names nothing
		{"X-Session", false}, {"X-Sessions-User", false}, {"X-Sessionx", false},
		{"Gatehouse", false}, {"Gatehouse-", false}, {"Gatehousex", false},
		{"X-CSRF-Tokens", false}, {"X-CSRF-Toke", false}, {"XX-CSRF-Token", false},
		{"X-Forwarded-For", false}, {"X-Forwarded-Proto", false}, {"X-Forwarded-Users", false},
		{"Cookie", false}, {"Host", false}, {"", false}, {"X", false},
		{"X-CSRF-Token ", false},
		{"X.CSRF.Token", false}, // only '_' stands for '-'
	} {
		if got := web.ReservedField([]byte(c.name)); got != c.want {
			t.Errorf("ReservedField(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

func fieldList(r *web.Request) string {
	var s []string
	for n, v := range r.Header.All() {
		s = append(s, string(n)+": "+string(v))
	}
	return strings.Join(s, "\n")
}

// The client's copies go, in every spelling; gatehouse's are added; other
// fields keep their order. Research case 14 (CVE-2025-64484).
func TestInbound(t *testing.T) {
	r := webtest.NewRequest("POST", "/", nil,
		"Accept: */*",
		"X-CSRF-Token: x",
		"X_CSRF_Token: y",
		"X-Forwarded-User: admin",
		"X_Forwarded_User: admin",
		"x_forwarded_email: admin@example.com",
		"X-Session-User: admin",
		"Gatehouse-Debug: 1",
		"X-Forwarded-For: 192.0.2.1",
		"Cookie: a=1",
	)
	r.PassField("X-Session-User", "alice")
	r.PassField("X-CSRF-Token", "first")
	r.PassField("X-CSRF-Token", "ours") // replaces
	r.PassVar("GATEHOUSE_CSRF_TOKEN", "ours")
	r.Inbound()
	want := "Host: example.test\nAccept: */*\nX-Forwarded-For: 192.0.2.1\nCookie: a=1\nX-Session-User: alice\nX-CSRF-Token: ours"
	if got := fieldList(r); got != want {
		t.Fatalf("fields:\n%s\nwant:\n%s", got, want)
	}
	r.Inbound()
	if got := fieldList(r); got != want {
		t.Fatalf("a second Inbound changed them:\n%s", got)
	}
	if string(r.Passed("X-CSRF-Token")) != "ours" {
		t.Fatal("Passed")
	}
	var vars []string
	for n, v := range r.PassedVars() {
		vars = append(vars, string(n)+"="+string(v))
	}
	if strings.Join(vars, " ") != "GATEHOUSE_CSRF_TOKEN=ours" {
		t.Fatalf("vars %q", vars)
	}
	c := r.Clone()
	if string(c.Passed("X-CSRF-Token")) != "ours" {
		t.Fatal("Clone dropped the passed fields")
	}
	// The next request on the Request starts with nothing passed.
	r.Init(web.Head{Method: "GET", Target: []byte("/"), Path: []byte("/")}, web.Conn{}, web.NoBody)
	r.Header.Add("X-Session-User", "mallory")
	r.Inbound()
	if r.Header.Len() != 0 || r.Passed("X-CSRF-Token") != nil {
		t.Fatalf("left from the last request: %s", fieldList(r))
	}
	for range r.PassedVars() {
		t.Fatal("a variable left from the last request")
	}
}

func TestPassPanics(t *testing.T) {
	r := webtest.NewRequest("GET", "/", nil)
	for name, f := range map[string]func(){
		"PassField of an ordinary field": func() { r.PassField("X-User", "a") },
		"PassVar without GATEHOUSE_":     func() { r.PassVar("REMOTE_USER", "a") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

// Inbound on a request without reserved fields, the common case, allocates
// nothing.
func TestInboundAllocs(t *testing.T) {
	r := webtest.NewRequest("GET", "/", nil, "Host: example.com", "Accept: */*", "User-Agent: test",
		"Accept-Encoding: gzip", "X-Forwarded-For: 192.0.2.1", "Cookie: a=1")
	if n := testing.AllocsPerRun(100, r.Inbound); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func BenchmarkInbound(b *testing.B) {
	r := webtest.NewRequest("GET", "/", nil, "Host: example.com", "Accept: */*", "User-Agent: test",
		"Accept-Encoding: gzip", "X-Forwarded-For: 192.0.2.1", "Cookie: a=1")
	b.ReportAllocs()
	for b.Loop() {
		r.Inbound()
	}
}
