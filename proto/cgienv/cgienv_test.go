package cgienv

import (
	"net/netip"
	"strings"
	"testing"
)

func fieldsOf(kv ...string) func(yield func(name, value []byte) bool) {
	return func(yield func(name, value []byte) bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if !yield([]byte(kv[i]), []byte(kv[i+1])) {
				return
			}
		}
	}
}

func build(t *testing.T, r *Request, m *Mount) (map[string]string, []string, error) {
	t.Helper()
	env := map[string]string{}
	var order []string
	err := Build(r, m, func(name, value string) {
		if _, dup := env[name]; !dup {
			order = append(order, name)
		}
		env[name] = value
	})
	return env, order, err
}

func base() *Request {
	return &Request{
		Method: "POST", Target: []byte("/app/a%20b/c?x=1&y=%20"), Path: []byte("/app/a%20b/c"), Query: []byte("x=1&y=%20"),
		Host: []byte("example.com:8080"), Proto: "HTTP/1.1", Scheme: "http", BodyLength: 5,
		Remote: netip.MustParseAddrPort("192.0.2.10:51234"), Local: netip.MustParseAddrPort("192.0.2.1:8080"),
		Fields: fieldsOf(
			"Host", "example.com:8080",
			"Content-Type", "text/plain",
			"Content-Length", "5",
			"Cookie", "a=1",
			"cookie", "b=2",
			"Accept", "text/html",
			"accept", "*/*",
			"Proxy", "http://evil.example:8888",
			"Content_Length", "-1",
			"X_Forwarded_For", "spoof",
			"X-Request-Id", "abc",
		),
	}
}

