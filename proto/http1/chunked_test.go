package http1

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// decodeAll decodes a whole chunked body held in src. It returns the body, the number
// of bytes consumed and the final error (nil once io.EOF was reached).
func decodeAll(d *ChunkedDecoder, src []byte) ([]byte, int, error) {
	var body []byte
	total := 0
	for {
		n, data, err := d.Decode(src[total:], len(src))
		body = append(body, data...)
		total += n
		if err == io.EOF {
			return body, total, nil
		}
		if err != nil {
			return body, total, err
		}
	}
}

// decodeSplit feeds src in pieces cut at every position, as a reader would see it:
// unconsumed bytes are kept and more are appended. It must agree with decodeAll.
func decodeSplit(t *testing.T, src string, lim Limits) {
	t.Helper()
	decodeSplitExt(t, src, lim, 0)
}

// decodeSplitExt is decodeSplit with a chunk-extension limit. Errors must be the
// same error, not only the same status: the log line names the reason.
func decodeSplitExt(t *testing.T, src string, lim Limits, maxExt int) {
	t.Helper()
	ref := ChunkedDecoder{Limits: lim, MaxExt: maxExt}
	wantBody, wantN, wantErr := decodeAll(&ref, []byte(src))
	for cut := 1; cut < len(src); cut++ {
		d := ChunkedDecoder{Limits: lim, MaxExt: maxExt}
		var body []byte
		pending := []byte(src[:cut])
		fed := cut
		consumed := 0
		var err error
		for {
			var n int
			var data []byte
			n, data, err = d.Decode(pending, 7)
			body = append(body, data...)
			consumed += n
			pending = pending[n:]
			if err == ErrNeedMore && fed < len(src) {
				pending = append(pending, src[fed:]...)
				fed = len(src)
				continue
			}
			if err == nil {
				continue
			}
			break
		}
		if err == io.EOF {
			err = nil
		}
		if !errors.Is(err, wantErr) {
			t.Fatalf("cut %d: err %v, one piece %v", cut, err, wantErr)
		}
		if wantErr == nil && (string(body) != string(wantBody) || consumed != wantN) {
			t.Fatalf("cut %d: body %q n %d, one piece %q n %d", cut, body, consumed, wantBody, wantN)
		}
	}
}

