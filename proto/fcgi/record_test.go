package fcgi

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// record is one whole record as the tests compare them: fragments joined.
type record struct {
	t       Type
	id      uint16
	content string
}

// parseAll reads every record from src, fed in pieces of at most step bytes
// (0: all at once) as a reader filling a buffer would. It returns the records
// and the error that stopped it (nil at a record boundary at the end).
func parseAll(src []byte, step int) ([]record, error) {
	var p Parser
	var out []record
	var cur *record
	var pending []byte
	fed := 0
	if step == 0 {
		pending, fed = src, len(src)
	}
	for {
		f, n, err := p.Next(pending)
		pending = pending[n:]
		if err == ErrNeedMore {
			if fed == len(src) {
				if len(pending) == 0 && cur == nil && !p.in && p.pad == 0 {
					return out, nil
				}
				return out, err
			}
			k := min(step, len(src)-fed)
			pending = append(pending, src[fed:fed+k]...)
			fed += k
			continue
		}
		if err != nil {
			return out, err
		}
		if f.Start {
			out = append(out, record{t: f.Type, id: f.RequestID})
			cur = &out[len(out)-1]
		}
		cur.content += string(f.Content)
		if f.End {
			cur = nil
		}
	}
}

func TestParseHeader(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want Header
		err  error
	}{
		{"short", []byte{1, 6, 0, 1, 0, 0, 0}, Header{}, ErrNeedMore},
		{"stdout", []byte{1, 6, 0, 1, 0xff, 0xff, 1, 0}, Header{1, TypeStdout, 1, 65535, 1}, nil},
		{"padding 255 and reserved byte ignored", []byte{1, 3, 0xff, 0xfe, 0, 8, 255, 9}, Header{1, TypeEndRequest, 65534, 8, 255}, nil},
		{"version 0", []byte{0, 6, 0, 1, 0, 0, 0, 0}, Header{}, ErrVersion},
		{"version 2", []byte{2, 6, 0, 1, 0, 0, 0, 0}, Header{}, ErrVersion},
		{"HTTP bytes", []byte("HTTP/1.1 200"), Header{}, ErrVersion},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := ParseHeader(c.in)
			if err != c.err || h != c.want {
				t.Fatalf("got %+v %v, want %+v %v", h, err, c.want, c.err)
			}
			if err == nil && !bytes.Equal(h.Append(nil)[:7], c.in[:7]) {
				t.Fatalf("Append: % x", h.Append(nil))
			}
		})
	}
}

func TestParser(t *testing.T) {
	big := strings.Repeat("x", MaxContent)
	var stream []byte
	stream = AppendBeginRequest(stream, 1, RoleResponder, FlagKeepConn)
	stream = AppendRecord(stream, TypeStdout, 1, []byte("Status: 200\r\n\r\nhello"))
	stream = AppendRecord(stream, TypeStderr, 1, []byte("warn\n"))
	stream = AppendRecord(stream, TypeStdout, 1, []byte(big))
	stream = AppendRecord(stream, TypeStdout, 1, nil)
	stream = AppendEndRequest(stream, 1, 7, StatusRequestComplete)
	stream = AppendUnknownType(stream, 42)
	want := []record{
		{TypeBeginRequest, 1, "\x00\x01\x01\x00\x00\x00\x00\x00"},
		{TypeStdout, 1, "Status: 200\r\n\r\nhello"},
		{TypeStderr, 1, "warn\n"},
		{TypeStdout, 1, big},
		{TypeStdout, 1, ""},
		{TypeEndRequest, 1, "\x00\x00\x00\x07\x00\x00\x00\x00"},
		{TypeUnknownType, 0, "\x2a\x00\x00\x00\x00\x00\x00\x00"},
	}
	for _, step := range []int{0, 1, 3, 7, 8, 9, 4096, 70000} {
		got, err := parseAll(stream, step)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if len(got) != len(want) {
			t.Fatalf("step %d: %d records, want %d", step, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("step %d, record %d: %v %d %d bytes, want %v %d %d bytes", step, i,
					got[i].t, got[i].id, len(got[i].content), want[i].t, want[i].id, len(want[i].content))
			}
		}
	}
}

// A discrete record is handed out whole: the parser waits for all of it.
func TestParserDiscreteWhole(t *testing.T) {
	rec := AppendEndRequest(nil, 3, 0, StatusOverloaded)
	var p Parser
	f, n, err := p.Next(rec[:12])
	if err != ErrNeedMore || n != HeaderLen {
		t.Fatalf("partial: %v %d", err, n)
	}
	f, n, err = p.Next(rec[HeaderLen:])
	if err != nil || n != 8 || !f.Start || !f.End || f.Type != TypeEndRequest || f.RequestID != 3 {
		t.Fatalf("whole: %+v %d %v", f, n, err)
	}
	end, err := ParseEndRequest(f.Content)
	if err != nil || end.ProtocolStatus != StatusOverloaded {
		t.Fatalf("%+v %v", end, err)
	}
	if _, err := ParseEndRequest(f.Content[:7]); err == nil {
		t.Fatal("short END_REQUEST body accepted")
	}
}

