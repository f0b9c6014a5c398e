package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gatehouse/internal/testutil"
)

// seedRequests adds every request of the gunicorn corpus and every request-side
// example of the rules table (testdata/rfc9112-rules.md).
func seedRequests(f *testing.F) {
	for _, c := range testutil.GunicornCorpus(f) {
		f.Add(c.Raw)
	}
	requests, _ := rulesExamples(f)
	for _, raw := range requests {
		f.Add([]byte(raw))
	}
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	// Targets with the characters where URL parsers part ways: fragments,
	// userinfo, escapes, non-ASCII bytes, empty paths, double slashes.
	for _, target := range []string{
		"http://a.example/p?q#f", "http://u@a.example/", "/a#@b.example/c", "http://a.example?x",
		"/a%2Fb?x=%zz", "/%zz", "/caf\xc3\xa9", "//x.example/y", "https://[::1]:8080/?a=b",
	} {
		f.Add([]byte("GET " + target + " HTTP/1.1\r\nHost: a\r\n\r\n"))
	}
}

// rulesExamples turns the backquoted examples of the rules table into fuzz seeds:
// request lines and heads as they are, field fragments inside a request, and the
// chunk examples of R20-R22 as chunked bodies.
func rulesExamples(f *testing.F) (requests, chunks []string) {
	b, err := os.ReadFile(filepath.Join("testdata", "rfc9112-rules.md"))
	if err != nil {
		f.Fatal(err)
	}
	quoted := regexp.MustCompile("`([^`]+)`")
	for _, row := range strings.Split(string(b), "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "R") {
			continue
		}
		rule := strings.TrimSpace(cells[1])
		for _, m := range quoted.FindAllStringSubmatch(cells[2], -1) {
			ex, err := strconv.Unquote(`"` + strings.ReplaceAll(m[1], `"`, `\"`) + `"`)
			if err != nil {
				continue
			}
			switch {
			case rule == "R20" || rule == "R21" || rule == "R22":
				chunks = append(chunks, ex, ex+"\r\n0\r\n\r\n")
			case strings.Contains(ex, "HTTP/"):
				if !strings.Contains(ex, "\r\n\r\n") {
					ex += "\r\nHost: a\r\n\r\n"
				}
				requests = append(requests, ex)
			default: // a field fragment
				requests = append(requests, "POST / HTTP/1.1\r\nHost: a\r\n"+ex+"\r\n\r\n")
			}
		}
	}
	if len(requests) < 30 || len(chunks) < 10 {
		f.Fatalf("rules table gave only %d request and %d chunk examples", len(requests), len(chunks))
	}
	return requests, chunks
}

// fuzzLimits are the limits the fuzz targets parse with: the defaults, and limits
// small enough that fuzzed inputs, which are short, reach every limit.
var fuzzLimits = []Limits{{}, {MaxRequestLine: 24, MaxHeaderBytes: 64, MaxFieldBytes: 16, MaxFields: 3}}

// FuzzParse checks that the parser never panics, that feeding the input in two
// pieces agrees with feeding it whole (the same error, so the same status and
// reason), and that what it accepts is well-formed; under the default limits and
// under small ones.
func FuzzParse(f *testing.F) {
	seedRequests(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, lim := range fuzzLimits {
			checkParse(t, raw, lim)
		}
	})
}

func checkParse(t *testing.T, raw []byte, lim Limits) {
	p := Parser{Limits: lim}
	var req Request
	n, err := p.Parse(raw, &req)
	for _, cut := range []int{1, len(raw) / 3, len(raw) / 2, 2 * len(raw) / 3, len(raw) - 1} {
		if cut <= 0 || cut >= len(raw) {
			continue
		}
		q := Parser{Limits: lim}
		var r2 Request
		n2, err2 := q.Parse(raw[:cut], &r2)
		if err2 == ErrNeedMore {
			n2, err2 = q.Parse(raw, &r2)
		}
		if err2 != err || n2 != n {
			t.Fatalf("limits %+v, cut %d: (%d, %v), whole (%d, %v)", lim, cut, n2, err2, n, err)
		}
	}
	if err != nil {
		if _, ok := err.(*Error); !ok && err != ErrNeedMore {
			t.Fatalf("error of type %T: %v", err, err)
		}
		return
	}
	if n <= 0 || n > len(raw) || !bytes.HasSuffix(raw[:n], []byte("\r\n\r\n")) {
		t.Fatalf("head length %d of %d", n, len(raw))
	}
	if !IsToken(req.Method) || req.Major != 1 {
		t.Fatalf("method %q version %d.%d", req.Method, req.Major, req.Minor)
	}
	for _, f := range req.Fields {
		if !IsToken(f.Name) || bytes.ContainsAny(f.Value, "\r\n\x00") {
			t.Fatalf("field %q: %q", f.Name, f.Value)
		}
	}
	if req.Chunked && req.ContentLength >= 0 {
		t.Fatal("both chunked and Content-Length")
	}
	if req.HasHost && !ValidHost(req.Host) {
		t.Fatalf("host %q", req.Host)
	}
}

