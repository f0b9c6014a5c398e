package static

import (
	"testing"
	"time"

	"gatehouse/web/webtest"
)

// TestPreconditions walks RFC 9110 §13.2.2 step by step. Each row is evaluated by
// the pure function, and GET and HEAD rows also through the handler (other
// methods get 405 there, before any precondition: §13.2.1).
func TestPreconditions(t *testing.T) {
	const body = "hello world"
	E := etagOf(len(body), "") // the current, strong ETag
	lm := testMod.Truncate(time.Second)
	imf := func(t time.Time) string { return t.UTC().Format(timeFormat) }
	before, after := imf(lm.Add(-time.Hour)), imf(lm.Add(time.Hour))
	future := imf(testNow.Add(time.Hour))

	cases := []struct {
		rule   string
		method string
		fields []string
		want   int
	}{
		{"§13.2.2 step 6: no preconditions", "GET", nil, 200},

		// Step 1, If-Match: strong comparison, "*", lists; false → 412.
		{"§13.1.1 strong match", "GET", []string{"If-Match: " + E}, 200},
		{"§13.1.1 no tag matches → 412", "GET", []string{`If-Match: "other"`}, 412},
		{"§13.1.1 * matches a current representation", "GET", []string{"If-Match: *"}, 200},
		{"§13.1.1 strong comparison: a weak tag never matches", "GET", []string{"If-Match: W/" + E}, 412},
		{"§13.1.1 any tag of a list", "GET", []string{`If-Match: "x", ` + E + `, "y"`}, 200},
		{"§5.3 field lines combine into one list", "GET", []string{`If-Match: "x"`, "If-Match: " + E}, 200},
		{"§13.1.1 malformed (unquoted): \"Otherwise, the condition is false\"", "GET", []string{"If-Match: " + E[1:len(E)-1]}, 412},
		{"§13.1.1 * among tags is malformed: false", "GET", []string{`If-Match: *, ` + E}, 412},
		{"§13.1.1 empty list: nothing matches", "GET", []string{"If-Match:"}, 412},
		{"§13.1.1 a tag holding a comma is one tag", "GET", []string{`If-Match: "a,` + E[1:]}, 412},
		{"§13.1.1 412 for unsafe methods too", "PUT", []string{`If-Match: "other"`}, 412},
		{"§13.1.4 If-Unmodified-Since ignored when If-Match is present", "GET", []string{"If-Match: " + E, "If-Unmodified-Since: " + before}, 200},

		// Step 2, If-Unmodified-Since: modified after the date → 412.
		{"§13.1.4 not modified since: true", "GET", []string{"If-Unmodified-Since: " + after}, 200},
		{"§13.1.4 equal to Last-Modified: true", "GET", []string{"If-Unmodified-Since: " + testLM}, 200},
		{"§13.1.4 modified since → 412", "GET", []string{"If-Unmodified-Since: " + before}, 412},
		{"§13.1.4 MUST ignore an invalid date", "GET", []string{"If-Unmodified-Since: yesterday"}, 200},
		{"§13.1.4 MUST ignore a list of dates", "GET", []string{"If-Unmodified-Since: " + before, "If-Unmodified-Since: " + before}, 200},
		{"§5.6.7 rfc850 date accepted", "GET", []string{"If-Unmodified-Since: " + lm.Add(-time.Hour).Format("Monday, 02-Jan-06 15:04:05 GMT")}, 412},
		{"§5.6.7 asctime date accepted", "GET", []string{"If-Unmodified-Since: " + lm.Add(-time.Hour).Format("Mon Jan _2 15:04:05 2006")}, 412},
		{"§13.2.2 step 2 before step 3", "GET", []string{"If-Unmodified-Since: " + before, "If-None-Match: " + E}, 412},

		// Step 3, If-None-Match: weak comparison; false → 304 (GET, HEAD) or 412.
		{"§13.1.2 match → 304", "GET", []string{"If-None-Match: " + E}, 304},
		{"§13.1.2 weak comparison: W/ matches", "GET", []string{"If-None-Match: W/" + E}, 304},
		{"§13.1.2 * → 304", "GET", []string{"If-None-Match: *"}, 304},
		{"§13.1.2 no tag matches → 200", "GET", []string{`If-None-Match: "a", W/"b"`}, 200},
		{"§13.1.2 matching tag later in the list", "GET", []string{`If-None-Match: "a", ` + E}, 304},
		{"§13.2.2 step 3: HEAD also gets 304", "HEAD", []string{"If-None-Match: " + E}, 304},
		{"§13.2.2 step 3: other methods get 412", "PUT", []string{"If-None-Match: " + E}, 412},
		{"§13.2.2 step 3: * with POST → 412", "POST", []string{"If-None-Match: *"}, 412},
		{"§13.2.2 step 3: DELETE → 412", "DELETE", []string{"If-None-Match: W/" + E}, 412},
		{"§13.1.2 malformed: \"Otherwise, the condition is true\"", "GET", []string{"If-None-Match: " + E[1:]}, 200},
		{"§13.2.2 step 1 true, step 3 false → 304", "GET", []string{"If-Match: " + E, "If-None-Match: " + E}, 304},
		{"§13.2.2 step 1 false wins over step 3", "GET", []string{`If-Match: "other"`, "If-None-Match: " + E}, 412},

		// Step 4, If-Modified-Since: GET and HEAD only, only without If-None-Match.
		{"§13.1.3 not modified since (equal) → 304", "GET", []string{"If-Modified-Since: " + testLM}, 304},
		{"§13.1.3 not modified since (later) → 304", "GET", []string{"If-Modified-Since: " + after}, 304},
		{"§13.1.3 modified since → 200", "GET", []string{"If-Modified-Since: " + before}, 200},
		{"§13.1.3 HEAD → 304", "HEAD", []string{"If-Modified-Since: " + after}, 304},
		{"§13.1.3 MUST ignore an invalid date", "GET", []string{"If-Modified-Since: " + after + "x"}, 200},
		{"§13.1.3 a date in the future is ignored", "GET", []string{"If-Modified-Since: " + future}, 200},
		{"§13.1.3 MUST ignore more than one member", "GET", []string{"If-Modified-Since: " + after, "If-Modified-Since: " + after}, 200},
		{"§5.6.7 HTTP-date is case-sensitive", "GET", []string{"If-Modified-Since: WED, 15 JAN 2025 08:30:00 GMT"}, 200},
		{"§13.1.3 MUST ignore for methods other than GET and HEAD", "POST", []string{"If-Modified-Since: " + after}, 200},
		{"§13.1.3 MUST ignore when If-None-Match is present", "GET", []string{`If-None-Match: "other"`, "If-Modified-Since: " + after}, 200},
		{"§13.1.3 ignored even when If-None-Match is malformed", "GET", []string{"If-None-Match: junk", "If-Modified-Since: " + after}, 200},
		{"§13.2.2 steps 2 and 4 both evaluated", "GET", []string{"If-Unmodified-Since: " + after, "If-Modified-Since: " + after}, 304},
	}
	if len(cases) < 25 {
		t.Fatal("the precondition table needs at least 25 rows")
	}

	h, _ := fixture(t, Config{}, map[string]string{"a.txt": body})
	v := validators{etag: E, modTime: lm}
	for _, c := range cases {
		r := webtest.NewRequest(c.method, "/a.txt", nil, c.fields...)
		want := map[int]outcome{200: proceed, 304: notModified, 412: preconditionFailed}[c.want]
		if got := evaluatePreconditions(c.method, &r.Header, v, testNow); got != want {
			t.Errorf("%s: %s %q: outcome %d, want %d", c.rule, c.method, c.fields, got, want)
		}
		if c.method != "GET" && c.method != "HEAD" {
			continue
		}
		w := do(h, c.method, "/a.txt", c.fields...)
		if w.Code != c.want {
			t.Errorf("%s: handler %s %q: %d, want %d", c.rule, c.method, c.fields, w.Code, c.want)
		}
		if c.want == 200 && c.method == "GET" && w.Body.String() != body {
			t.Errorf("%s: body %q", c.rule, w.Body.String())
		}
	}
}

