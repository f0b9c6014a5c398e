package main

import (
	"strings"
	"testing"
)

// The TLS flags build the listeners and site of the equivalent file; they
// need --https.
func TestTLSFlagsMeanTheFile(t *testing.T) {
	args := []string{"--https", ":8443", "--https", "[::1]:8443", "--http", ":8080", "--redirect-https",
		"--cert", "/tls/default.pem", "--key", "/tls/default.key", "--cert", "/tls/a.pem", "--key", "/tls/a.key",
		"--handshake-timeout", "5s", "--cert-reload-interval", "1m", "--hsts", "max-age=31536000", "--demo"}
	file := `
[[listen]]
addr = ":8080"
redirect_https = true
[[listen]]
addr = ":8443"
tls = { cert = "/tls/default.pem", key = "/tls/default.key", certs = [{ cert = "/tls/a.pem", key = "/tls/a.key" }], handshake_timeout = "5s", reload_interval = "1m" }
[[listen]]
addr = "[::1]:8443"
[listen.tls]
cert = "/tls/default.pem"
key = "/tls/default.key"
certs = [{ cert = "/tls/a.pem", key = "/tls/a.key" }]
handshake_timeout = "5s"
reload_interval = "1m"
[[site]]
hsts = "max-age=31536000"
  [[site.route]]
  path = "/"
  demo = true
`
	flagsMeanFile(t, args, file, true)
	// --https alone listens on nothing else.
	flagsMeanFile(t, []string{"--https", ":8443", "--cert", "/c.pem", "--key", "/k.pem", "--demo", "--cert-reload-interval", "0s"}, `
[[listen]]
addr = ":8443"
tls = { cert = "/c.pem", key = "/k.pem" }
[[site]]
  [[site.route]]
  path = "/"
  demo = true
`, true)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--https", ":8443", "--demo"}, "--https needs certificates in pairs"},
		{[]string{"--https", ":8443", "--cert", "/c.pem", "--demo"}, "(got 1 --cert, 0 --key)"},
		{[]string{"--cert", "/c.pem", "--key", "/k.pem", "--demo"}, "--cert, --key apply to HTTPS: add --https ADDR"},
		{[]string{"--http", ":80", "--redirect-https", "--demo"}, "--redirect-https applies to HTTPS"},
		{[]string{"--hsts", "max-age=60", "--demo"}, "--hsts applies to HTTPS"},
		{[]string{"--https", ":8443", "--cert", "/c.pem", "--key", "/k.pem", "--redirect-https", "--demo"}, "--redirect-https applies to --http listeners"},
		{[]string{"--https", ":8443", "--cert", "/c.pem", "--key", "/k.pem", "--hsts", "max-age=1y", "--demo"}, `site.hsts "max-age=1y"`},
		{[]string{"--https", "unix:", "--cert", "/c.pem", "--key", "/k.pem", "--demo"}, "a Unix socket needs a path"},
	} {
		_, _, err := runCLI(append([]string{"serve"}, c.args...)...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve %v: %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
}

// The ACME flags build the file's [acme] and tls.acme; they need --https and
// --acme-domain.
func TestACMEFlagsMeanTheFile(t *testing.T) {
	flagsMeanFile(t, []string{"--https", ":443", "--http", ":80", "--redirect-https", "--demo",
		"--acme-domain", "example.com", "--acme-domain", "www.example.com", "--acme-email", "ops@example.com",
		"--acme-ca", "https://ca.test/dir", "--acme-ca-root", "/ca.pem", "--acme-cache", "/var/cache/acme",
		"--cert-reload-interval", "0s"}, `
[acme]
domains = ["example.com", "www.example.com"]
email = "ops@example.com"
ca = "https://ca.test/dir"
ca_root = "/ca.pem"
cache_dir = "/var/cache/acme"
[[listen]]
addr = ":80"
redirect_https = true
[[listen]]
addr = ":443"
tls = { acme = true }
[[site]]
  [[site.route]]
  path = "/"
  demo = true
`, true)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--acme-domain", "example.com", "--demo"}, "--acme-domain applies to HTTPS"},
		{[]string{"--https", ":443", "--acme-email", "ops@example.com", "--demo"}, "--https needs certificates"},
		{[]string{"--https", ":443", "--cert", "/c.pem", "--key", "/k.pem", "--acme-email", "ops@example.com", "--demo"}, "--acme-email need --acme-domain"},
		{[]string{"--https", ":443", "--acme-domain", "*.example.com", "--demo"}, `acme.domains "*.example.com" is not a host name`},
		{[]string{"--https", ":443", "--acme-domain", "example.com", "--acme-ca", "http://ca.test/dir", "--demo"}, "is not an https:// URL"},
	} {
		_, _, err := runCLI(append([]string{"serve"}, c.args...)...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve %v: %v, want a usage error containing %q", c.args, err, c.want)
		}
	}
}