func TestChunkedRules(t *testing.T) {
	cases := []struct {
		rule, name, src, body string
		want                  int // 200 decoded, 0 need more, else the error's status
	}{
		{"", "simple", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 200},
		{"", "uppercase hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 200},
		{"", "leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", 200},
		{"", "16 digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", "hello", 200},
		{"", "extensions", "5; some; parameters=stuff\r\nhello\r\n6 ; blah ; a = \"b;c\\\"d\"\r\n world\r\n0;last\r\n\r\n", "hello world", 200},
		{"", "trailers", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nVary: *\r\n\r\n", "hello", 200},
		{"", "incomplete size line", "5", "", 0},
		{"", "incomplete data", "5\r\nhel", "hel", 0},
		{"", "incomplete trailer", "0\r\nX: 1\r\n", "", 0},
		{"", "missing final CRLF", "0\r\n", "", 0},
		{"R20", "0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R20", "plus sign", "+5\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R20", "minus sign", "-5\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R20", "underscore", "5_0\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R20", "leading space", " 5\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R20", "trailing space", "5 \r\nhello\r\n0\r\n\r\n", "", 400},
		{"R20", "empty size line", "\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R20", "17 digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R20", "overflow into sign bit", "8000000000000000\r\n", "", 400},
		{"R21", "data longer than size", "5\r\nhello!!\r\n0\r\n\r\n", "hello", 400},
		{"R21", "data not followed by CRLF", "5\r\nhelloXX", "hello", 400},
		{"R21", "bare LF after size", "1\na\r\n0\r\n\r\n", "", 400},
		{"R21", "bare LF after data", "1\r\na\n0\r\n\r\n", "a", 400},
		{"R21", "CR CR", "5\r\r;x\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R21", "bare LF in last chunk", "0\n\r\n", "", 400},
		{"R21", "bare LF ending trailers", "0\r\n\n", "", 400},
		{"R22", "bare LF in extension", "1;a\nZ\r\n0\r\n\r\n", "", 400},
		{"R22", "bare CR in extension", "5;ext=val\rue\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R22", "CTL in extension", "5;a=\x01\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R22", "no name after semicolon", "5;\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R22", "no name before equals", "5;=x\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R22", "unbalanced quote", "5;a=\"x\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R22", "trailing whitespace after extension", "5;a \r\nhello\r\n0\r\n\r\n", "", 400},
		{"R22", "extension too long", "5;a=" + strings.Repeat("x", DefaultMaxChunkExt) + "\r\nhello\r\n0\r\n\r\n", "", 400},
		{"R22", "64 KiB of extensions, unterminated", "5;a=" + strings.Repeat("x", 64<<10), "", 400},
		{"R23", "Content-Length trailer", "5\r\nhello\r\n0\r\nContent-Length: 99\r\n\r\n", "hello", 400},
		{"R23", "Transfer-Encoding trailer", "5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n", "hello", 400},
		{"R23", "Host trailer", "5\r\nhello\r\n0\r\nHost: evil.example\r\n\r\n", "hello", 400},
		{"R23", "Authorization trailer", "5\r\nhello\r\n0\r\nAuthorization: Basic eDp5\r\n\r\n", "hello", 400},
		{"R23", "obs-fold in trailer", "0\r\nX: a\r\n b\r\n\r\n", "", 400},
		{"R23", "whitespace first trailer", "0\r\n X: a\r\n\r\n", "", 400},
		{"R23", "bad trailer name", "0\r\nX Y: a\r\n\r\n", "", 400},
	}
	for _, tc := range cases {
		t.Run(tc.rule+"/"+tc.name, func(t *testing.T) {
			var d ChunkedDecoder
			body, _, err := decodeAll(&d, []byte(tc.src))
			got := statusOf(err)
			if err == ErrNeedMore {
				got = 0
			}
			if got != tc.want {
				t.Fatalf("got %d (%v), want %d", got, err, tc.want)
			}
			if string(body) != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
			if len(tc.src) < 200 {
				decodeSplit(t, tc.src, Limits{})
			}
		})
	}
}

func TestChunkedTrailers(t *testing.T) {
	var d ChunkedDecoder
	src := "3\r\nabc\r\n0\r\nX-Checksum: 42\r\nContent-Type: text/plain\r\nExpires: never\r\n\r\nNEXT"
	body, n, err := decodeAll(&d, []byte(src))
	if err != nil || string(body) != "abc" || src[n:] != "NEXT" {
		t.Fatalf("body %q, rest %q, err %v", body, src[n:], err)
	}
	// Content-Type is dropped (RFC 9110 §6.5.1), the rest kept, in order.
	if len(d.Trailers) != 2 || string(d.Trailers[0].Name) != "X-Checksum" || string(d.Trailers[0].Value) != "42" ||
		string(d.Trailers[1].Name) != "Expires" {
		t.Fatalf("trailers %q", d.Trailers)
	}
	if !d.Done() {
		t.Fatal("not done after EOF")
	}
	d.Reset()
	if len(d.Trailers) != 0 || d.Done() {
		t.Fatal("Reset kept state")
	}
}

// TestChunkedLimits checks each chunked limit at the limit and one past it.
func TestChunkedLimits(t *testing.T) {
	ext := func(n int) string { return ";" + strings.Repeat("e", n-1) } // n bytes of extension
	field := func(n int) string { return "X: " + strings.Repeat("v", n-3) }
	lim := Limits{MaxHeaderBytes: 100, MaxFieldBytes: 40, MaxFields: 2}
	cases := []struct {
		name   string
		src    string
		maxExt int
		want   int
	}{
		{"extension at limit", "1" + ext(32) + "\r\na\r\n0\r\n\r\n", 32, 200},
		{"extension one past", "1" + ext(33) + "\r\na\r\n0\r\n\r\n", 32, 400},
		{"extension one past, unterminated", "1" + ext(33) + "\r", 32, 400},
		{"trailer field at limit", "0\r\n" + field(40) + "\r\n\r\n", 0, 200},
		{"trailer field one past", "0\r\n" + field(41) + "\r\n\r\n", 0, 431},
		{"trailer field one past, unterminated", "0\r\n" + field(42), 0, 431},
		// Limits apply before the line end is looked at: the same status in one
		// piece and cut anywhere (decodeSplit).
		{"trailer field one past, bare LF", "0\r\n" + field(41) + "\n\r\n", 0, 431},
		{"trailer field at limit, bare LF", "0\r\n" + field(40) + "\n\r\n", 0, 400},
		{"extension one past, bare LF", "1" + ext(34) + "\na\r\n0\r\n\r\n", 32, 400},
		{"17 size digits, bare LF", "00000000000000001\na\r\n0\r\n\r\n", 32, 400},
		{"trailer fields at limit", "0\r\nA: 1\r\nB: 2\r\n\r\n", 0, 200},
		{"trailer fields one past", "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 0, 431},
		// section: 2 lines of 40+2, plus the final 2 = 86; then 100 and 101
		{"trailer section at limit", "0\r\n" + field(40) + "\r\n" + field(40) + "\r\n\r\n", 0, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := ChunkedDecoder{Limits: lim, MaxExt: tc.maxExt}
			_, _, err := decodeAll(&d, []byte(tc.src))
			got := statusOf(err)
			if err == ErrNeedMore {
				got = 0
			}
			if got != tc.want {
				t.Fatalf("got %d (%v), want %d", got, err, tc.want)
			}
			decodeSplitExt(t, tc.src, lim, tc.maxExt)
		})
	}
	section := func(n int) string { // a trailer section of exactly n bytes, lines ≤ 40
		s := ""
		for rest := n - 2; rest > 0; {
			k := min(rest, 42)
			if rest-k > 0 && rest-k < 6 {
				k -= 6
			}
			s += field(k-2) + "\r\n"
			rest -= k
		}
		return s + "\r\n"
	}
	big := Limits{MaxHeaderBytes: 100, MaxFieldBytes: 40, MaxFields: 10}
	for _, c := range []struct {
		n    int
		want int
	}{{100, 200}, {101, 431}} {
		d := ChunkedDecoder{Limits: big}
		s := section(c.n)
		if len(s) != c.n {
			t.Fatalf("section helper made %d bytes", len(s))
		}
		_, _, err := decodeAll(&d, []byte("0\r\n"+s))
		if got := statusOf(err); got != c.want {
			t.Errorf("trailer section of %d bytes: %d (%v), want %d", c.n, got, err, c.want)
		}
	}
}

// Pending tells, once a chunk line is decoded, how much data its size declares,
// before any of it arrives: a server refuses a chunk over its body limit at once.
func TestChunkedPending(t *testing.T) {
	var d ChunkedDecoder
	steps := []struct {
		src     string
		data    string
		pending int64
	}{
		{"64\r\n", "", 100},
		{"abc", "abc", 97},
		{strings.Repeat("x", 97) + "\r\n", strings.Repeat("x", 97), 0},
		{"7fffffffffffffff", "", 0},
		{"\r\n", "", 1<<63 - 1},
	}
	var pending []byte
	for i, st := range steps {
		pending = append(pending, st.src...)
		var data []byte
		for {
			n, b, err := d.Decode(pending, 1<<20)
			pending = pending[n:]
			data = append(data, b...)
			if err == ErrNeedMore || err == nil && len(pending) == 0 {
				break
			}
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
		if string(data) != st.data || d.Pending() != st.pending {
			t.Fatalf("step %d: data %q pending %d, want %q %d", i, data, d.Pending(), st.data, st.pending)
		}
	}
}

func TestChunkedAllocs(t *testing.T) {
	src := []byte("400\r\n" + strings.Repeat("x", 1024) + "\r\n0\r\n\r\n")
	var d ChunkedDecoder
	allocs := testing.AllocsPerRun(1000, func() {
		d.Reset()
		for off := 0; ; {
			n, _, err := d.Decode(src[off:], 1<<20)
			off += n
			if err == io.EOF {
				break
			}
			if err != nil {
				panic(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("decoding allocates %v times", allocs)
	}
}
