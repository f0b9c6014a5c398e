package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/testutil"
	"gatehouse/tlsconf"
)

// HTTPS through the binary: every gateway learns the request came over
// TLS (HTTPS=on, REQUEST_SCHEME=https, the TLS port, wsgi.url_scheme), from
// the real programs behind it; the same routes over plain HTTP do not.
func TestHTTPSGateways(t *testing.T) {
	fpm := startPHPFPM(t)
	uwsgiSock := startUWSGIServer(t)
	dir := testutil.ShortTempDir(t)
	cert, key := testutil.WriteCert(t, dir, "localhost", testutil.CertSpec{})
	httpsAddr, plainAddr := freeAddr(t), freeAddr(t)
	conf := filepath.Join(dir, "gatehouse.toml")
	os.WriteFile(conf, []byte(`
[access_log]
path = "off"

[[listen]]
addr = "`+plainAddr+`"

[[listen]]
addr = "`+httpsAddr+`"
tls = { cert = "`+cert+`", key = "`+key+`" }

[[site]]
  [[site.route]]
  path = "/cgi-bin/"
  cgi = { root = "`+testdataDir(t, "cgi-bin")+`" }

  [[site.route]]
  path = "/php/"
  php = { root = "`+testdataDir(t, "php")+`", pass = "`+fpm+`" }

  [[site.route]]
  path = "/uwsgi/"
  uwsgi = { pass = "`+uwsgiSock+`" }

  [[site.route]]
  path = "/wsgi/"
  wsgi = { app = "apps:plain", chdir = "`+wsgiApps(t)+`", python = "`+systemPython(t)+`", workers = 1 }
`), 0o644)
	startConfig(t, conf, plainAddr)
	_, httpsPort, _ := net.SplitHostPort(httpsAddr)
	_, plainPort, _ := net.SplitHostPort(plainAddr)

	for _, c := range []struct {
		scheme, addr, port, https string
	}{
		{"https", httpsAddr, httpsPort, "on"},
		{"http", plainAddr, plainPort, "unset"},
	} {
		base := c.scheme + "://" + c.addr
		// CGI (a shell script) and FastCGI (php-fpm): the same variables.
		for _, path := range []string{"/cgi-bin/scheme.sh", "/php/scheme.php"} {
			out, _, err := curl(t, "-k", base+path)
			v := lines(out)
			if err != nil || v["HTTPS"] != c.https || v["REQUEST_SCHEME"] != c.scheme || v["SERVER_PORT"] != c.port {
				t.Errorf("%s%s: %v\n%s", base, path, err, out)
			}
		}
		// uwsgi (uWSGI's own environ) and WSGI (gatehouse's workers).
		for _, path := range []string{"/uwsgi/env", "/wsgi/env"} {
			out, _, err := curl(t, "-k", base+path)
			var env map[string]any
			if err == nil {
				err = json.Unmarshal([]byte(out), &env)
			}
			https, _ := env["HTTPS"].(string)
			if https == "" {
				https = "unset"
			}
			if err != nil || env["wsgi.url_scheme"] != c.scheme || https != c.https || env["SERVER_PORT"] != c.port {
				t.Errorf("%s%s: %v: url_scheme %v, HTTPS %v, SERVER_PORT %v\n%s", base, path, err,
					env["wsgi.url_scheme"], env["HTTPS"], env["SERVER_PORT"], out)
			}
			if c.scheme == "https" && path == "/wsgi/env" && env["REQUEST_SCHEME"] != "https" {
				t.Errorf("%s%s: REQUEST_SCHEME %v", base, path, env["REQUEST_SCHEME"])
			}
		}
	}
}

