package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// The compression scenarios: the same 64 KiB HTML page, on disk, compressed
// with gzip on the fly by gatehouse (serve --compress) and by nginx (gzip
// on), at the same level, for a client that accepts only gzip, in one run.

// page64k is a 65,536-byte HTML page that compresses about as a real one
// does: markup around sentences of words drawn from a fixed vocabulary by a
// fixed seed, so every run serves the same bytes.
var page64k = func() []byte {
	words := strings.Fields(`the server gateway request response header body client worker process
		connection route site static file cache python application proxy stream buffer time log
		error status length type encoding compress level minimum value name path query host port
		listen engine event loop thread queue timeout limit byte read write send close open`)
	r := rand.New(rand.NewPCG(3, 4))
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>gatehouse benchmark page</title>" +
		"<link rel=\"stylesheet\" href=\"/style.css\"></head>\n<body>\n")
	for i := 0; b.Len() < 64<<10; i++ {
		fmt.Fprintf(&b, "<div class=\"entry\" id=\"e%d\"><h2><a href=\"/entries/%d\">", i, r.IntN(100000))
		for range 3 + r.IntN(4) {
			b.WriteString(words[r.IntN(len(words))] + " ")
		}
		b.WriteString("</a></h2>\n<p>")
		for range 20 + r.IntN(30) {
			b.WriteString(words[r.IntN(len(words))])
			if r.IntN(9) == 0 {
				b.WriteString(",")
			}
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "</p><span class=\"meta\">%d views, %d comments</span></div>\n", r.IntN(10000), r.IntN(100))
	}
	return b.Bytes()[:64<<10]
}()

// gatehouseGzipArgs is gatehouse serving the www directory with gzip at
// level; the scenarios compare at 1 (nginx's default gzip_comp_level) and 6
// (the level most guides set).
func gatehouseGzipArgs(level int) func(launch) ([]string, error) {
	return func(l launch) ([]string, error) {
		return []string{"serve", "--http", l.Addr, "--static", "/=" + l.WWW, "--compress", "--compress-level", fmt.Sprint(level),
			"--access-log", "off", "--log-level", "warn"}, nil
	}
}

// nginxGzipConf is nginx serving the www directory with gzip on, at the
// scenario's level, its file cache on (as gatehouse's is); gzip_vary on,
// as gatehouse always sends Vary.
var nginxGzipConf = nginxTemplate("nginx-gzip.conf", `
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 1s;
    gzip on;
    gzip_comp_level {{.Level}};
    gzip_vary on;
    gzip_min_length 512;

    types {
        text/html html;
        text/plain txt;
        application/octet-stream bin;
    }

    server {
        listen 127.0.0.1:{{.Port}};
        root "{{.WWW}}";
    }
}
`)

func nginxGzipArgs(level int) func(launch) ([]string, error) {
	return func(l launch) ([]string, error) {
		return nginxConfArgs(l, nginxGzipConf, struct {
			launch
			Level int
		}{l, level})
	}
}

var compressedSize = map[string]int{} // by server, for the report

// checkGzip fetches the page with Accept-Encoding: gzip, checks it comes
// gzip-compressed and decodes to the file, and notes its compressed size.
func checkGzip(addr string, s serverSpec) error {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	req, _ := http.NewRequest("GET", "http://"+addr+"/page64k.html", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" {
		return fmt.Errorf("GET /page64k.html: %d, Content-Encoding %q, %v", resp.StatusCode, resp.Header.Get("Content-Encoding"), err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return err
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, page64k) {
		return fmt.Errorf("GET /page64k.html: does not decode to the page (%d bytes, %v)", len(plain), err)
	}
	compressedSize[s.Name] = len(body)
	logf("  %s: %d bytes compressed to %d (%.2fx)", s.Name, len(page64k), len(body), float64(len(page64k))/float64(len(body)))
	return nil
}
