package http1

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"gatehouse/internal/testutil"
)

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
				status = testutil.WantIncomplete
			}
			pol, listed := testutil.GunicornPolicy[c.ID]
			switch {
			case listed && pol.Want != 200:
				if status != pol.Want {
					t.Fatalf("got %d (%v), policy says %d: %s", status, err, pol.Want, pol.Why)
				}
				if c.Valid() && pol.Want == testutil.WantIncomplete {
					compareCorpus(t, c, got)
				}
			case !c.Valid() && !listed:
				if want := testutil.GunicornStatus(c.Error); status != want {
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
	for id := range testutil.GunicornPolicy {
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