func TestParserStreamFragments(t *testing.T) {
	rec := AppendRecord(nil, TypeStdout, 1, []byte("abcdef"))
	var p Parser
	f, n, err := p.Next(rec[:10])
	if err != nil || n != 10 || string(f.Content) != "ab" || !f.Start || f.End {
		t.Fatalf("first: %+v %d %v", f, n, err)
	}
	f, n, err = p.Next(rec[10:])
	// "cdef", then the two padding bytes are left for the next call.
	if err != nil || n != 4 || string(f.Content) != "cdef" || f.Start || !f.End || f.EndOfStream() {
		t.Fatalf("second: %+v %d %v", f, n, err)
	}
	f, n, err = p.Next(rec[14:])
	if err != ErrNeedMore || n != 2 {
		t.Fatalf("padding: %+v %d %v", f, n, err)
	}
	f, _, err = p.Next(AppendRecord(nil, TypeStdout, 1, nil))
	if err != nil || !f.EndOfStream() {
		t.Fatalf("end of stream: %+v %v", f, err)
	}
}

func TestParserErrors(t *testing.T) {
	bad := append(AppendRecord(nil, TypeStdout, 1, []byte("ok")), 9, 6, 0, 1, 0, 0, 0, 0)
	got, err := parseAll(bad, 3)
	if !errors.Is(err, ErrVersion) || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus() != 502 {
		t.Fatalf("error type %T", err)
	}
	if _, err := parseAll(AppendRecord(nil, TypeStdout, 1, []byte("cut"))[:12], 0); err != ErrNeedMore {
		t.Fatalf("truncated: %v", err)
	}
}

// Content lengths at the 16-bit limit and one past it (§3.3).
func TestAppendRecordSplits(t *testing.T) {
	for _, c := range []struct {
		n       int
		records int
	}{{0, 1}, {1, 1}, {8, 1}, {MaxContent, 1}, {MaxContent + 1, 2}, {2 * MaxContent, 2}, {2*MaxContent + 1, 3}} {
		content := bytes.Repeat([]byte{'z'}, c.n)
		out := AppendRecord(nil, TypeStdin, 9, content)
		if len(out)%8 != 0 {
			t.Errorf("%d bytes: output of %d bytes is not padded to 8", c.n, len(out))
		}
		got, err := parseAll(out, 0)
		if err != nil || len(got) != c.records {
			t.Errorf("%d bytes: %d records (%v), want %d", c.n, len(got), err, c.records)
			continue
		}
		var joined string
		for _, r := range got {
			joined += r.content
			if r.t != TypeStdin || r.id != 9 || len(r.content) > MaxContent {
				t.Errorf("%d bytes: record %v %d with %d bytes", c.n, r.t, r.id, len(r.content))
			}
		}
		if joined != string(content) {
			t.Errorf("%d bytes: content differs", c.n)
		}
	}
}

func TestPadding(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 7, 7: 1, 8: 0, 9: 7, MaxContent: 1} {
		if got := Padding(n); got != want {
			t.Errorf("Padding(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestBeginRequest(t *testing.T) {
	rec := AppendBeginRequest(nil, 0xbeef, RoleFilter, FlagKeepConn)
	got, err := parseAll(rec, 0)
	if err != nil || len(got) != 1 || got[0].id != 0xbeef {
		t.Fatalf("%v %v", got, err)
	}
	b, err := ParseBeginRequest([]byte(got[0].content))
	if err != nil || b.Role != RoleFilter || b.Flags != FlagKeepConn {
		t.Fatalf("%+v %v", b, err)
	}
	abort := AppendAbortRequest(nil, 5)
	if len(abort) != 8 || abort[1] != byte(TypeAbortRequest) {
		t.Fatalf("abort: % x", abort)
	}
}

func TestGetValues(t *testing.T) {
	rec := AppendGetValues(nil, VarMaxConns, VarMaxReqs, VarMpxsConns)
	got, err := parseAll(rec, 0)
	if err != nil || len(got) != 1 || got[0].t != TypeGetValues || got[0].id != NullRequestID {
		t.Fatalf("%v %v", got, err)
	}
	var names []string
	if err := Pairs([]byte(got[0].content), func(n, v []byte) bool {
		names = append(names, string(n)+"="+string(v))
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "FCGI_MAX_CONNS=,FCGI_MAX_REQS=,FCGI_MPXS_CONNS=" {
		t.Fatalf("%v", names)
	}
}

func TestTypeString(t *testing.T) {
	if TypeGetValuesResult.String() != "GET_VALUES_RESULT" || Type(99).String() != "type 99" || Type(0).String() != "type 0" {
		t.Fatal(TypeGetValuesResult.String(), Type(99).String())
	}
	for typ := Type(0); typ < 12; typ++ {
		if typ.Stream() != (typ >= 4 && typ <= 8) {
			t.Errorf("%v.Stream() = %v", typ, typ.Stream())
		}
	}
}