// The TLS flags: HTTPS with the certificate, HSTS on https only, the plain
// listener's redirect, net/http's answer to plain HTTP on the TLS port,
// nothing below TLS 1.2.
func TestHTTPSFlags(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WriteCert(t, dir, "localhost", testutil.CertSpec{})
	httpsAddr, plainAddr := freeAddr(t), freeAddr(t)
	p := start(t, "--https", httpsAddr, "--cert", cert, "--key", key, "--http", plainAddr, "--redirect-https",
		"--hsts", "max-age=31536000; includeSubDomains", "--demo")
	_, port, _ := net.SplitHostPort(httpsAddr)

	out, errOut, err := curl(t, "-k", "-v", "-i", "--http1.1", "https://"+httpsAddr+"/healthz")
	if err != nil || !strings.HasPrefix(out, "HTTP/1.1 200") || !strings.Contains(out, "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n") ||
		!strings.HasSuffix(out, "\r\n\r\nok\n") || !strings.Contains(errOut, "TLSv1.3") {
		t.Fatalf("https: %v\n%s\n%s", err, out, errOut)
	}
	// The plain listener redirects, keeping the target, to the TLS port.
	out, _, err = curl(t, "-i", "-H", "Host: localhost", "-X", "POST", "http://"+plainAddr+"/echo?a=1")
	if err != nil || !strings.HasPrefix(out, "HTTP/1.1 308") || !strings.Contains(out, "Location: https://localhost:"+port+"/echo?a=1\r\n") ||
		strings.Contains(out, "Strict-Transport-Security") {
		t.Fatalf("redirect: %v\n%s", err, out)
	}
	// Followed, the redirect lands (curl -L keeps POST on 308).
	out, _, err = curl(t, "-k", "-L", "-d", "x=1", "--connect-to", "localhost:"+port+":"+httpsAddr, "http://"+plainAddr+"/echo")
	if err != nil || !strings.Contains(out, `"method": "POST"`) {
		t.Fatalf("redirect followed: %v\n%s", err, out)
	}
	out, _, _ = curl(t, "-o", "/dev/null", "-w", "%{http_code}", "http://"+plainAddr+"/.well-known/acme-challenge/token")
	if out != "404" {
		t.Fatalf("ACME challenge path on the redirecting listener: %s, want 404", out)
	}
	// Plain HTTP to the TLS port.
	out, _, err = curl(t, "-i", "http://"+httpsAddr+"/")
	if err != nil || out != "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n" {
		t.Fatalf("plain HTTP to the TLS port: %v\n%q", err, out)
	}
	if !p.logged(`reason="client sent an HTTP request to an HTTPS server"`) {
		t.Fatalf("no log line for plain HTTP on the TLS port:\n%s", p.stderr.String())
	}
	// TLS 1.1 is refused; 1.2 is served.
	if _, _, err := curl(t, "-k", "--tlsv1.1", "--tls-max", "1.1", "https://"+httpsAddr+"/healthz"); err == nil {
		t.Fatal("TLS 1.1 served")
	}
	if out, _, err := curl(t, "-k", "--tlsv1.2", "--tls-max", "1.2", "https://"+httpsAddr+"/healthz"); err != nil || out != "ok\n" {
		t.Fatalf("TLS 1.2: %v %q", err, out)
	}
}

// gatehouse refuses to start with a certificate it cannot serve, and says
// which file and why.
func TestHTTPSStartRefused(t *testing.T) {
	dir := t.TempDir()
	expired, expiredKey := testutil.WriteCert(t, dir, "expired", testutil.CertSpec{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	_, otherKey := testutil.WriteCert(t, dir, "other", testutil.CertSpec{})
	good, _ := testutil.WriteCert(t, dir, "good", testutil.CertSpec{})
	for _, c := range []struct {
		cert, key, want string
	}{
		{expired, expiredKey, expired + ": expired on "},
		{good, otherKey, otherKey + ": not the key of " + good + ": tls: private key does not match public key"},
	} {
		_, _, err := runCLI("serve", "--https", "127.0.0.1:0", "--cert", c.cert, "--key", c.key, "--demo")
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v (exit %d), want %q", err, exitCode(err), c.want)
		}
	}
}

// load runs workers that each fetch url over a new TLS connection (a full
// handshake) in a loop until stop is closed, and counts what fails.
type load struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	wg         sync.WaitGroup
	stop       chan struct{}
}

func startLoad(url string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
			defer c.CloseIdleConnections()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err)
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	return l
}

