package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const sample = `# comment
[server]
grace = "20s"

[http]
max_body = "1m"

[[listen]]
addr = ":8000"

[[listen]]
addr = "unix:/tmp/x.sock"
mode = "0600"

[[site]]
hosts = [
  "example.com",
  "*.example.com",
]
error_pages = { 404 = "/srv/404.html" }

  [[site.route]]
  path = "/"
  demo = true

  [[site.route]]
  path = "/assets/"
  static = { root = "/srv/assets", index = ["a.html"] }

[[site]]
default = true
[site.error_pages]
500 = "/srv/500.html"

  [[site.route]]
  path = "/go"
  redirect = { to = "/x", status = 302 }
`

func TestLocatorLines(t *testing.T) {
	loc, err := locate([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"server.grace":                  3,
		"http.max_body":                 6,
		"listen[0]":                     8,
		"listen[0].addr":                9,
		"listen[1].mode":                13,
		"site[0]":                       15,
		"site[0].hosts":                 16,
		"site[0].hosts[1]":              18,
		"site[0].error_pages.404":       20,
		"site[0].route[0].path":         23,
		"site[0].route[1]":              26,
		"site[0].route[1].static.root":  28,
		"site[0].route[1].static.index": 28,
		"site[1]":                       30,
		"site[1].error_pages":           32,
		"site[1].error_pages.500":       33,
		"site[1].route[0].redirect.to":  37,
	}
	for path, line := range want {
		if got := loc.line(path); got != line {
			t.Errorf("%s: line %d, want %d", path, got, line)
		}
	}
	// A path with no line of its own takes its nearest ancestor's.
	if got := loc.line("site[1].route[0].redirect.status.x"); got != 37 {
		t.Errorf("ancestor line %d", got)
	}
}

func TestParseValid(t *testing.T) {
	c, err := Parse("sample.toml", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Grace.Duration != 20*time.Second || c.HTTP.MaxBody.Bytes != 1<<20 || len(c.Listen) != 2 ||
		c.Listen[1].Mode != "0600" || len(c.Site) != 2 || c.Site[0].Route[1].Static.Index[0] != "a.html" ||
		c.Site[1].ErrorPages["500"] != "/srv/500.html" || c.Site[1].Route[0].Redirect.Status != 302 {
		t.Fatalf("%+v", c)
	}
	if c.Site[0].Line != 15 || c.Site[0].Route[1].Line != 26 || c.Listen[1].Line != 11 {
		t.Fatalf("lines: site %d route %d listen %d", c.Site[0].Line, c.Site[0].Route[1].Line, c.Listen[1].Line)
	}
}

// Every bad value is reported in one pass, each at its own line.
func TestEveryProblemReported(t *testing.T) {
	doc := "[server]\ngrace = \"x\"\nmax_conns = \"y\"\n[http]\nmax_fields = \"z\"\nmax_body = \"w\"\nnope = 1\n" +
		"[[listen]]\naddr = \":1\"\n[[site]]\n[[site.route]]\npath = \"/\"\ndemo = true\n"
	_, err := Parse("f.toml", []byte(doc))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("%v", err)
	}
	lines := []int{}
	for _, p := range ps {
		lines = append(lines, p.Line)
	}
	if len(ps) != 5 || lines[0] != 2 || lines[1] != 3 || lines[2] != 5 || lines[3] != 6 || lines[4] != 7 {
		t.Fatalf("problems at lines %v:\n%v", lines, err)
	}
	if !strings.Contains(ps[4].Msg, `unknown key "http.nope"`) {
		t.Fatalf("%q", ps[4].Msg)
	}
}

func TestSuggest(t *testing.T) {
	cases := map[string]string{
		"site.route.stattic": `did you mean "static"?`,
		"http.max_bodi":      `did you mean "max_body"?`,
		"listen.port":        "valid keys here: addr, allow, h2c, mode, owner, protocol, proxy_from, proxy_protocol, proxy_timeout, redirect_https, tls",
		"nothing.at.all":     "",
	}
	for key, want := range cases {
		if got := suggest(strings.Split(key, ".")); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
}

func TestValuesTypes(t *testing.T) {
	var d Duration
	if d.UnmarshalText([]byte("1m30s")) != nil || d.Duration != 90*time.Second {
		t.Fatal(d)
	}
	for _, bad := range []string{"", "5", "-1s", "5 minutes"} {
		if d.UnmarshalText([]byte(bad)) == nil {
			t.Errorf("duration %q accepted", bad)
		}
	}
	var s Size
	if s.UnmarshalText([]byte("64KiB")) != nil || s.Bytes != 64<<10 {
		t.Fatal(s)
	}
	if s.UnmarshalText([]byte("lots")) == nil {
		t.Error("size accepted")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("[[listen]]\naddr = \":1\"\n[[site]]\n[[site.route]]\npath=\"/\"\ndemo=true\n")
	f.Add("a = [1, {b = 2}]\n[x.y]\nz = 'w'\n[[p]]\n[[p.q]]\n")
	f.Fuzz(func(t *testing.T, doc string) {
		c, err := Parse("f.toml", []byte(doc))
		if err == nil {
			if verr := c.Validate(); verr != nil {
				t.Fatalf("parsed cleanly but does not validate: %v", verr)
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error is not Problems: %v", err)
		}
	})
}

// Addresses at each limit of the listen and dial rules, with the exact
// message each gets.
func TestAddrProblems(t *testing.T) {
	route := "[[site]]\n[[site.route]]\npath = \"/\"\nfastcgi = { pass = %q }\n"
	for _, c := range []struct {
		listen, pass string
		want         string // the message, "" for none
	}{
		{":0", "127.0.0.1:1", ""},
		{"127.0.0.1:65535", "127.0.0.1:65535", ""},
		{"[::1]:8000", "[::1]:9000", ""},
		{"unix:/run/g.sock", "unix:/run/app.sock", ""},
		{":65536", "", `listen.addr ":65536": port must be 0-65535`},
		{":-1", "", `listen.addr ":-1": port must be 0-65535`},
		{":http", "", `listen.addr ":http": port must be 0-65535`},
		{"127.0.0.1:", "", `listen.addr "127.0.0.1:" is not host:port`},
		{"8000", "", `listen.addr "8000" is not host:port`},
		{"unix:", "", `listen.addr "unix:": a Unix socket needs a path`},
		{"", "", "listen: addr is missing"},
		{":8000", "127.0.0.1:0", `fastcgi.pass "127.0.0.1:0" has no port from 1 to 65535`},
		{":8000", "127.0.0.1:65536", `fastcgi.pass "127.0.0.1:65536" has no port from 1 to 65535`},
		{":8000", "127.0.0.1:", `fastcgi.pass "127.0.0.1:" has no port from 1 to 65535`},
		{":8000", ":9000", `fastcgi.pass ":9000" is not host:port`},
		{":8000", "::1:9000", `fastcgi.pass "::1:9000" is not host:port`},
		{":8000", "unix:", `fastcgi.pass "unix:" names no socket path`},
	} {
		pass := c.pass
		if pass == "" {
			pass = "127.0.0.1:9000"
		}
		doc := "[[listen]]\naddr = \"" + c.listen + "\"\n" + strings.Replace(route, "%q", `"`+pass+`"`, 1)
		_, err := Parse("f.toml", []byte(doc))
		var ps Problems
		if c.want == "" {
			if err != nil {
				t.Errorf("listen %q, pass %q: %v", c.listen, c.pass, err)
			}
			continue
		}
		if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Msg != c.want {
			t.Errorf("listen %q, pass %q: %v, want %q", c.listen, c.pass, err, c.want)
		}
	}
}

// [acme] is checked with the listeners that use it.
func TestACMEProblems(t *testing.T) {
	site := "\n[[site]]\nhosts = [\"example.com\", \"*.example.com\", \"192.0.2.1\"]\n  [[site.route]]\n  path = \"/\"\n  demo = true\n"
	for _, c := range []struct {
		name, file, want string
	}{
		{"unused", "[acme]\nemail = \"ops@example.com\"\n[[listen]]\naddr = \":80\"\n" + site, "no listener takes its certificates"},
		{"no names", "[[listen]]\naddr = \":443\"\ntls = { acme = true }\n[[site]]\n  [[site.route]]\n  path = \"/\"\n  demo = true\n", "no names to obtain certificates for"},
		{"wildcard", "[acme]\ndomains = [\"*.example.com\"]\n[[listen]]\naddr = \":443\"\ntls = { acme = true }\n" + site, "is not a host name"},
		{"ca", "[acme]\nca = \"http://ca.test/dir\"\n[[listen]]\naddr = \":443\"\ntls = { acme = true }\n" + site, "is not an https:// URL"},
		{"email", "[acme]\nemail = \"ops\"\n[[listen]]\naddr = \":443\"\ntls = { acme = true }\n" + site, "is not an address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.toml", []byte(c.file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("%v, want %q", err, c.want)
			}
		})
	}
	cfg, err := Parse("f.toml", []byte("[[listen]]\naddr = \":443\"\ntls = { acme = true }\n"+site))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ACMEDomains(); len(got) != 1 || got[0] != "example.com" {
		t.Fatalf("names from the sites: %v, want the one name (no wildcard, no address)", got)
	}
}

// h2c and [http2]'s limits, at each limit and one past it.
func TestHTTP2Problems(t *testing.T) {
	site := "\n[[site]]\n  [[site.route]]\n  path = \"/\"\n  demo = true\n"
	for _, c := range []struct {
		name, file, want string
	}{
		{"streams 1", "[http2]\nmax_concurrent_streams = 1\n[[listen]]\naddr = \":80\"\n" + site, ""},
		{"streams 0", "[http2]\nmax_concurrent_streams = 0\n[[listen]]\naddr = \":80\"\n" + site, "max_concurrent_streams 0"},
		{"streams max", "[http2]\nmax_concurrent_streams = 1048576\n[[listen]]\naddr = \":80\"\n" + site, ""},
		{"streams past", "[http2]\nmax_concurrent_streams = 1048577\n[[listen]]\naddr = \":80\"\n" + site, "max_concurrent_streams 1048577"},
		{"frame 16k", "[http2]\nmax_frame_size = \"16KiB\"\n[[listen]]\naddr = \":80\"\n" + site, ""},
		{"frame below", "[http2]\nmax_frame_size = \"16383\"\n[[listen]]\naddr = \":80\"\n" + site, "max_frame_size 16383"},
		{"frame 16m-1", "[http2]\nmax_frame_size = \"16777215\"\n[[listen]]\naddr = \":80\"\n" + site, ""},
		{"frame 16m", "[http2]\nmax_frame_size = \"16MiB\"\n[[listen]]\naddr = \":80\"\n" + site, "max_frame_size 16777216"},
		{"h2c", "[[listen]]\naddr = \":80\"\nh2c = true\n" + site, ""},
		{"h2c on uwsgi", "[[listen]]\naddr = \":80\"\nh2c = true\nprotocol = \"uwsgi\"\n" + site, "listen.h2c applies only"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.toml", []byte(c.file))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("%v, want %q", err, c.want)
			}
		})
	}
}

func TestTrustedProxiesProblems(t *testing.T) {
	site := "\n[[listen]]\naddr = \":80\"\n[[site]]\n  [[site.route]]\n  path = \"/\"\n  demo = true\n"
	for _, c := range []struct {
		name, list, want string
	}{
		{"words and ranges", `["unix", "private_ranges", "10.0.0.0/8", "192.0.2.1", "::1", "2001:db8::/32"]`, ""},
		{"host bits", `["10.1.2.3/8"]`, "f.toml:2: http.trusted_proxies: \"10.1.2.3/8\" has bits set past its prefix length: write 10.0.0.0/8"},
		{"a name", `["lb.internal"]`, "\"lb.internal\" is not an IP address"},
		{"misspelt word", `["private"]`, "\"private\" is not an IP address"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.toml", []byte("[http]\ntrusted_proxies = "+c.list+"\n"+site))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("%v, want %q", err, c.want)
			}
		})
	}
}