// TestNotModifiedResponse: §15.4.5, a 304 carries ETag, Vary and Cache-Control
// (and here Last-Modified), and no body, Content-Length or Content-Type.
func TestNotModifiedResponse(t *testing.T) {
	h, _ := fixture(t, Config{Precompressed: true, CacheControl: "public, max-age=60"},
		map[string]string{"a.css": "body{}", "a.css.gz": "gzipped"})
	for _, method := range []string{"GET", "HEAD"} {
		w := do(h, method, "/a.css", "If-None-Match: "+etagOf(6, ""))
		if w.Code != 304 || w.Body.Len() != 0 {
			t.Fatalf("%s: %d %q", method, w.Code, w.Body.String())
		}
		for name, want := range map[string]string{
			"ETag": etagOf(6, ""), "Last-Modified": testLM, "Cache-Control": "public, max-age=60",
			"Vary": "Accept-Encoding", "Content-Length": "", "Content-Type": "", "Content-Encoding": "",
			"Accept-Ranges": "",
		} {
			if got := w.Head.Get(name); got != want {
				t.Errorf("%s 304 %s: %q, want %q", method, name, got, want)
			}
		}
	}
	// A 412 is an error: rendered by the server, none of the file's fields.
	w := do(h, "GET", "/a.css", `If-Match: "nope"`)
	if w.Code != 412 || w.Head.Get("ETag") != "" || w.Head.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("412: %d %v", w.Code, w.Head)
	}
}

// TestFutureModTime: a file stamped ahead of the clock is sent with Last-Modified
// = now (§8.8.2.1), and If-Modified-Since with that value gets a 304.
func TestFutureModTime(t *testing.T) {
	h, root := fixture(t, Config{}, map[string]string{"a.txt": "x"})
	touch(t, root+"/a.txt", testNow.Add(48*time.Hour))
	w := do(h, "GET", "/a.txt")
	now := testNow.Format(timeFormat)
	if got := w.Head.Get("Last-Modified"); got != now {
		t.Fatalf("Last-Modified %q, want %q", got, now)
	}
	if w := do(h, "GET", "/a.txt", "If-Modified-Since: "+now); w.Code != 304 {
		t.Fatalf("If-Modified-Since: now: %d", w.Code)
	}
}
