package http1

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// llhttpCase is one response case of llhttp's test suite, converted into
// testdata/llhttp-response.jsonl (MIT; see llhttp-response.SOURCE). The llhttp_*
// fields and status, version, head_len, body and complete come from the case's
// expected log, for its first response; want and why are gatehouse's decisions.
type llhttpCase struct {
	File    string         `json:"file"`
	Line    int            `json:"line"`
	Name    string         `json:"name"`
	Meta    map[string]any `json:"meta"`
	Raw     string         `json:"raw"`
	Method  string         `json:"method"`  // "HEAD": llhttp skipped the body (skipBody)
	Lenient string         `json:"lenient"` // the llhttp lenient flag the case runs with, if any

	LLHTTPError  string `json:"llhttp_error"` // "" or the HPE_* code llhttp ends with
	LLHTTPReason string `json:"llhttp_reason"`
	LLHTTPOff    int    `json:"llhttp_error_off"`
	AfterMessage bool   `json:"after_message"` // the error comes after the first response is complete

	Status   int     `json:"status"`
	Version  string  `json:"version"`
	HeadLen  *int    `json:"head_len"`
	Body     *string `json:"body"`     // the first response's body bytes llhttp reports
	Complete bool    `json:"complete"` // llhttp saw the first response end

	Want     string  `json:"want"`      // "accept" or "refuse": gatehouse's outcome
	Why      string  `json:"why"`       // the rule, where gatehouse and llhttp part
	WantBody *string `json:"want_body"` // gatehouse's body where it differs from llhttp's (see why)
}

func loadLLHTTPCorpus(t testing.TB) []*llhttpCase {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "llhttp-response.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*llhttpCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c llhttpCase
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			t.Fatalf("line %d: %v", len(out)+1, err)
		}
		out = append(out, &c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// llhttpResult is what gatehouse makes of a case's bytes, read as the whole of
// what an upstream sent: the first response head, then its body by its framing.
type llhttpResult struct {
	resp     *Response
	n        int
	framing  Framing
	body     []byte
	complete bool  // the body ended within the bytes (never for FramingClose: no EOF is seen)
	err      error // a refused head (*ResponseError) or chunked body (*Error)
}

func runLLHTTPCase(t *testing.T, c *llhttpCase) llhttpResult {
	t.Helper()
	resp, n, err := parseResponseAll(t, c.Raw, Limits{})
	r := llhttpResult{resp: resp, n: n, err: err}
	if err != nil {
		return r
	}
	rest := []byte(c.Raw[n:])
	r.framing = resp.Framing(c.Method == "HEAD")
	switch r.framing {
	case FramingNone:
		r.complete = true
	case FramingLength:
		if int64(len(rest)) >= resp.ContentLength {
			r.body, r.complete = rest[:resp.ContentLength], true
		} else {
			r.body = rest
		}
	case FramingChunked:
		var d ChunkedDecoder
		for {
			k, data, err := d.Decode(rest, len(rest))
			r.body = append(r.body, data...)
			rest = rest[k:]
			if err == io.EOF {
				r.complete = true
				break
			}
			if err == ErrNeedMore {
				break
			}
			if err != nil {
				r.err = err
				break
			}
		}
	case FramingClose:
		r.body = rest
	}
	return r
}

// TestLLHTTPResponseCorpus runs llhttp's response cases through the response
// parser and the body framing. Where llhttp refuses a response, gatehouse must
// too; where gatehouse refuses what llhttp accepts, the case says why (a rule
// of RFC 9112 or 9110 that responsehead.go applies strictly). What both accept
// must give the status, head length and body bytes of llhttp's log.
func TestLLHTTPResponseCorpus(t *testing.T) {
	cases := loadLLHTTPCorpus(t)
	if len(cases) < 70 {
		t.Fatalf("only %d cases", len(cases))
	}
	var accepted, refused, stricter int
	for _, c := range cases {
		name := strings.TrimSuffix(filepath.Base(c.File), ".md") + "/" + c.Name
		t.Run(name, func(t *testing.T) {
			llhttpRefuses := c.LLHTTPError != "" && !c.AfterMessage
			switch {
			case c.Want != "accept" && c.Want != "refuse":
				t.Fatalf("want %q: the case needs a decision", c.Want)
			case llhttpRefuses && c.Want != "refuse":
				t.Fatalf("llhttp refuses (%s %q); accepting it is a bug, not a policy", c.LLHTTPError, c.LLHTTPReason)
			case !llhttpRefuses && c.Want == "refuse" && c.Why == "":
				t.Fatal("refusing what llhttp accepts needs a why")
			case c.WantBody != nil && c.Why == "":
				t.Fatal("a body other than llhttp's needs a why")
			}

			r := runLLHTTPCase(t, c)
			if errors.Is(r.err, ErrNeedMore) {
				t.Fatalf("head incomplete at the end of %d bytes", len(c.Raw))
			}
			got := "accept"
			if r.err != nil {
				got = "refuse"
				var re *ResponseError
				var e *Error
				if !errors.As(r.err, &re) && !errors.As(r.err, &e) {
					t.Fatalf("error of type %T: %v", r.err, r.err)
				}
			}
			if got != c.Want {
				t.Fatalf("%s (%v), want %s; llhttp: %s %q; why: %s", got, r.err, c.Want, c.LLHTTPError, c.LLHTTPReason, c.Why)
			}
			if got == "refuse" {
				refused++
				if !llhttpRefuses {
					stricter++
				}
				return
			}
			accepted++
			resp := r.resp
			if resp.Status != c.Status {
				t.Errorf("status %d, llhttp %d", resp.Status, c.Status)
			}
			if v := fmt.Sprintf("%d.%d", resp.Major, resp.Minor); v != c.Version {
				t.Errorf("version %s, llhttp %s", v, c.Version)
			}
			if c.HeadLen == nil || r.n != *c.HeadLen || resp.HeadLen != r.n {
				t.Errorf("head length %d (HeadLen %d), llhttp %v", r.n, resp.HeadLen, c.HeadLen)
			}
			want := c.Body
			if c.WantBody != nil {
				want = c.WantBody
			}
			if want == nil || string(r.body) != *want {
				t.Errorf("body %q (framing %d), want %q", r.body, r.framing, deref(want))
			}
			// Whether the body ended within the bytes, as llhttp saw it; where
			// the framing differs (want_body), llhttp's answer does not apply.
			if c.WantBody == nil && r.complete != c.Complete {
				t.Errorf("body complete %v, llhttp %v", r.complete, c.Complete)
			}
			// What llhttp reports after the first response, and what the
			// parser gives its caller for it.
			switch {
			case c.LLHTTPError == "HPE_CLOSED_CONNECTION" || c.Lenient == "data-after-close" || c.Lenient == "keep-alive":
				// Data after a response that closes the connection: the
				// caller reads no further response from it.
				if !resp.Close {
					t.Error("Close not set: the caller would read the bytes that follow")
				}
			case c.LLHTTPError == "HPE_PAUSED_UPGRADE":
				// The connection switches protocols after the 101 head.
				if resp.Status != 101 || r.framing != FramingNone {
					t.Errorf("status %d framing %d, want a 101 without a body", resp.Status, r.framing)
				}
			case c.LLHTTPError != "":
				t.Fatalf("llhttp error %s after the response is not handled here", c.LLHTTPError)
			}
		})
	}
	t.Logf("%d cases: %d accepted, %d refused (%d where llhttp accepts)", len(cases), accepted, refused, stricter)
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}