// FuzzChunked checks the chunked decoder: no panic, two pieces agree with one, and
// data never exceeds the input.
func FuzzChunked(f *testing.F) {
	for _, c := range testutil.GunicornCorpus(f) {
		if i := bytes.Index(c.Raw, []byte("\r\n\r\n")); i >= 0 && bytes.Contains(bytes.ToLower(c.Raw[:i]), []byte("chunked")) {
			f.Add(c.Raw[i+4:])
		}
	}
	_, chunks := rulesExamples(f)
	for _, ex := range chunks {
		f.Add([]byte(ex))
	}
	f.Add([]byte("5\r\nhello\r\n6; a=\"b\"\r\n world\r\n0\r\nX: y\r\n\r\n"))
	f.Add([]byte("1;a\nZ\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		for _, lim := range fuzzLimits {
			maxExt := 0
			if lim.MaxFieldBytes > 0 {
				maxExt = 8 // small limits: small extensions too
			}
			checkChunked(t, src, ChunkedDecoder{Limits: lim, MaxExt: maxExt})
		}
	})
}

func checkChunked(t *testing.T, src []byte, proto ChunkedDecoder) {
	d := proto
	body, n, err := decodeAll(&d, src)
	if n > len(src) || len(body) > len(src) {
		t.Fatalf("consumed %d, body %d of %d", n, len(body), len(src))
	}
	if err != nil && err != ErrNeedMore {
		if _, ok := err.(*Error); !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
	}
	if cut := len(src) / 2; cut > 0 {
		e := proto
		body1, n1, err1 := decodeAll(&e, src[:cut])
		if err1 == ErrNeedMore {
			var body2 []byte
			var n2 int
			body2, n2, err1 = decodeAll(&e, src[n1:])
			body1, n1 = append(body1, body2...), n1+n2
		}
		if err1 != err || (err == nil && (!bytes.Equal(body1, body) || n1 != n)) {
			t.Fatalf("limits %+v: split at %d: %q %d %v; whole: %q %d %v", proto.Limits, cut, body1, n1, err1, body, n, err)
		}
	}
}

// Differences from net/http's ReadRequest, each deliberate. gatehouse refuses these
// while net/http accepts them (the reasons are in the doc comment of the package):
//
//   - lines ending in a bare LF (R2) and bare CR (R1)
//   - obs-fold and whitespace before the first field (R3, R12)
//   - a second Host, Content-Type or Content-Length field even when equal (R9, R19)
//   - Transfer-Encoding in HTTP/1.0, or with Content-Length, or with codings other
//     than one final chunked (R15-R17)
//   - request-targets net/http's URL parser takes but RFC 9112 §3.2 does not:
//     '*' with a method other than OPTIONS, authority-form without CONNECT, relative
//     paths, schemes other than http and https, userinfo, a fragment ('#', which
//     net/http keeps in the path or query), bytes above 0x7F
//   - CTLs in field values that net/http keeps (R14), and malformed Host values (R9),
//     an empty Host in HTTP/1.1 among them
//   - HTTP/1.x minor versions above 1 are served as 1.1; other majors get 505
//   - heads over the request-line, field-line, field-count or head-size limits
//
// and gatehouse accepts these where net/http refuses:
//
//   - empty lines before the request line (R4: SHOULD ignore)
var stricterThanNetHTTP = map[*Error]bool{
	ErrBareLF: true, ErrBareCR: true, ErrObsFold: true, ErrLeadingSpace: true,
	ErrDuplicateHost: true, ErrDuplicateField: true, ErrDupContentLength: true,
	ErrEncodingHTTP10: true, ErrLengthAndEncoding: true, ErrTransferEncoding: true, ErrTransferCoding: true,
	ErrTargetForm: true, ErrTarget: true, ErrUserinfo: true, ErrFieldValue: true, ErrHost: true,
	ErrVersionUnsupported: true, ErrContentLength: true, ErrFieldName: true, ErrRequestLine: true,
	ErrMethod: true, ErrVersion: true,
	// Limits: net/http's ReadRequest has none of its own.
	ErrRequestLineTooLong: true, ErrFieldTooLong: true, ErrTooManyFields: true, ErrHeaderTooLarge: true,
	ErrMethodTooLong: true, ErrFragment: true, ErrTargetNonASCII: true, ErrEmptyHost: true,
}