// proxy routes and [[upstream]] kinds, at each limit and one past it.
func TestProxyProblems(t *testing.T) {
	head := "[[listen]]\naddr = \":80\"\n"
	route := func(proxy string) string {
		return head + "[[site]]\n  [[site.route]]\n  path = \"/\"\n  proxy = " + proxy + "\n"
	}
	up := func(kind, extra string) string {
		return "[[upstream]]\nname = \"app\"\nkind = \"" + kind + "\"\naddrs = [\"127.0.0.1:3000\"]\n" + extra
	}
	for _, c := range []struct {
		name, file, want string
	}{
		{"http URL", route(`{ pass = "http://127.0.0.1:3000" }`), ""},
		{"http URL slash", route(`{ pass = "http://127.0.0.1:3000/" }`), ""},
		{"http URL no port", route(`{ pass = "http://app.internal" }`), ""},
		{"https URL", route(`{ pass = "https://[::1]:8443" }`), ""},
		{"unix", route(`{ pass = "unix:/run/app.sock" }`), ""},
		{"host:port", route(`{ pass = "127.0.0.1:3000" }`), ""},
		{"URL with a path", route(`{ pass = "http://127.0.0.1:3000/api" }`), `proxy.pass "http://127.0.0.1:3000/api" has a path`},
		{"ftp URL", route(`{ pass = "ftp://127.0.0.1" }`), `has scheme "ftp"`},
		{"port 0", route(`{ pass = "http://127.0.0.1:0" }`), "has no port from 1 to 65535"},
		{"missing pass", route(`{ host = "x" }`), "proxy: pass is missing"},
		{"no such upstream", route(`{ pass = "app" }`), `proxy.pass "app" names no [[upstream]]`},
		{"upstream http", up("http", "") + route(`{ pass = "app" }`), ""},
		{"upstream https with CA", up("https", "tls_ca = \"config_test.go\"\n") + route(`{ pass = "app" }`), ""},
		{"upstream fastcgi", up("fastcgi", "") + route(`{ pass = "app" }`), `names an upstream of kind "fastcgi"`},
		{"uwsgi route to http upstream", up("http", "") + head + "[[site]]\n  [[site.route]]\n  path = \"/\"\n  uwsgi = { pass = \"app\" }\n", `uwsgi.pass "app" names an upstream of kind "http"`},
		{"bad kind", up("grpc", "") + route(`{ pass = "app" }`), `upstream.kind "grpc" is not one of`},
		{"tls_ca without https", up("http", "tls_ca = \"x.pem\"\n") + route(`{ pass = "app" }`), `need kind = "https"`},
		{"tls_ca missing file", up("https", "tls_ca = \"/nonexistent.pem\"\n") + route(`{ pass = "app" }`), "cannot be read"},
		{"h2c upgrade", route(`{ pass = "http://127.0.0.1:3000", upgrade = ["H2C"] }`), `proxy.upgrade "H2C" cannot be allowed`},
		{"no upgrades", route(`{ pass = "http://127.0.0.1:3000", upgrade = [] }`), ""},
		{"host", route(`{ pass = "http://127.0.0.1:3000", host = "app.internal:8080" }`), ""},
		{"bad host", route(`{ pass = "http://127.0.0.1:3000", host = "a b" }`), `proxy.host "a b"`},
		{"header 1KiB", route(`{ pass = "http://127.0.0.1:3000", max_response_header = "1KiB" }`), ""},
		{"header below", route(`{ pass = "http://127.0.0.1:3000", max_response_header = "1023" }`), "max_response_header must be"},
		{"header 1MiB", route(`{ pass = "http://127.0.0.1:3000", max_response_header = "1MiB" }`), ""},
		{"header past", route(`{ pass = "http://127.0.0.1:3000", max_response_header = "1048577" }`), "max_response_header must be"},
		{"retries 0", route(`{ pass = "http://127.0.0.1:3000", retries = 0 }`), ""},
		{"retries 10", route(`{ pass = "http://127.0.0.1:3000", retries = 10 }`), ""},
		{"retries 11", route(`{ pass = "http://127.0.0.1:3000", retries = 11 }`), "proxy.retries 11 is not 0-10"},
		{"retries -1", route(`{ pass = "http://127.0.0.1:3000", retries = -1 }`), "proxy.retries -1 is not 0-10"},
		{"read_timeout 0", route(`{ pass = "http://127.0.0.1:3000", read_timeout = "0s" }`), "proxy.read_timeout must be positive"},
		{"x_accel on proxy", route(`{ pass = "http://127.0.0.1:3000" }`) + "  x_accel = { prefix = \"/p/\", dir = \"/tmp\" }\n", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("f.toml", []byte(c.file))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("%v, want %q", err, c.want)
			}
		})
	}
}

