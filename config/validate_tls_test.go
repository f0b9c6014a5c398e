package config

import (
	"strings"
	"testing"
)

// parseProblems parses a file made of a site and the given text, and
// returns its problems as lines.
func parseProblems(t *testing.T, text string) string {
	t.Helper()
	const site = "\n[[site]]\n  [[site.route]]\n  path = \"/\"\n  demo = true\n"
	_, err := Parse("t.toml", []byte(text+site))
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestValidateTLS(t *testing.T) {
	for _, c := range []struct {
		name, text, want string // want: "" for no problem, else part of one
	}{
		{"one certificate", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem" }`, ""},
		{"a table, SNI certificates, every key", `[[listen]]
addr = ":443"
[listen.tls]
cert = "/c.pem"
key = "/k.pem"
min_version = "1.3"
curves = ["X25519MLKEM768", "x25519", "P-256"]
handshake_timeout = "5s"
reload_interval = "1m"
[[listen.tls.certs]]
cert = "/a.pem"
key = "/a.key"
[[listen.tls.certs]]
cert = "/b.pem"
key = "/b.key"`, ""},
		{"SNI certificates only", `[[listen]]
addr = ":443"
tls = { certs = [{ cert = "/a.pem", key = "/a.key" }] }`, ""},
		{"no certificate", `[[listen]]
addr = ":443"
tls = { min_version = "1.2" }`, "t.toml:3: listen.tls names no certificate"},
		{"cert without key", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem" }`, `listen.tls: cert "/c.pem" without its key`},
		{"key without cert in certs", `[[listen]]
addr = ":443"
[listen.tls]
certs = [
  { cert = "/a.pem", key = "/a.key" },
  { key = "/b.key" },
]`, `t.toml:6: listen.tls: key "/b.key" without its cert`},
		{"TLS 1.1", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem", min_version = "1.1" }`, `listen.tls.min_version "1.1" is not "1.2" or "1.3"`},
		{"unknown curve", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem", curves = ["x25519", "P-224"] }`, `listen.tls.curves: unknown group "P-224"`},
		{"empty curves", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem", curves = [] }`, "listen.tls.curves is empty"},
		{"curve twice", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem", curves = ["x25519", "X25519"] }`, "names x25519 twice"},
		{"hybrids only with TLS 1.2", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem", curves = ["X25519MLKEM768"] }`, "only post-quantum hybrids"},
		{"hybrids only with TLS 1.3", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem", curves = ["X25519MLKEM768"], min_version = "1.3" }`, ""},
		{"reload interval at the limit", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem", reload_interval = "1s" }`, ""},
		{"reload interval below it", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem", reload_interval = "999ms" }`, "listen.tls.reload_interval 999ms is below 1s"},
		{"reload interval off", `[[listen]]
addr = ":443"
tls = { cert = "/c.pem", key = "/k.pem", reload_interval = "0s" }`, ""},
		{"uwsgi with TLS", `[[listen]]
addr = ":3031"
protocol = "uwsgi"
tls = { cert = "/c.pem", key = "/k.pem" }`, "listen.tls applies only to HTTP listeners"},
		{"redirect", `[[listen]]
addr = ":80"
redirect_https = true
[[listen]]
addr = "[::1]:8443"
tls = { cert = "/c.pem", key = "/k.pem" }`, ""},
		{"redirect with no TLS listener", `[[listen]]
addr = ":80"
redirect_https = true`, "t.toml:3: listen.redirect_https: no TLS listener on a TCP port to redirect to"},
		{"redirect to port 0", `[[listen]]
addr = ":80"
redirect_https = true
[[listen]]
addr = "127.0.0.1:0"
tls = { cert = "/c.pem", key = "/k.pem" }`, "has port 0"},
		{"redirect on the TLS listener", `[[listen]]
addr = ":443"
redirect_https = true
tls = { cert = "/c.pem", key = "/k.pem" }`, "would redirect https to itself"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := parseProblems(t, c.text)
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Fatalf("problems:\n%s\nwant: %q", got, c.want)
			}
		})
	}
}

func TestCheckHSTS(t *testing.T) {
	for _, c := range []struct {
		in, want string // want: "" valid, else part of the message
	}{
		{"max-age=31536000", ""},
		{"max-age=0", ""},
		{`max-age="31536000"`, ""},
		{"max-age=31536000; includeSubDomains", ""},
		{"MAX-AGE=31536000;INCLUDESUBDOMAINS", ""},
		{"max-age=63072000; includeSubDomains; preload", ""},
		{"max-age=31536000; includeSubDomains; preload", ""},
		{"max-age=31535999; includeSubDomains; preload", "preload needs"},
		{"max-age=63072000; preload", "preload needs"},
		{"includeSubDomains", "max-age is missing"},
		{"", "max-age is missing"},
		{"max-age=1y", "is not a number of seconds"},
		{"max-age=-1", "is not a number of seconds"},
		{"max-age=+5", "is not a number of seconds"},
		{"max-age", "is not a number of seconds"},
		{"max-age=1; max-age=2", "appears twice"},
		{"max-age=1; includeSubdomains; includeSubDomains", "appears twice"},
		{"max-age=1; includeSubDomains=yes", "takes no value"},
		{"max-age=1; include_subdomains", "unknown directive"},
		{"max-age=1\r\nSet-Cookie: a=b", "is not a number of seconds"},
	} {
		msg, hint := checkHSTS(c.in)
		if c.want == "" && msg != "" || !strings.Contains(msg, c.want) || msg != "" && hint == "" {
			t.Errorf("%q: %q (hint %q), want %q", c.in, msg, hint, c.want)
		}
	}
}
