package csrf

import (
	"net/http"
	"strings"
	"testing"

	"gatehouse/web/webtest"
)

// FuzzCheckAgainstNetHTTP: layer 1 decides as net/http's
// CrossOriginProtection (the implementation it ports) on the same request,
// except where the port is stricter on purpose: an Origin with userinfo,
// a path, a query, a fragment or a backslash, and hosts that differ only in
// case.
func FuzzCheckAgainstNetHTTP(f *testing.F) {
	for _, s := range [][4]string{
		{"POST", "cross-site", "", "/x"},
		{"POST", "same-site", "", "/x"},
		{"POST", "same-origin", "", "/x"},
		{"POST", "none", "", "/x"},
		{"POST", "", "https://attacker.example", "/x"},
		{"POST", "", "null", "/x"},
		{"POST", "", "", "/x"},
		{"POST", "", "http://example.test", "/x"},
		{"POST", "cross-site", "https://app.example.com", "/x"},
		{"POST", "cross-site", "https://app.example.com.evil", "/x"},
		{"GET", "cross-site", "https://attacker.example", "/x"},
		{"PUT", "bogus", "", "/webhooks/x"},
		{"POST", "cross-site", "", "/webhooks"},
		{"DELETE", "", "https://x", "/webhooksX"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin("https://app.example.com"); err != nil {
		f.Fatal(err)
	}
	cop.AddInsecureBypassPattern("/webhooks/")
	o, err := NewOrigins([]string{"https://app.example.com"}, []string{"/webhooks/"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, sfs, origin, path string) {
		if !validField(sfs) || !validField(origin) || method == "" || strings.ContainsAny(method, " \t\r\n/") ||
			!strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#%\t\r\n") || strings.Contains(path, "//") ||
			strings.Contains(path, "/.") {
			return
		}
		if strings.ContainsAny(origin, "@/?#\\") && strings.Contains(origin, "://") || strings.ToLower(origin) != origin {
			return // where the port is stricter, on purpose
		}
		if i := strings.Index(origin, "://"); i >= 0 && strings.ContainsAny(origin[:i], "@/?#\\%") {
			return
		}
		req, err := http.NewRequest(method, "http://example.test"+path, nil)
		if err != nil {
			return
		}
		fields := []string{}
		if sfs != "" {
			req.Header.Set("Sec-Fetch-Site", sfs)
			fields = append(fields, "Sec-Fetch-Site: "+sfs)
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
			fields = append(fields, "Origin: "+origin)
		}
		r := webtest.NewRequest(method, path, nil, fields...)
		want := cop.Check(req) == nil
		got := o.Check(r) == nil
		if got != want {
			t.Fatalf("%s %s Sec-Fetch-Site %q Origin %q: gatehouse passes %v, net/http %v", method, path, sfs, origin, got, want)
		}
	})
}

// validField: what a field value can hold after the server's parser (and
// what webtest's trimming keeps).
func validField(s string) bool {
	if s != strings.TrimSpace(s) {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
