package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// makeCert writes the one certificate every TLS contender serves: ECDSA
// P-256, self-signed for 127.0.0.1 and localhost, into the scratch
// directory (readable by nginx's workers).
func makeCert(cfg *config) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	cfg.cert = filepath.Join(cfg.scratch, "cert.pem")
	cfg.key = filepath.Join(cfg.scratch, "key.pem")
	if err := os.WriteFile(cfg.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(cfg.key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o644)
}

// gatehouseTLSArgs is the real command serving the www directory over TLS,
// with its defaults (HTTP/2 and HTTP/1.1 by ALPN).
func gatehouseTLSArgs(l launch) ([]string, error) {
	return []string{"serve", "--https", l.Addr, "--cert", l.Cert, "--key", l.Key, "--static", "/=" + l.WWW,
		"--access-log", "off", "--log-level", "warn"}, nil
}

// nginxTLSConf is nginx serving the www directory over TLS with HTTP/2, as
// its documentation sets it up (nginx 1.22's syntax: "listen ... ssl
// http2"); TLS 1.2 and 1.3, OpenSSL's defaults otherwise.
var nginxTLSConf = nginxTemplate("nginx-tls.conf", `    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    http2_max_requests 1000000;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 1s;

    types {
        text/plain txt;
        application/octet-stream bin;
    }

    server {
        listen 127.0.0.1:{{.Port}} ssl http2;
        ssl_certificate "{{.Cert}}";
        ssl_certificate_key "{{.Key}}";
        ssl_protocols TLSv1.2 TLSv1.3;
        root "{{.WWW}}";
    }
}
`)

func nginxTLSArgs(l launch) ([]string, error) { return nginxConfArgs(l, nginxTLSConf, l) }

// checkTLS fetches the www files over TLS, HTTP/1.1 and HTTP/2, and compares
// them byte for byte.
func checkTLS(addr string, s serverSpec) error {
	for _, proto := range []string{"http/1.1", "h2"} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}},
			ForceAttemptHTTP2: proto == "h2"}
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		for _, f := range wwwFiles {
			resp, err := c.Get("https://" + addr + "/" + f.Name)
			if err != nil {
				return fmt.Errorf("%s GET /%s: %w", proto, f.Name, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, f.Body) {
				return fmt.Errorf("%s GET /%s: status %d, %d bytes (%v)", proto, f.Name, resp.StatusCode, len(body), err)
			}
			if want := map[string]int{"http/1.1": 1, "h2": 2}[proto]; resp.ProtoMajor != want {
				return fmt.Errorf("GET /%s over %s came as %s", f.Name, proto, resp.Proto)
			}
		}
		tr.CloseIdleConnections()
	}
	return nil
}

var (
	reH2Done = regexp.MustCompile(`requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored`)
	reH2RPS  = regexp.MustCompile(`finished in [0-9.]+\w+, ([0-9.]+) req/s`)
)

// runH2load runs h2load over HTTP/2 (TLS, ALPN h2) for d, with sc.Conns
// connections of 10 streams each, pinned to the client CPU with one thread,
// and reports it as wrk would.
func runH2load(cfg *config, sc scenario, port int, d time.Duration) (wrkResult, error) {
	secs := strconv.Itoa(max(1, int(d.Seconds())))
	cmd := pinned(cfg, cfg.clientCPU, "h2load", "-t1", "-c"+strconv.Itoa(sc.Conns), "-m10",
		"-D", secs, fmt.Sprintf("https://127.0.0.1:%d%s", port, sc.Path))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	p, err := children.start(cmd)
	if err != nil {
		return wrkResult{}, fmt.Errorf("start h2load: %w", err)
	}
	select {
	case <-p.done:
	case <-time.After(d + 30*time.Second):
		p.stop()
		return wrkResult{}, fmt.Errorf("h2load did not finish within 30 s of its %v run", d)
	}
	if p.err != nil {
		return wrkResult{}, fmt.Errorf("h2load: %v\n%s", p.err, out.String())
	}
	m := reH2Done.FindStringSubmatch(out.String())
	r := reH2RPS.FindStringSubmatch(out.String())
	if m == nil || r == nil {
		return wrkResult{}, fmt.Errorf("no result in h2load output:\n%s", out.String())
	}
	var res wrkResult
	res.Requests, _ = strconv.ParseInt(m[2], 10, 64)
	failed, _ := strconv.ParseInt(m[3], 10, 64)
	errored, _ := strconv.ParseInt(m[4], 10, 64)
	res.Non2xx = failed
	res.Read = errored
	res.RPS, _ = strconv.ParseFloat(r[1], 64)
	return res, nil
}