// waitFor waits until n requests more than now have succeeded (at most
// 20 s: the load is bounded in time whatever happens).
func (l *load) waitFor(t *testing.T, n int64) {
	t.Helper()
	target := l.ok.Load() + n
	for deadline := time.Now().Add(20 * time.Second); l.ok.Load() < target; {
		if time.Now().After(deadline) {
			t.Fatalf("load: %d ok, %d failed, waiting for %d", l.ok.Load(), l.failed.Load(), target)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *load) end(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	if n := l.failed.Load(); n > 0 {
		t.Errorf("%d of %d requests failed; first: %v", n, n+l.ok.Load(), l.firstErr.Load())
	}
	t.Logf("%d requests, each over a new TLS connection", l.ok.Load())
}

// serialAt returns the serial of the certificate a new handshake with addr
// gets.
func serialAt(t *testing.T, addr string) int64 {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// replace writes a new certificate over cert and key as a renewal does
// (beside them, then renamed).
func replace(t *testing.T, cert, key string, serial int64) {
	t.Helper()
	c, k := testutil.WriteCert(t, t.TempDir(), "renewed", testutil.CertSpec{Serial: serial})
	if err := os.Rename(c, cert); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(k, key); err != nil {
		t.Fatal(err)
	}
}

// The certificate is renewed and SIGHUP sent while clients make new TLS
// connections without pause: none fails, and the next handshake gets the
// new serial. A broken file then keeps the certificate being served, and
// the log names the file and the reason.
func TestCertReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WriteCert(t, dir, "site", testutil.CertSpec{Serial: 1})
	httpsAddr := freeAddr(t)
	p := start(t, "--https", httpsAddr, "--cert", cert, "--key", key, "--demo", "--access-log", "off")
	if got := serialAt(t, httpsAddr); got != 1 {
		t.Fatalf("serial %d at start", got)
	}
	l := startLoad("https://"+httpsAddr+"/healthz", 8)
	l.waitFor(t, 200)
	replace(t, cert, key, 2)
	p.signal(syscall.SIGHUP)
	if !p.logged("tls: certificates reloaded") {
		t.Fatalf("no reload in the log:\n%s", p.stderr.String())
	}
	l.waitFor(t, 200)
	if got := serialAt(t, httpsAddr); got != 2 {
		t.Fatalf("serial %d after the reload, want 2", got)
	}
	// A broken renewal: the key of another certificate.
	_, otherKey := testutil.WriteCert(t, t.TempDir(), "other", testutil.CertSpec{Serial: 3})
	os.Rename(otherKey, key)
	p.signal(syscall.SIGHUP)
	if !p.logged("tls: certificates not reloaded; the old ones keep serving") {
		t.Fatalf("no refusal in the log:\n%s", p.stderr.String())
	}
	l.waitFor(t, 200)
	l.end(t)
	if got := serialAt(t, httpsAddr); got != 2 {
		t.Fatalf("serial %d after a broken renewal, want the old 2", got)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, "file="+key) || !strings.Contains(logs, "private key does not match public key") {
		t.Fatalf("the refusal does not name the file and the reason:\n%s", logs)
	}
	if !strings.Contains(logs, "SIGHUP: reload incomplete") {
		t.Fatalf("SIGHUP's summary:\n%s", logs)
	}
}

// --cert-reload-interval: a renewal is picked up without a signal.
func TestCertReloadWatch(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WriteCert(t, dir, "site", testutil.CertSpec{Serial: 1})
	httpsAddr := freeAddr(t)
	p := start(t, "--https", httpsAddr, "--cert", cert, "--key", key, "--cert-reload-interval", "1s", "--demo", "--access-log", "off")
	replace(t, cert, key, 2)
	if !p.logged("tls: certificates reloaded") {
		t.Fatalf("no reload in the log:\n%s", p.stderr.String())
	}
	if got := serialAt(t, httpsAddr); got != 2 {
		t.Fatalf("serial %d after the watch's reload, want 2", got)
	}
}

// sslscan (Debian's, installed by make test) finds TLS 1.2 and 1.3 only,
// and only the ECDHE+AEAD suites: no CBC, for an ECDSA and for an RSA
// certificate (chosen by SNI).
func TestTLSScan(t *testing.T) {
	if _, err := exec.LookPath("sslscan"); err != nil {
		t.Fatal("sslscan is required (make test installs it)")
	}
	dir := t.TempDir()
	ec, ek := testutil.WriteCert(t, dir, "ecdsa", testutil.CertSpec{Names: []string{"ecdsa.test"}})
	rc, rk := testutil.WriteCert(t, dir, "rsa", testutil.CertSpec{Names: []string{"rsa.test"}, RSA: true})
	httpsAddr := freeAddr(t)
	start(t, "--https", httpsAddr, "--cert", ec, "--key", ek, "--cert", rc, "--key", rk, "--demo", "--access-log", "off")
	allowed := map[uint16]bool{}
	for _, id := range tlsconf.CipherSuites {
		allowed[id] = true
	}
	for _, s := range tls.CipherSuites() {
		if s.SupportedVersions[0] == tls.VersionTLS13 {
			allowed[s.ID] = true // TLS 1.3's: all AEAD
		}
	}
	for _, name := range []string{"ecdsa.test", "rsa.test"} {
		r := sslscan(t, httpsAddr, name)
		for _, p := range r.Protocols {
			want := p.Type == "tls" && (p.Version == "1.2" || p.Version == "1.3")
			if (p.Enabled == "1") != want {
				t.Errorf("%s: %s %s enabled=%s", name, p.Type, p.Version, p.Enabled)
			}
		}
		if len(r.Protocols) != 6 {
			t.Errorf("%s: %d protocols scanned, want SSLv2 to TLS 1.3", name, len(r.Protocols))
		}
		tls12 := 0
		var enabled, suites []string
		for _, p := range r.Protocols {
			if p.Enabled == "1" {
				enabled = append(enabled, p.Type+p.Version)
			}
		}
		for _, c := range r.Ciphers {
			suites = append(suites, c.SSLVersion+" "+c.Cipher)
			var id uint16
			fmt.Sscanf(c.ID, "0x%x", &id)
			if !allowed[id] || strings.Contains(c.Cipher, "CBC") || c.SSLVersion == "TLSv1.2" && !strings.Contains(c.Cipher, "GCM") && !strings.Contains(c.Cipher, "CHACHA20") {
				t.Errorf("%s: %s %s (%s) accepted", name, c.SSLVersion, c.Cipher, c.ID)
			}
			if c.SSLVersion == "TLSv1.2" {
				tls12++
			}
		}
		if tls12 != 3 {
			t.Errorf("%s: %d TLS 1.2 suites, want the 3 for its key type", name, tls12)
		}
		t.Logf("sslscan %s: protocols %s; suites %s", name, strings.Join(enabled, ", "), strings.Join(suites, ", "))
	}
}

// What sslscan (OpenSSL 3.0) cannot see: a Go client gets the post-quantum
// hybrid X25519MLKEM768 (research §3.1).
func TestPostQuantumGroup(t *testing.T) {
	dir := t.TempDir()
	cert, key := testutil.WriteCert(t, dir, "site", testutil.CertSpec{})
	httpsAddr := freeAddr(t)
	start(t, "--https", httpsAddr, "--cert", cert, "--key", key, "--demo", "--access-log", "off")
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", httpsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := c.ConnectionState(); st.CurveID != tls.X25519MLKEM768 || st.Version != tls.VersionTLS13 {
		t.Fatalf("group %v, version %x; want X25519MLKEM768 over TLS 1.3", st.CurveID, st.Version)
	}
}

type scan struct {
	Protocols []struct {
		Type    string `xml:"type,attr"`
		Version string `xml:"version,attr"`
		Enabled string `xml:"enabled,attr"`
	} `xml:"ssltest>protocol"`
	Ciphers []struct {
		SSLVersion string `xml:"sslversion,attr"`
		Cipher     string `xml:"cipher,attr"`
		ID         string `xml:"id,attr"`
	} `xml:"ssltest>cipher"`
}

func sslscan(t *testing.T, addr, sni string) scan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sslscan", "--no-colour", "--sni-name="+sni, "--xml=-", addr).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("sslscan: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	i := strings.Index(string(out), "<?xml")
	if i < 0 {
		t.Fatalf("sslscan wrote no XML:\n%s", out)
	}
	var r scan
	if err := xml.Unmarshal(out[i:], &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return r
}
