package http1

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"gatehouse/internal/testutil"
)

// corpusPolicy records, beside each case, where gatehouse deliberately answers a case
// of gunicorn's parser suite differently from gunicorn. want is what the codec does:
// a status for a refusal, 200 when it parses (the server may still refuse it; the
// serve/http1 corpus test checks those statuses), or wantIncomplete.
//
// Cases not listed behave as gunicorn does: valid ones parse exactly as listed,
// invalid ones are refused with the status their error class maps to (gunicornStatus).
var corpusPolicy = map[string]struct {
	want int
	why  string
}{
	// Transfer codings: only chunked is implemented. "identity" was removed from the
	// registry (RFC 9112 §12.3 no longer lists it) and is a classic smuggling
	// obfuscation; an unknown coding before chunked is 501 (RFC 9112 §6.1).
	"gunicorn/valid/009":                                    {400, "Transfer-Encoding: identity with Content-Length: both framings present (R15), final coding not chunked (R16)"},
	"gunicorn/valid/025":                                    {501, "gzip transfer coding is not implemented (RFC 9112 §6.1 SHOULD 501)"},
	"gunicorn/valid/025_line":                               {501, "gzip transfer coding is not implemented"},
	"gunicorn/valid/029":                                    {501, "identity is not a registered transfer coding"},
	"gunicorn/valid/030":                                    {501, "identity is not a registered transfer coding"},
	"gunicorn/valid/rfc9112_smuggle_gzip_chunked_01":        {501, "gzip transfer coding is not implemented"},
	"gunicorn/valid/rfc9112_smuggle_te_identity_chunked_01": {501, "identity is not a registered transfer coding"},
	// gunicorn compatibility switches gatehouse does not offer.
	"gunicorn/valid/028":                  {400, "whitespace before the colon: RFC 9112 §5.1 says MUST reject; no strip_header_spaces switch"},
	"gunicorn/valid/compat_obs_fold":      {400, "obs-fold is rejected (RFC 9112 §5.2 allows it); no permit_obsolete_folding switch"},
	"gunicorn/valid/compat_obs_fold_huge": {400, "obs-fold is rejected; no permit_obsolete_folding switch"},
	"gunicorn/valid/pp_01":                {400, "PROXY protocol is not spoken; the PROXY line is not a request line"},
	"gunicorn/valid/pp_02":                {400, "PROXY protocol is not spoken"},
	"gunicorn/valid/pp_04":                {400, "PROXY protocol v2 is not spoken"},
	"gunicorn/valid/pp_05":                {400, "PROXY protocol v2 is not spoken"},
	// RFC 9110 §4.2.4: a recipient SHOULD treat userinfo in an http(s) URI as an
	// error; it is a phishing device.
	"gunicorn/valid/rfc9112_target_absolute_userinfo_01": {400, "userinfo in the request-target is refused (RFC 9110 §4.2.4)"},

	// Invalid in gunicorn, parsed here.
	"gunicorn/invalid/003c":       {200, "\"-bl\" is a valid token; the server answers 501 for an unknown method"},
	"gunicorn/invalid/019":        {200, "X-Forwarded-* are not trusted by the server, so they cannot conflict (no forwarded_allow_ips)"},
	"gunicorn/invalid/040":        {200, "names with '_' are valid tokens, kept at the HTTP layer; gateways drop them from CGI/WSGI variables so they cannot impersonate their '-' twins (gunicorn header_map=refuse is the switch)"},
	"gunicorn/invalid/chunked_07": {200, "Transfer_Encoding is an ordinary field, not Transfer-Encoding; framing is the real chunked field"},

	// Incomplete input: nothing to answer; the server closes when the peer does.
	"gunicorn/invalid/001": {wantIncomplete, "the head never ends"},
	"gunicorn/valid/099":   {wantIncomplete, "Content-Length is 17914 but the capture holds 8599 bytes: a server waits for the rest; what is there parses as listed"},
	"gunicorn/invalid/rfc9112_chunked_missing_final_crlf_01": {wantIncomplete, "the trailer section never ends; the server reads EOF and closes"},
	"gunicorn/invalid/limit_header_default_01":               {431, "the field line is longer than gunicorn's 8190-byte default"},
	"gunicorn/invalid/version_02":                            {505, "HTTP/2.0 is well-formed, just not served here (RFC 9112 §2.3)"},
	"gunicorn/invalid/013":                                   {400, "obs-fold is refused before any size limit applies"},
}

const wantIncomplete = -1

// gunicornStatus maps gunicorn's error classes to the status gatehouse answers.
func gunicornStatus(class string) int {
	switch class {
	case "LimitRequestLine":
		return 414
	case "LimitRequestHeaders":
		return 431
	}
	return 400
}

type corpusRequest struct {
	req     Request
	body    []byte
	fields  []Field
	method  string
	target  string
	version [2]int
}

