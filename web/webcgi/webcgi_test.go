package webcgi

import (
	"strings"
	"testing"

	"gatehouse/proto/cgienv"
	"gatehouse/web/webtest"
)

func TestRequest(t *testing.T) {
	r := webtest.NewRequest("PUT", "/a/b?q=1", strings.NewReader("body"), "X-Test: yes", "Proxy: evil")
	env := map[string]string{}
	if err := cgienv.Build(Request(r), &cgienv.Mount{ScriptName: "/a"}, func(n, v string) { env[n] = v }); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"REQUEST_METHOD": "PUT", "SCRIPT_NAME": "/a", "PATH_INFO": "/b", "QUERY_STRING": "q=1",
		"CONTENT_LENGTH": "4", "HTTP_X_TEST": "yes", "SERVER_NAME": "example.test", "REMOTE_ADDR": "192.0.2.1",
		"REMOTE_PORT": "1234", "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_URI": "/a/b?q=1",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["HTTP_PROXY"]; ok {
		t.Error("httpoxy")
	}
}

// What gatehouse passes (PassVar) reaches the gateways as a variable of its
// own; a client's field can only ever be HTTP_*, and a '_' spelling not even
// that.
func TestPassedVars(t *testing.T) {
	r := webtest.NewRequest("POST", "/", nil, "Gatehouse-Csrf-Token: forged", "GATEHOUSE_CSRF_TOKEN: forged")
	r.PassVar("GATEHOUSE_CSRF_TOKEN", "ours")
	env := map[string]string{}
	m := &cgienv.Mount{Extra: [][2]string{{"GATEHOUSE_CSRF_TOKEN", "operator"}}}
	if err := cgienv.Build(Request(r), m, func(n, v string) { env[n] = v }); err != nil {
		t.Fatal(err)
	}
	if env["GATEHOUSE_CSRF_TOKEN"] != "ours" {
		t.Fatalf("GATEHOUSE_CSRF_TOKEN = %q", env["GATEHOUSE_CSRF_TOKEN"])
	}
	if v, ok := env["HTTP_GATEHOUSE_CSRF_TOKEN"]; !ok || v != "forged" {
		// The field is the client's and stays HTTP_*: only Inbound, in the
		// chain, removes it; here it shows that it cannot become ours.
		t.Fatalf("HTTP_GATEHOUSE_CSRF_TOKEN = %q, %v", v, ok)
	}
}
