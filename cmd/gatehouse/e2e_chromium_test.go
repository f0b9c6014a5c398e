package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// One real browser: Debian's Chromium, headless, driven over the DevTools
// protocol, against the Flask application with no protection of its own
// behind gatehouse. A login and a comment through the application's own
// forms go through; the same form posted from another site's page is
// refused before the application, which counts one comment at the end.
func TestChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is required (make test installs it): %v", err)
	}
	p := start(t, "--wsgi", "flaskapp:app", "--chdir", testdataDir(t, "csrf"), "--python", systemPython(t), "--workers", "1",
		"--csrf-tokens", "--session-store", "memory", "--session-pass", "user")
	site := "http://" + p.addr

	// The attacker's site: another host (localhost, not 127.0.0.1), so
	// the browser calls its requests cross-site. Its page posts the
	// application's comment form by itself, with a made-up token.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><html><body>
<form id="f" method="post" action="%s/comment">
<input type="hidden" name="csrf_token" value="forged">
<input type="hidden" name="text" value="forged by the attacker">
</form><script>document.getElementById("f").submit()</script></body></html>`, site)
	})}
	go evil.Serve(l)
	t.Cleanup(func() { evil.Close() })
	_, port, _ := net.SplitHostPort(l.Addr().String())
	attacker := "http://localhost:" + port + "/"

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	// page waits until the page at a URL ending in suffix has loaded and
	// returns its text (navigations end the browser's own polls, so the
	// test asks again until the deadline).
	page := func(suffix string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href + "\n" + document.readyState + "\n" + (document.body ? document.body.innerText : "")`))
			if err == nil {
				href, rest, _ := strings.Cut(v, "\n")
				state, text, _ := strings.Cut(rest, "\n")
				if strings.HasSuffix(href, suffix) && state == "complete" {
					return text
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no page at %s after 30 s (%q, %v)\n%s", suffix, v, err, p.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, p.stderr.String())
		}
	}

	do("load the page", chromedp.Navigate(site+"/"), chromedp.WaitVisible("#name"))
	do("log in", chromedp.SendKeys("#name", "alice"), chromedp.Click("#enter"))
	// The login lands on "/" again, as the page before it: wait for the
	// new page's text, not the URL, which the old page has too.
	var user string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		page(p.addr + "/")
		user, err = chromedp.Run(bctx, chromedp.Text("#user"))
		if err == nil && user == "alice" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the login the page says %q (%v): the session cookie did not stick\n%s", user, err, p.stderr.String())
		}
	}
	do("comment", chromedp.SendKeys("#text", "hello from chromium"), chromedp.Click("#send"))
	if saved := page("/comment"); strings.TrimSpace(saved) != "saved 1" {
		t.Fatalf("the same-origin form: %q\n%s", saved, p.stderr.String())
	}
	do("visit the attacker", chromedp.Navigate(attacker))
	if refused := page("/comment"); !strings.Contains(refused, "403") {
		t.Fatalf("the cross-origin form: %q\n%s", refused, p.stderr.String())
	}
	resp, err := http.Get(site + "/count")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var n int
	fmt.Fscan(resp.Body, &n)
	if n != 1 {
		t.Fatalf("the application counts %d comments, want 1 (its own)", n)
	}
	if !strings.Contains(p.stderr.String(), `sec_fetch_site`) && !strings.Contains(p.stderr.String(), `Sec-Fetch-Site \"cross-site\"`) {
		t.Fatalf("the browser's refusal is not in the log:\n%s", p.stderr.String())
	}
}