// runCorpus parses raw as a stream of requests with framing, as a server would read
// it. It stops after a request that asks to close. It returns the requests and the
// error that ended parsing (nil when raw is consumed exactly).
func runCorpus(raw []byte, lim Limits) ([]corpusRequest, error) {
	var out []corpusRequest
	var p Parser
	p.Limits = lim
	for len(raw) > 0 {
		var cr corpusRequest
		n, err := p.Parse(raw, &cr.req)
		if err != nil {
			return out, err
		}
		raw = raw[n:]
		switch {
		case cr.req.Chunked:
			var d ChunkedDecoder
			d.Limits = lim
			for {
				n, data, err := d.Decode(raw, len(raw))
				cr.body = append(cr.body, data...)
				raw = raw[n:]
				if err == io.EOF {
					break
				}
				if err != nil {
					return out, err
				}
			}
		case cr.req.ContentLength > 0:
			if int64(len(raw)) < cr.req.ContentLength {
				cr.body = raw
				cr.method, cr.target = string(cr.req.Method), string(cr.req.Target)
				cr.version = [2]int{int(cr.req.Major), int(cr.req.Minor)}
				cr.fields = append([]Field(nil), cr.req.Fields...)
				return append(out, cr), ErrNeedMore
			}
			cr.body = raw[:cr.req.ContentLength]
			raw = raw[cr.req.ContentLength:]
		}
		cr.method, cr.target = string(cr.req.Method), string(cr.req.Target)
		cr.version = [2]int{int(cr.req.Major), int(cr.req.Minor)}
		cr.fields = append([]Field(nil), cr.req.Fields...)
		out = append(out, cr)
		if cr.req.Close {
			return out, nil
		}
	}
	return out, nil
}

func TestGunicornCorpus(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range testutil.GunicornCorpus(t) {
		seen[c.ID] = true
		t.Run(strings.TrimPrefix(c.ID, "gunicorn/"), func(t *testing.T) {
			// The corpus runs with gunicorn's limits (its defaults or the case's
			// settings) mapped onto ours, so its limit cases keep their meaning.
			line, field, fields := c.GunicornLimits()
			lim := Limits{MaxRequestLine: line, MaxFieldBytes: field, MaxFields: fields, MaxHeaderBytes: 64 << 10}
			got, err := runCorpus(c.Raw, lim)
			status := statusOf(err)
			if errors.Is(err, ErrNeedMore) {
				status = wantIncomplete
			}
			pol, listed := corpusPolicy[c.ID]
			switch {
			case listed && pol.want != 200:
				if status != pol.want {
					t.Fatalf("got %d (%v), policy says %d: %s", status, err, pol.want, pol.why)
				}
				if c.Valid() && pol.want == wantIncomplete {
					compareCorpus(t, c, got)
				}
			case !c.Valid() && !listed:
				if want := gunicornStatus(c.Error); status != want {
					t.Fatalf("gunicorn refuses with %s; got %d (%v), want %d", c.Error, status, err, want)
				}
			default:
				if err != nil {
					t.Fatalf("valid case refused: %v", err)
				}
				if c.Valid() {
					compareCorpus(t, c, got)
				}
			}
		})
	}
	for id := range corpusPolicy {
		if !seen[id] {
			t.Errorf("policy entry %s names no corpus case", id)
		}
	}
}

func compareCorpus(t *testing.T, c *testutil.GunicornCase, got []corpusRequest) {
	t.Helper()
	if len(got) != len(c.Requests) {
		t.Fatalf("parsed %d requests, corpus lists %d", len(got), len(c.Requests))
	}
	dropUnderscore := c.Settings["header_map"] != "dangerous"
	for i, want := range c.Requests {
		g := got[i]
		if g.method != want.Method && !(strings.EqualFold(g.method, want.Method) && c.Settings["casefold_http_method"] == true) {
			t.Errorf("request %d method %q, want %q", i, g.method, want.Method)
		}
		if !bytes.Equal([]byte(g.target), testutil.Latin1(want.Target)) {
			t.Errorf("request %d target %q, want %q", i, g.target, want.Target)
		}
		if g.version != want.Version {
			t.Errorf("request %d version %v, want %v", i, g.version, want.Version)
		}
		// gunicorn drops names containing '_' by default; gatehouse keeps them at the
		// HTTP layer (see corpusPolicy for invalid/040), so compare without them.
		var fields []Field
		for _, f := range g.fields {
			if dropUnderscore && bytes.IndexByte(f.Name, '_') >= 0 {
				continue
			}
			fields = append(fields, f)
		}
		if len(fields) != len(want.Headers) {
			t.Fatalf("request %d has %d fields, corpus lists %d", i, len(fields), len(want.Headers))
		}
		for j, h := range want.Headers {
			if !strings.EqualFold(string(fields[j].Name), h[0]) || !bytes.Equal(fields[j].Value, testutil.Latin1(h[1])) {
				t.Errorf("request %d field %d = %q: %.40q, want %q: %.40q", i, j, fields[j].Name, fields[j].Value, h[0], h[1])
			}
		}
		if !bytes.Equal(g.body, c.Body(i)) {
			t.Errorf("request %d body %.60q, want %.60q", i, g.body, c.Body(i))
		}
	}
}