// An [[upstream]]'s balancing and health keys, each problem at its line.
func TestUpstreamProblems(t *testing.T) {
	site := "\n[[listen]]\naddr = \":80\"\n[[site]]\n  [[site.route]]\n  path = \"/\"\n  demo = true\n"
	ok := `[[upstream]]
name = "app"
addrs = ["127.0.0.1:9000", "unix:/run/app.sock", "app.internal:9000"]
balance = "least_conn"
weights = { "127.0.0.1:9000" = 1000, "app.internal:9000" = 1 }
max_fails = 0
fail_timeout = "30s"
health = { kind = "http", path = "/healthz?full=1", host = "app.example", expect_status = "204", expect_body = "^ok$", interval = "5s", timeout = "1s", rise = 1, fall = 100 }
`
	c, err := Parse("f.toml", []byte(ok+site))
	if err != nil {
		t.Fatal(err)
	}
	u := c.Upstream[0]
	if u.Balance != "least_conn" || u.Weights["127.0.0.1:9000"] != 1000 || *u.MaxFails != 0 || u.FailTimeout.Duration != 30*time.Second ||
		u.Health.Kind != "http" || u.Health.Path != "/healthz?full=1" || u.Health.Fall != 100 || u.Health.Interval.Duration != 5*time.Second {
		t.Fatalf("%+v %+v", u, u.Health)
	}
	// An http check of what speaks FastCGI cannot work.
	_, err = Parse("f.toml", []byte(ok+strings.Replace(site, "demo = true", `fastcgi = { pass = "app" }`, 1)))
	if err == nil || !strings.Contains(err.Error(), `f.toml:8: upstream.health.kind "http" cannot check "app", which fastcgi routes pass to`) {
		t.Fatalf("an http check of a FastCGI server: %v", err)
	}
	if _, err := Parse("f.toml", []byte("[[upstream]]\nname = \"app\"\naddrs = [\"127.0.0.1:1\"]\ndown_for = \"4s\"\n"+
		"[upstream.health]\nkind = \"tcp\"\nsend = \"PING\\r\\n\"\nexpect = \"+PONG\"\n"+site)); err != nil {
		t.Fatalf("down_for alone, a tcp check as a table: %v", err)
	}

	bad := `[[upstream]]
name = "app"
addrs = ["127.0.0.1:9000", "127.0.0.1:9001"]
balance = "hash"
max_fails = -1
fail_timeout = "0s"
down_for = "5s"
[upstream.weights]
"127.0.0.1:9000" = 0
"127.0.0.1:9001" = 1001
"127.0.0.1:9002" = 2
[upstream.health]
kind = "http"
path = "health"
host = "a b"
expect_status = "2XX"
expect_body = "("
send = "x"
interval = "0s"
rise = -1
fall = 101

[[upstream]]
name = "tcp"
addrs = ["127.0.0.1:1"]
health = { kind = "tcp", path = "/", expect = "x" }

[[upstream]]
name = "none"
addrs = ["127.0.0.1:1"]
health = { kind = "udp" }

[[upstream]]
name = "nokind"
addrs = ["127.0.0.1:1"]
health = { path = "/" }
`
	_, err = Parse("f.toml", []byte(bad+site))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("%v", err)
	}
	want := []struct {
		line int
		msg  string
	}{
		{4, `upstream.balance "hash" is not a balancing policy`},
		{5, "upstream.max_fails cannot be negative"},
		{6, "upstream.fail_timeout must be positive"},
		{7, "upstream: down_for and fail_timeout are set both"},
		{9, `upstream.weights: 0 for "127.0.0.1:9000" is not from 1 to 1000`},
		{10, `upstream.weights: 1001 for "127.0.0.1:9001" is not from 1 to 1000`},
		{11, `upstream.weights names "127.0.0.1:9002", which is not in addrs`},
		{14, `upstream.health.path "health" is not a path`},
		{15, `upstream.health.host "a b" is not a host name`},
		{16, `upstream.health.expect_status "2XX" is not a status code`},
		{17, "upstream.health.expect_body is not a regular expression"},
		{18, `upstream.health.send is for kind = "tcp"`},
		{19, "upstream.health.interval must be positive"},
		{20, "upstream.health.rise -1 is not from 1 to 100"},
		{21, "upstream.health.fall 101 is not from 1 to 100"},
		{26, `upstream.health.path is for kind = "http"`},
		{31, `upstream.health.kind "udp" is not a kind of check`},
		{36, "upstream.health: kind is missing"},
	}
	if len(ps) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(ps), len(want), err)
	}
	for i, w := range want {
		if ps[i].Line != w.line || !strings.Contains(ps[i].Msg, w.msg) || ps[i].Hint == "" {
			t.Errorf("problem %d: line %d %q (hint %q), want line %d %q", i, ps[i].Line, ps[i].Msg, ps[i].Hint, w.line, w.msg)
		}
	}
}