// FuzzNetHTTP compares the parser with net/http's ReadRequest. When gatehouse
// accepts a head, net/http must accept it too and agree on method, target, version,
// fields and framing. When gatehouse refuses one that net/http accepts, the reason
// must be one of the listed deliberate differences.
func FuzzNetHTTP(f *testing.F) {
	seedRequests(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p Parser
		var req Request
		_, err := p.Parse(raw, &req)
		if err == ErrNeedMore {
			return
		}
		goReq, goErr := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			if goErr == nil && !stricterThanNetHTTP[err.(*Error)] {
				t.Fatalf("refused (%v), net/http accepts: %.300q", err, raw)
			}
			return
		}
		if goErr != nil {
			if bytes.HasPrefix(raw, []byte("\r\n")) {
				return // R4: leading empty lines are ignored here, an error there
			}
			if req.Minor > 1 {
				return // HTTP/1.2+: served as 1.1 here
			}
			t.Fatalf("accepted, net/http refuses (%v): %.300q", goErr, raw)
		}
		if goReq.Method != string(req.Method) || goReq.RequestURI != string(req.Target) ||
			goReq.ProtoMajor != int(req.Major) || goReq.ProtoMinor != int(req.Minor) {
			t.Fatalf("request line differs: %s %s %d.%d vs %s %s %d.%d", goReq.Method, goReq.RequestURI,
				goReq.ProtoMajor, goReq.ProtoMinor, req.Method, req.Target, req.Major, req.Minor)
		}
		count := map[string]int{}
		for _, f := range req.Fields {
			key := http.CanonicalHeaderKey(string(f.Name))
			if key == "Host" || key == "Transfer-Encoding" {
				continue // net/http moves these out of the header map
			}
			vals := goReq.Header.Values(key)
			i := count[key]
			count[key]++
			if i >= len(vals) || vals[i] != string(f.Value) {
				t.Fatalf("field %s[%d] = %q; net/http has %q", key, i, f.Value, vals)
			}
		}
		// Path and query as net/http's URL parser reads them: a server that
		// routes by another path or authority than the one an application's
		// URL parser sees is open to confusion (the fragment in
		// "http://evil.example#@good.example/" was one such case).
		if req.Form == FormOrigin || req.Form == FormAbsolute {
			goPath := goReq.URL.RawPath
			if goPath == "" {
				goPath = goReq.URL.EscapedPath() // the target's path when RawPath is not needed
			}
			if goPath == "" {
				goPath = "/"
			}
			if goPath != string(req.Path) || goReq.URL.RawQuery != string(req.Query) {
				t.Fatalf("path %q query %q, net/http %q %q: %.300q", req.Path, req.Query, goPath, goReq.URL.RawQuery, raw)
			}
		}
		wantHost := string(req.Host)
		if req.Form == FormAbsolute || req.Form == FormAuthority {
			wantHost = string(req.Authority)
		}
		if goReq.Host != wantHost {
			t.Fatalf("host %q, net/http %q", wantHost, goReq.Host)
		}
		chunked := len(goReq.TransferEncoding) > 0 && goReq.TransferEncoding[0] == "chunked"
		if chunked != req.Chunked {
			t.Fatalf("chunked %v, net/http %v", req.Chunked, chunked)
		}
		if !req.Chunked && req.ContentLength >= 0 && goReq.ContentLength != req.ContentLength {
			t.Fatalf("content length %d, net/http %d", req.ContentLength, goReq.ContentLength)
		}
		if goReq.Close != req.Close {
			t.Fatalf("close %v, net/http %v", req.Close, goReq.Close)
		}
		io.Copy(io.Discard, goReq.Body)
	})
}
