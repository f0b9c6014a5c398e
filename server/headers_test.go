package server

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"gatehouse/config"
)

// TestRequestIDAndHeaderRules: on both engines, through a CGI script that
// prints what it was given: the request ID reaches the application
// (HTTP_X_REQUEST_ID) and comes back; a client's own ID is replaced (it is
// not a trusted proxy); site and route rules change the request the script
// sees and the response the client gets, error pages too with always.
func TestRequestIDAndHeaderRules(t *testing.T) {
	cgiDir := t.TempDir()
	script := "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nX-Powered-By: sh\\r\\n\\r\\n'\n" +
		"echo \"id=$HTTP_X_REQUEST_ID real=$HTTP_X_REAL_IP debug=$HTTP_X_DEBUG site=$HTTP_X_SITE\"\n"
	os.WriteFile(filepath.Join(cgiDir, "env.sh"), []byte(script), 0o755)
	for _, eng := range []string{"epoll", "goroutine"} {
		t.Run(eng, func(t *testing.T) {
			cfg := &config.Config{
				Server:    config.Server{Engine: eng},
				Listen:    []config.Listen{{Addr: "127.0.0.1:0"}},
				RequestID: &config.RequestID{},
				Site: []config.Site{{
					Headers: &config.Headers{Always: true,
						Request:  config.HeaderOps{Set: map[string]string{"X-Site": "{host}"}},
						Response: config.HeaderOps{Set: map[string]string{"X-Frame-Options": "DENY"}, Remove: []string{"X-Powered-By"}}},
					Route: []config.Route{{Path: "/cgi/", CGI: &config.CGI{Root: cgiDir},
						Headers: &config.Headers{
							Request:  config.HeaderOps{Set: map[string]string{"X-Real-IP": "{remote_ip}"}, Remove: []string{"X-Debug"}},
							Response: config.HeaderOps{Add: map[string]string{"X-Served-By": "route {request_id}"}}}}},
				}},
			}
			cfg.AccessLog.Path = "off"
			addr := serveConfig(t, cfg)
			req, _ := http.NewRequest("GET", "http://"+addr+"/cgi/env.sh", nil)
			req.Host = "site.test"
			req.Header.Set("X-Request-ID", "chosen-by-the-client")
			req.Header.Set("X-Real-IP", "203.0.113.9")
			req.Header.Set("X-Debug", "1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			id := resp.Header.Get("X-Request-ID")
			if len(id) != 32 || id == "chosen-by-the-client" {
				t.Fatalf("X-Request-ID %q", id)
			}
			if want := "id=" + id + " real=127.0.0.1 debug= site=site.test\n"; string(body) != want {
				t.Errorf("the script saw %q, want %q", body, want)
			}
			if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Powered-By") != "" ||
				resp.Header.Get("X-Served-By") != "route "+id {
				t.Errorf("response fields %v", resp.Header)
			}
			// A path no route takes: the site's rules, always, on the 404.
			resp, err = http.Get("http://" + addr + "/nothing-here")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 404 || resp.Header.Get("X-Frame-Options") != "DENY" || len(resp.Header.Get("X-Request-ID")) != 32 {
				t.Errorf("404: %d %v", resp.StatusCode, resp.Header)
			}
			http.DefaultClient.CloseIdleConnections()
		})
	}
}

// TestRequestIDFromTrustedProxy: an ID is kept from a peer [http]
// trusted_proxies names (the one list of whom gatehouse believes), and the
// same request from a peer it does not name gets a new one.
func TestRequestIDFromTrustedProxy(t *testing.T) {
	for _, c := range []struct {
		trusted []string
		kept    bool
	}{{[]string{"127.0.0.1"}, true}, {[]string{"10.0.0.0/8"}, false}, {nil, false}} {
		cfg := &config.Config{
			HTTP:      config.HTTP{TrustedProxies: c.trusted},
			Listen:    []config.Listen{{Addr: "127.0.0.1:0"}},
			RequestID: &config.RequestID{},
			Site:      []config.Site{{Route: []config.Route{{Path: "/", Respond: &config.Respond{Status: 204}}}}},
		}
		cfg.AccessLog.Path = "off"
		addr := serveConfig(t, cfg)
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Header.Set("X-Request-ID", "lb-7f3a")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Request-ID"); (got == "lb-7f3a") != c.kept || got == "" {
			t.Errorf("trusted_proxies %v: X-Request-ID %q, kept %v", c.trusted, got, c.kept)
		}
		http.DefaultClient.CloseIdleConnections()
	}
}