func TestBuild(t *testing.T) {
	env, _, err := build(t, base(), &Mount{ScriptName: "/app/", DocumentRoot: "/srv/www", ServerSoftware: "gatehouse/test"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "gatehouse/test",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"REQUEST_METHOD":    "POST",
		"REQUEST_SCHEME":    "http",
		"REQUEST_URI":       "/app/a%20b/c?x=1&y=%20",
		"SCRIPT_NAME":       "/app",
		"PATH_INFO":         "/a b/c",
		"PATH_TRANSLATED":   "/srv/www/a b/c",
		"QUERY_STRING":      "x=1&y=%20",
		"DOCUMENT_ROOT":     "/srv/www",
		"SERVER_NAME":       "example.com",
		"SERVER_PORT":       "8080",
		"SERVER_ADDR":       "192.0.2.1",
		"REMOTE_ADDR":       "192.0.2.10",
		"REMOTE_HOST":       "192.0.2.10",
		"REMOTE_PORT":       "51234",
		"CONTENT_LENGTH":    "5",
		"CONTENT_TYPE":      "text/plain",
		"HTTP_HOST":         "example.com:8080",
		"HTTP_COOKIE":       "a=1; b=2",
		"HTTP_ACCEPT":       "text/html, */*",
		"HTTP_X_REQUEST_ID": "abc",
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	for _, absent := range []string{"HTTP_PROXY", "HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE", "HTTP_X_FORWARDED_FOR", "HTTPS", "SCRIPT_FILENAME"} {
		if v, ok := env[absent]; ok {
			t.Errorf("%s set to %q", absent, v)
		}
	}
	if len(env) != len(want) {
		t.Errorf("%d variables, want %d: %v", len(env), len(want), env)
	}
}

// httpoxy, CVE-2016-5385: whatever its spelling, a Proxy field never reaches
// HTTP_PROXY; and the '_' twins of framing fields are dropped.
func TestHeaderImpersonation(t *testing.T) {
	for _, name := range []string{"Proxy", "PROXY", "proxy", "Http_Proxy", "HTTP_PROXY"} {
		r := base()
		r.Fields = fieldsOf(name, "http://evil:1")
		env, _, _ := build(t, r, &Mount{})
		for k, v := range env {
			if strings.Contains(v, "evil") {
				t.Errorf("%s: reached %s", name, k)
			}
		}
	}
}

func TestMountAndPaths(t *testing.T) {
	cases := []struct {
		mount, path, script, info string
		err                       error
	}{
		{"", "/", "", "/", nil},
		{"/", "/x", "", "/x", nil},
		{"/app", "/app", "/app", "", nil},
		{"/app", "/app/", "/app", "/", nil},
		{"/app", "/app/x/y", "/app", "/x/y", nil},
		{"/app", "/application", "", "", ErrMount},
		{"/app", "/other", "", "", ErrMount},
		{"/index.php", "/index.php/a%2Fb", "/index.php", "/a/b", nil},
		{"/", "/a%0Ab", "", "", ErrPath}, // CVE-2019-11043: a newline in PATH_INFO
		{"/", "/a%00b", "", "", ErrPath},
		{"/", "/a%zz", "", "", ErrPath},
		{"/", "/a%2", "", "", ErrPath},
		{"/", "/caf%C3%A9", "", "/café", nil},
	}
	for _, c := range cases {
		r := base()
		r.Path = []byte(c.path)
		env, _, err := build(t, r, &Mount{ScriptName: c.mount})
		if err != c.err {
			t.Errorf("%s under %q: err %v, want %v", c.path, c.mount, err, c.err)
			continue
		}
		if err == nil && (env["SCRIPT_NAME"] != c.script || env["PATH_INFO"] != c.info) {
			t.Errorf("%s under %q: %q %q, want %q %q", c.path, c.mount, env["SCRIPT_NAME"], env["PATH_INFO"], c.script, c.info)
		}
	}
}

func TestServerAndRemote(t *testing.T) {
	cases := []struct {
		host         string
		scheme       string
		local        string
		name, port   string
		remote, addr string
	}{
		{"example.com", "http", "192.0.2.1:80", "example.com", "80", "[::ffff:192.0.2.9]:1", "192.0.2.9"},
		{"example.com", "https", "", "example.com", "443", "", "127.0.0.1"},
		{"[::1]:8443", "https", "[::1]:8443", "[::1]", "8443", "[::1]:2", "::1"},
		{"", "http", "192.0.2.1:8080", "192.0.2.1", "8080", "", "127.0.0.1"},
	}
	for _, c := range cases {
		r := base()
		r.Host, r.Scheme, r.Local, r.Remote = []byte(c.host), c.scheme, netip.AddrPort{}, netip.AddrPort{}
		if c.local != "" {
			r.Local = netip.MustParseAddrPort(c.local)
		}
		if c.remote != "" {
			r.Remote = netip.MustParseAddrPort(c.remote)
		}
		env, _, _ := build(t, r, &Mount{})
		if env["SERVER_NAME"] != c.name || env["SERVER_PORT"] != c.port || env["REMOTE_ADDR"] != c.addr {
			t.Errorf("%+v: %q %q %q", c, env["SERVER_NAME"], env["SERVER_PORT"], env["REMOTE_ADDR"])
		}
		if (c.scheme == "https") != (env["HTTPS"] == "on") {
			t.Errorf("%+v: HTTPS %q", c, env["HTTPS"])
		}
	}
}

// RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host.
// An application that builds links (a password-reset mail) from HTTP_HOST or
// SERVER_NAME must see the authority the request was routed by, never the
// Host field an attacker set beside it; and REQUEST_URI is the origin form,
// as nginx passes it.
func TestAbsoluteFormTarget(t *testing.T) {
	cases := []struct {
		name, target, path, query, host string
		fields                          []string
		wantURI, wantHost, wantName     string
		hostSet                         bool
	}{
		{"absolute form beats Host", "http://shop.example/x", "/x", "", "shop.example",
			[]string{"Host", "attacker.example"}, "/x", "shop.example", "shop.example", true},
		{"absolute form with port and query", "https://shop.example:8443/a%20b?q=1", "/a%20b", "q=1", "shop.example:8443",
			[]string{"host", "attacker.example", "X-A", "1"}, "/a%20b?q=1", "shop.example:8443", "shop.example", true},
		{"absolute form with an empty path", "http://shop.example?q", "/", "q", "shop.example",
			[]string{"Host", "attacker.example"}, "/?q", "shop.example", "shop.example", true},
		{"origin form", "/x?y", "/x", "y", "shop.example",
			[]string{"Host", "shop.example"}, "/x?y", "shop.example", "shop.example", true},
		{"no Host field", "/x", "/x", "", "",
			nil, "/x", "", "192.0.2.1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := base()
			r.Target, r.Path, r.Host, r.Fields = []byte(c.target), []byte(c.path), []byte(c.host), fieldsOf(c.fields...)
			r.Query = nil
			if c.query != "" || strings.Contains(c.target, "?") {
				r.Query = []byte(c.query)
			}
			env, _, err := build(t, r, &Mount{})
			if err != nil {
				t.Fatal(err)
			}
			host, hostSet := env["HTTP_HOST"]
			if env["REQUEST_URI"] != c.wantURI || host != c.wantHost || hostSet != c.hostSet || env["SERVER_NAME"] != c.wantName {
				t.Fatalf("REQUEST_URI %q HTTP_HOST %q (%v) SERVER_NAME %q; want %q %q (%v) %q",
					env["REQUEST_URI"], host, hostSet, env["SERVER_NAME"], c.wantURI, c.wantHost, c.hostSet, c.wantName)
			}
		})
	}
}

func TestBodyLengthAndExtra(t *testing.T) {
	r := base()
	r.BodyLength = -1 // chunked: no CONTENT_LENGTH (a gateway that needs one buffers the body)
	env, _, _ := build(t, r, &Mount{ScriptFilename: "/srv/www/index.php", Extra: [][2]string{{"APP_ENV", "prod"}, {"SERVER_NAME", "forced"}}})
	if _, ok := env["CONTENT_LENGTH"]; ok {
		t.Error("CONTENT_LENGTH without a length")
	}
	if env["SCRIPT_FILENAME"] != "/srv/www/index.php" || env["APP_ENV"] != "prod" || env["SERVER_NAME"] != "forced" {
		t.Errorf("%v", env)
	}
}

func FuzzBuild(f *testing.F) {
	f.Add("/app/a%20b", "Name", "value", "/app")
	f.Add("/%0a", "Proxy", "x", "")
	f.Add("/x", "a_b", "c", "/")
	f.Fuzz(func(t *testing.T, path, name, value, mount string) {
		r := base()
		r.Path = []byte(path)
		r.Fields = fieldsOf(name, value)
		err := Build(r, &Mount{ScriptName: mount}, func(n, v string) {
			if n == "HTTP_PROXY" {
				t.Fatalf("HTTP_PROXY from %q", name)
			}
			if n == "PATH_INFO" && strings.ContainsAny(v, "\x00\r\n") {
				t.Fatalf("control character in PATH_INFO %q", v)
			}
			if strings.HasPrefix(n, "HTTP_") && strings.Contains(name, "_") {
				t.Fatalf("field %q with '_' became %s", name, n)
			}
		})
		_ = err
	})
}

// TestPortWithoutAddress: a local address that is unspecified stands for a
// port known without its address (a uwsgi front end that sends SERVER_PORT
// and no SERVER_ADDR): SERVER_PORT is that port when the Host has none, and
// neither SERVER_ADDR nor SERVER_NAME is made from the unspecified address.
func TestPortWithoutAddress(t *testing.T) {
	for _, c := range []struct {
		host, name, port string
	}{
		{"example.com", "example.com", "8081"},
		{"example.com:9000", "example.com", "9000"},
		{"", "", "8081"},
	} {
		r := base()
		r.Host, r.Fields = []byte(c.host), nil
		r.Local = netip.AddrPortFrom(netip.IPv4Unspecified(), 8081)
		env, _, err := build(t, r, &Mount{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := env["SERVER_ADDR"]; ok || env["SERVER_NAME"] != c.name || env["SERVER_PORT"] != c.port {
			t.Errorf("host %q: SERVER_ADDR %q, SERVER_NAME %q, SERVER_PORT %q", c.host, env["SERVER_ADDR"], env["SERVER_NAME"], env["SERVER_PORT"])
		}
	}
}
