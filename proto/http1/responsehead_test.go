package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// parseResponseAll parses raw in one call and byte by byte with one
// ResponseParser; both must agree.
func parseResponseAll(t testing.TB, raw string, lim Limits) (*Response, int, error) {
	t.Helper()
	resp := &Response{}
	n, err := ParseResponseHead([]byte(raw), lim, resp)

	q := ResponseParser{Limits: lim}
	inc := &Response{}
	var n2 int
	var err2 error = ErrNeedMore
	for i := 1; i <= len(raw) && err2 == ErrNeedMore; i++ {
		n2, err2 = q.Parse([]byte(raw[:i]), inc)
	}
	if !errors.Is(err2, innerErr(err)) && !(err == ErrNeedMore && err2 == ErrNeedMore) {
		t.Fatalf("incremental parse disagrees: one call %v, byte by byte %v", err, err2)
	}
	if err == nil && (n2 != n || inc.Status != resp.Status || len(inc.Fields) != len(resp.Fields)) {
		t.Fatalf("incremental parse disagrees: n %d/%d", n, n2)
	}
	return resp, n, err
}

func innerErr(err error) error {
	var re *ResponseError
	if errors.As(err, &re) {
		return re.Err
	}
	return err
}

func TestResponseHead(t *testing.T) {
	type want struct {
		status  int
		minor   uint8
		cl      int64
		chunked bool
		close   bool
		fields  int
		framing Framing
	}
	cases := []struct {
		name string
		raw  string
		err  error // nil: parses; the inner *Error otherwise
		want want
	}{
		{"minimal", "HTTP/1.1 200 OK\r\n\r\n", nil, want{200, 1, -1, false, false, 0, FramingClose}},
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", nil, want{200, 1, 5, false, false, 1, FramingLength}},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", nil, want{200, 1, -1, true, false, 1, FramingChunked}},
		{"chunked, case", "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n", nil, want{200, 1, -1, true, false, 1, FramingChunked}},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", nil, want{200, 1, 0, false, true, 2, FramingLength}},
		{"1.0 closes", "HTTP/1.0 200 OK\r\n\r\n", nil, want{200, 0, -1, false, true, 0, FramingClose}},
		{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", nil, want{200, 0, 1, false, false, 2, FramingLength}},
		{"no reason", "HTTP/1.1 204\r\n\r\n", nil, want{204, 1, -1, false, false, 0, FramingNone}},
		{"empty reason", "HTTP/1.1 200 \r\n\r\n", nil, want{200, 1, -1, false, false, 0, FramingClose}},
		{"reason with spaces and obs-text", "HTTP/1.1 404 Not \xe9 Found\r\n\r\n", nil, want{404, 1, -1, false, false, 0, FramingClose}},
		{"304 has no body", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", nil, want{304, 1, 10, false, false, 1, FramingNone}},
		{"100 interim", "HTTP/1.1 100 Continue\r\n\r\n", nil, want{100, 1, -1, false, false, 0, FramingNone}},
		{"1.9 is 1.x", "HTTP/1.9 200 OK\r\n\r\n", nil, want{200, 9, -1, false, false, 0, FramingClose}},
		{"599", "HTTP/1.1 599 x\r\n\r\n", nil, want{599, 1, -1, false, false, 0, FramingClose}},
		{"value OWS trimmed", "HTTP/1.1 200 OK\r\nX:  a b \t\r\n\r\n", nil, want{200, 1, -1, false, false, 1, FramingClose}},

		{"HTTP/2", "HTTP/2.0 200 OK\r\n\r\n", ErrVersionUnsupported, want{}},
		{"lowercase version", "http/1.1 200 OK\r\n\r\n", ErrStatusLine, want{}},
		{"short version", "HTTP/1 200 OK\r\n\r\n", ErrStatusLine, want{}},
		{"two spaces", "HTTP/1.1  200 OK\r\n\r\n", ErrStatusCode, want{}},
		{"tab", "HTTP/1.1\t200 OK\r\n\r\n", ErrStatusLine, want{}},
		{"two-digit code", "HTTP/1.1 20 OK\r\n\r\n", ErrStatusCode, want{}},
		{"four-digit code", "HTTP/1.1 2000 OK\r\n\r\n", ErrStatusCode, want{}},
		{"code 099", "HTTP/1.1 099 x\r\n\r\n", ErrStatusCode, want{}},
		{"code 600", "HTTP/1.1 600 x\r\n\r\n", ErrStatusCode, want{}},
		{"letters in code", "HTTP/1.1 2x0 OK\r\n\r\n", ErrStatusCode, want{}},
		{"NUL in reason", "HTTP/1.1 200 O\x00K\r\n\r\n", ErrStatusLine, want{}},
		{"empty status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", ErrStatusLine, want{}},
		{"bare LF status line", "HTTP/1.1 200 OK\n\r\n", ErrBareLF, want{}},
		{"bare LF field", "HTTP/1.1 200 OK\r\nX: y\n\r\n", ErrBareLF, want{}},
		{"bare LF end", "HTTP/1.1 200 OK\r\n\n", ErrBareLF, want{}},
		{"bare CR in value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", ErrFieldValue, want{}},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", ErrObsFold, want{}},
		{"space before first field", "HTTP/1.1 200 OK\r\n X: a\r\n\r\n", ErrLeadingSpace, want{}},
		// Refused at the first byte of the line, before its end arrives.
		{"space before first field, unterminated", "HTTP/1.1 200 OK\r\n Host: foo", ErrLeadingSpace, want{}},
		{"tab before first field, first byte", "HTTP/1.1 200 OK\r\n\t", ErrLeadingSpace, want{}},
		{"obs-fold, first byte", "HTTP/1.1 200 OK\r\nX: a\r\n ", ErrObsFold, want{}},
		{"need more: before the first field", "HTTP/1.1 200 OK\r\n", ErrNeedMore, want{}},
		{"need more: before the next field", "HTTP/1.1 200 OK\r\nX: a\r\nY", ErrNeedMore, want{}},
		{"space before colon", "HTTP/1.1 200 OK\r\nX : a\r\n\r\n", ErrFieldName, want{}},
		{"empty name", "HTTP/1.1 200 OK\r\n: a\r\n\r\n", ErrFieldName, want{}},
		{"two content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", ErrDupContentLength, want{}},
		{"content-length list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n", ErrContentLength, want{}},
		{"negative content-length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ErrContentLength, want{}},
		{"19-digit content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000\r\n\r\n", ErrContentLength, want{}},
		{"length and chunked", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", ErrLengthAndEncoding, want{}},
		{"chunked not last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", ErrTransferEncoding, want{}},
		{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTransferEncoding, want{}},
		{"gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", ErrTransferCoding, want{}},
		{"chunked in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", ErrEncodingHTTP10, want{}},

		{"need more: nothing", "", ErrNeedMore, want{}},
		{"need more: status line", "HTTP/1.1 200 OK\r", ErrNeedMore, want{}},
		{"need more: fields", "HTTP/1.1 200 OK\r\nX: y\r\n", ErrNeedMore, want{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, n, err := parseResponseAll(t, c.raw, Limits{})
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				if err != ErrNeedMore {
					var re *ResponseError
					if !errors.As(err, &re) || re.HTTPStatus() != 502 {
						t.Fatalf("%T is not a 502 ResponseError", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := c.want
			got := want{resp.Status, resp.Minor, resp.ContentLength, resp.Chunked, resp.Close, len(resp.Fields), resp.Framing(false)}
			if got != w {
				t.Fatalf("got %+v\nwant %+v", got, w)
			}
			if n != resp.HeadLen || !strings.HasSuffix(c.raw[:n], "\r\n\r\n") {
				t.Fatalf("head length %d", n)
			}
			if resp.Framing(true) != FramingNone {
				t.Fatal("a response to HEAD has a body")
			}
		})
	}
}

func TestResponseHeadViews(t *testing.T) {
	raw := "HTTP/1.1 201 Created Here\r\nLocation: /x\r\nX-A: 1\r\nX-A: 2\r\n\r\nbody"
	resp, n, err := parseResponseAll(t, raw, Limits{})
	if err != nil || raw[n:] != "body" || string(resp.Reason) != "Created Here" {
		t.Fatalf("%v %q %q", err, raw[n:], resp.Reason)
	}
	if string(resp.Fields[0].Name) != "Location" || string(resp.Fields[0].Value) != "/x" ||
		string(resp.Fields[2].Value) != "2" {
		t.Fatalf("%q", resp.Fields)
	}
}

// TestResponseHeadLimits: each limit at its value passes, one past fails.
func TestResponseHeadLimits(t *testing.T) {
	lim := Limits{MaxRequestLine: 40, MaxHeaderBytes: 200, MaxFieldBytes: 30, MaxFields: 3}
	status := func(n int) string { // a status line of exactly n bytes
		return "HTTP/1.1 200 " + strings.Repeat("r", n-13) + "\r\n"
	}
	field := func(n int) string { // a field line of exactly n bytes
		return "X: " + strings.Repeat("v", n-3) + "\r\n"
	}
	// Fill a head to exactly n bytes with a status line of 20 bytes.
	head := func(n int) string {
		s := status(20)
		for len(s)+32 < n-2 {
			s += field(30)
		}
		if rest := n - 2 - len(s); rest > 0 {
			s += field(rest - 2)
		}
		return s + "\r\n"
	}
	cases := []struct {
		name string
		raw  string
		err  error
	}{
		{"status line at", status(40) + "\r\n", nil},
		{"status line past", status(41) + "\r\n", ErrStatusLineTooLong},
		{"status line past, unterminated", status(60)[:50], ErrStatusLineTooLong},
		{"field at", status(20) + field(30) + "\r\n", nil},
		{"field past", status(20) + field(31) + "\r\n", ErrFieldTooLong},
		{"field past, unterminated", status(20) + field(40)[:35], ErrFieldTooLong},
		{"fields at", status(20) + field(5) + field(5) + field(5) + "\r\n", nil},
		{"fields past", status(20) + field(5) + field(5) + field(5) + field(5) + "\r\n", ErrTooManyFields},
		{"head at", head(200), nil},
		{"head past", head(201), ErrHeaderTooLarge},
	}
	if len(head(200)) != 200 || len(head(201)) != 201 || len(status(40)) != 42 || len(field(30)) != 32 {
		t.Fatal("fixture sizes")
	}
	lim4 := lim
	lim4.MaxFields = 10
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := lim
			if strings.HasPrefix(c.name, "head") {
				l = lim4
			}
			_, _, err := parseResponseAll(t, c.raw, l)
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v (%d bytes)", err, c.err, len(c.raw))
			}
		})
	}
	// The defaults: a field line of 8 KiB passes, one byte more does not.
	ok := "HTTP/1.1 200 OK\r\n" + field(DefaultMaxFieldBytes) + "\r\n"
	if _, _, err := parseResponseAll(t, ok, Limits{}); err != nil {
		t.Fatal(err)
	}
	long := "HTTP/1.1 200 OK\r\n" + field(DefaultMaxFieldBytes+1) + "\r\n"
	if _, _, err := parseResponseAll(t, long, Limits{}); !errors.Is(err, ErrFieldTooLong) {
		t.Fatal(err)
	}
}

func TestResponseHeadAllocs(t *testing.T) {
	raw := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
	var resp Response
	var p ResponseParser
	p.Parse(raw, &resp)
	if a := testing.AllocsPerRun(100, func() { p.Parse(raw, &resp) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

// FuzzParseResponseHead: no panic; feeding the input cut at any offset, or
// byte by byte into one parser, agrees with feeding it whole; what is accepted
// is well formed and read the same way by net/http's ReadResponse. The seeds
// include every case of llhttp's response corpus.
func FuzzParseResponseHead(f *testing.F) {
	for _, c := range loadLLHTTPCorpus(f) {
		f.Add([]byte(c.Raw))
	}
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Type: text/html\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200\r\nX: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 302 Found\r\nLocation: http://example.test/\r\nSet-Cookie: a=b\r\nSet-Cookie: c=d\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var resp Response
		n, err := ParseResponseHead(raw, Limits{}, &resp)
		same := func(how string, n2 int, err2 error, r2 *Response) {
			t.Helper()
			if innerErr(err2) != innerErr(err) || n2 != n {
				t.Fatalf("%s: (%d, %v), whole (%d, %v)", how, n2, err2, n, err)
			}
			if err == nil && (r2.Status != resp.Status || r2.Minor != resp.Minor || r2.ContentLength != resp.ContentLength ||
				r2.Chunked != resp.Chunked || r2.Close != resp.Close || r2.KeepAlive != resp.KeepAlive ||
				r2.HeadLen != resp.HeadLen || len(r2.Fields) != len(resp.Fields)) {
				t.Fatalf("%s: %+v, whole %+v", how, r2, &resp)
			}
		}
		// Cut at every offset: the first piece, then the same buffer whole.
		for cut := 1; cut < len(raw); cut++ {
			var p ResponseParser
			var r2 Response
			n2, err2 := p.Parse(raw[:cut], &r2)
			if err2 == ErrNeedMore {
				n2, err2 = p.Parse(raw, &r2)
			}
			same(fmt.Sprintf("cut at %d", cut), n2, err2, &r2)
		}
		// One parser, the buffer extended a byte at a time.
		{
			var p ResponseParser
			var r2 Response
			n2, err2 := 0, ErrNeedMore
			for k := 1; k <= len(raw) && err2 == ErrNeedMore; k++ {
				n2, err2 = p.Parse(raw[:k], &r2)
			}
			if len(raw) > 0 {
				same("byte by byte", n2, err2, &r2)
			}
		}
		if err != nil {
			var re *ResponseError
			if err != ErrNeedMore && !errors.As(err, &re) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if n <= 0 || n > len(raw) || !bytes.HasSuffix(raw[:n], []byte("\r\n\r\n")) {
			t.Fatalf("head length %d of %d", n, len(raw))
		}
		if resp.Status < 100 || resp.Status > 599 || resp.Major != 1 || resp.ContentLength < -1 ||
			resp.Chunked && resp.ContentLength >= 0 || resp.HeadLen != n {
			t.Fatalf("%+v", resp)
		}
		for _, fl := range resp.Fields {
			if !IsToken(fl.Name) || bytes.ContainsAny(fl.Value, "\r\n\x00") {
				t.Fatalf("field %q: %q", fl.Name, fl.Value)
			}
		}
		goResp, goErr := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw[:n])), &http.Request{Method: "GET"})
		if goErr != nil {
			t.Fatalf("accepted, net/http refuses (%v): %q", goErr, raw[:n])
		}
		if goResp.StatusCode != resp.Status || goResp.ProtoMinor != int(resp.Minor) {
			t.Fatalf("status %d 1.%d, net/http %d 1.%d", resp.Status, resp.Minor, goResp.StatusCode, goResp.ProtoMinor)
		}
		if resp.Framing(false) == FramingLength && goResp.ContentLength != resp.ContentLength {
			t.Fatalf("length %d, net/http %d", resp.ContentLength, goResp.ContentLength)
		}
	})
}
