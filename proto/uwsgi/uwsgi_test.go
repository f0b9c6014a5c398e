package uwsgi

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// build encodes vars (key, value, key, value, ...) with the given block limit.
func build(t testing.TB, limit int, kv ...string) ([]byte, error) {
	t.Helper()
	var b Builder
	b.Reset([]byte("prefix"), 0, 0, limit)
	for i := 0; i+1 < len(kv); i += 2 {
		b.Add(kv[i], kv[i+1])
	}
	return b.Finish()
}

func TestBuilderWire(t *testing.T) {
	pkt, err := build(t, 0, "REQUEST_METHOD", "GET", "QUERY_STRING", "")
	if err != nil {
		t.Fatal(err)
	}
	want := "prefix" + "\x00\x25\x00\x00" +
		"\x0e\x00REQUEST_METHOD\x03\x00GET" +
		"\x0c\x00QUERY_STRING\x00\x00"
	if string(pkt) != want {
		t.Fatalf("got %q\nwant %q", pkt, want)
	}
}

// TestBuilderLimits: a block of exactly the limit is sent; one byte more is
// refused with 431 and no packet, never a truncated one.
func TestBuilderLimits(t *testing.T) {
	// One variable: 4 bytes of lengths, a 1-byte key, the value fills the rest.
	fill := func(block int) string { return strings.Repeat("v", block-4-1) }
	cases := []struct {
		name  string
		limit int
		kv    []string
		size  int   // expected block size when it fits
		err   error // expected error
	}{
		{"empty packet", 0, nil, 0, nil},
		{"empty value", 0, []string{"K", ""}, 5, nil},
		{"at 65535", 0, []string{"K", fill(65535)}, 65535, nil},
		{"65536", 0, []string{"K", fill(65536)}, 0, ErrVarsTooLarge},
		{"value of 65535 bytes", 0, []string{"K", strings.Repeat("v", 65535)}, 0, ErrVarsTooLarge},
		{"key of 65536 bytes", 0, []string{strings.Repeat("k", 65536), ""}, 0, ErrVarsTooLarge},
		{"two that fill it", 0, []string{"A", fill(60000), "B", fill(5535)}, 65535, nil},
		{"two, one byte past", 0, []string{"A", fill(60000), "B", fill(5536)}, 0, ErrVarsTooLarge},
		{"limit 4096 at", 4096, []string{"K", fill(4096)}, 4096, nil},
		{"limit 4096 past", 4096, []string{"K", fill(4097)}, 0, ErrVarsTooLarge},
		{"limit above the field's range", 1 << 20, []string{"K", fill(65536)}, 0, ErrVarsTooLarge},
		{"empty key", 0, []string{"", "v"}, 0, ErrEmptyKey},
		{"error is sticky", 0, []string{"", "v", "K", "v"}, 0, ErrEmptyKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pkt, err := build(t, c.limit, c.kv...)
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if err != nil {
				if string(pkt) != "prefix" {
					t.Fatalf("after an error the buffer holds %d bytes past the prefix", len(pkt)-6)
				}
				if c.err == ErrVarsTooLarge && (err.(*Error)).HTTPStatus() != 431 {
					t.Fatal("not 431")
				}
				return
			}
			body := pkt[len("prefix"):]
			h, _ := ParseHeader(body)
			if int(h.Size) != c.size || len(body) != HeaderSize+c.size {
				t.Fatalf("size %d (%d bytes), want %d", h.Size, len(body), c.size)
			}
			var p Parser
			var got Packet
			if n, err := p.Parse(body, &got); err != nil || n != len(body) || len(got.Vars) != len(c.kv)/2 {
				t.Fatalf("parse back: %d %v %d vars", n, err, len(got.Vars))
			}
		})
	}
}

// TestParse covers the decoder at each limit and one past it, empty values,
// and malformed blocks.
func TestParse(t *testing.T) {
	v := func(k, val string) string {
		return string([]byte{byte(len(k)), byte(len(k) >> 8)}) + k + string([]byte{byte(len(val)), byte(len(val) >> 8)}) + val
	}
	pkt := func(m1, m2 byte, block string) string {
		return string([]byte{m1, byte(len(block)), byte(len(block) >> 8), m2}) + block
	}
	many := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(v("K", ""))
		}
		return b.String()
	}
	cases := []struct {
		name string
		lim  Limits
		raw  string
		vars int
		err  error
	}{
		{"empty block", Limits{}, pkt(0, 0, ""), 0, nil},
		{"one var", Limits{}, pkt(0, 0, v("A", "b")), 1, nil},
		{"empty value", Limits{}, pkt(0, 0, v("QUERY_STRING", "")), 1, nil},
		{"modifiers kept", Limits{}, pkt(5, 1, v("A", "b")), 1, nil},
		{"body after the packet", Limits{}, pkt(0, 0, v("A", "b")) + "BODY", 1, nil},
		{"full block", Limits{}, pkt(0, 0, v("K", strings.Repeat("x", 65535-5))), 1, nil},
		{"limit at", Limits{MaxVarsSize: 100}, pkt(0, 0, v("K", strings.Repeat("x", 95))), 1, nil},
		{"limit past", Limits{MaxVarsSize: 100}, pkt(0, 0, v("K", strings.Repeat("x", 96))), 0, ErrVarsTooLarge},
		{"limit past, header only", Limits{MaxVarsSize: 100}, "\x00\x65\x00\x00", 0, ErrVarsTooLarge},
		{"max vars at", Limits{MaxVars: 3}, pkt(0, 0, many(3)), 3, nil},
		{"max vars past", Limits{MaxVars: 3}, pkt(0, 0, many(4)), 0, ErrTooManyVars},
		{"default max vars past", Limits{}, pkt(0, 0, many(DefaultMaxVars+1)), 0, ErrTooManyVars},
		{"empty key", Limits{}, pkt(0, 0, v("", "x")), 0, ErrEmptyKey},
		{"one stray byte", Limits{}, pkt(0, 0, v("A", "b")+"\x01"), 0, ErrVar},
		{"key overruns", Limits{}, pkt(0, 0, "\x05\x00AB"), 0, ErrVar},
		{"no value length", Limits{}, pkt(0, 0, "\x01\x00A"), 0, ErrVar},
		{"half a value length", Limits{}, pkt(0, 0, "\x01\x00A\x01"), 0, ErrVar},
		{"value overruns", Limits{}, pkt(0, 0, "\x01\x00A\x09\x00xy"), 0, ErrVar},
		{"value overruns into body", Limits{}, pkt(0, 0, "\x01\x00A\x03\x00x") + "yz", 0, ErrVar},
		{"truncated header", Limits{}, "\x00\x05", 0, ErrNeedMore},
		{"truncated block", Limits{}, pkt(0, 0, v("A", "bcd"))[:9], 0, ErrNeedMore},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Parser{Limits: c.lim}
			var got Packet
			n, err := p.Parse([]byte(c.raw), &got)
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if err != nil {
				return
			}
			if len(got.Vars) != c.vars || n != HeaderSize+int(got.Size) {
				t.Fatalf("%d vars, n %d", len(got.Vars), n)
			}
			// Every proper prefix needs more, or fails the same way sooner
			// (a header over the limit).
			for i := 0; i < n; i++ {
				var q Packet
				if _, err := p.Parse([]byte(c.raw[:i]), &q); err != ErrNeedMore {
					t.Fatalf("prefix %d: %v", i, err)
				}
			}
		})
	}
}

func TestPacketGet(t *testing.T) {
	raw, _ := build(t, 0, "A", "1", "B", "", "A", "2")
	var p Parser
	var pkt Packet
	if _, err := p.Parse(raw[len("prefix"):], &pkt); err != nil {
		t.Fatal(err)
	}
	if v, ok := pkt.Get("A"); !ok || string(v) != "1" {
		t.Fatalf("A: %q %v", v, ok)
	}
	if v, ok := pkt.Get("B"); !ok || v == nil || len(v) != 0 {
		t.Fatalf("B: %q %v", v, ok)
	}
	if _, ok := pkt.Get("C"); ok {
		t.Fatal("C found")
	}
}

func TestParseAllocs(t *testing.T) {
	raw, _ := build(t, 0, "REQUEST_METHOD", "GET", "REQUEST_URI", "/", "HTTP_HOST", "a")
	raw = raw[len("prefix"):]
	var p Parser
	var pkt Packet
	p.Parse(raw, &pkt)
	if a := testing.AllocsPerRun(100, func() { p.Parse(raw, &pkt) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}

// FuzzParse: the parser never panics; what it accepts encodes back to the same
// bytes; every prefix of an accepted packet needs more.
func FuzzParse(f *testing.F) {
	seed, _ := build(f, 0, "REQUEST_METHOD", "POST", "CONTENT_LENGTH", "4", "HTTP_HOST", "example.test", "QUERY_STRING", "")
	f.Add(seed[len("prefix"):])
	f.Add(append(bytes.Clone(seed[len("prefix"):]), "BODY"...))
	f.Add([]byte("\x00\x00\x00\x00"))
	f.Add([]byte("\x00\x05\x00\x00\x01\x00A\x09\x00"))
	f.Add([]byte("\x00\x04\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p := Parser{Limits: Limits{MaxVars: 50}}
		var pkt Packet
		n, err := p.Parse(raw, &pkt)
		if err != nil {
			var e *Error
			if err != ErrNeedMore && !errors.As(err, &e) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		if n > len(raw) || n != HeaderSize+int(pkt.Size) || len(pkt.Vars) > 50 {
			t.Fatalf("n %d of %d, size %d", n, len(raw), pkt.Size)
		}
		var b Builder
		b.Reset(nil, pkt.Modifier1, pkt.Modifier2, 0)
		for _, v := range pkt.Vars {
			if len(v.Key) == 0 {
				t.Fatal("empty key accepted")
			}
			b.Add(string(v.Key), string(v.Value))
		}
		out, err := b.Finish()
		if err != nil || !bytes.Equal(out, raw[:n]) {
			t.Fatalf("re-encoded %q (%v), parsed %q", out, err, raw[:n])
		}
		if _, err := p.Parse(raw[:n-1], &pkt); err != ErrNeedMore {
			t.Fatalf("prefix: %v", err)
		}
	})
}

// FuzzBuilder: whatever the variables, the builder either refuses them or
// produces a packet that parses back to them.
func FuzzBuilder(f *testing.F) {
	f.Add("REQUEST_METHOD", "GET", "HTTP_X", strings.Repeat("x", 300), 0)
	f.Add("", "v", "K", "", 4096)
	f.Add("K", strings.Repeat("v", 65530), "B", "", 0)
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, limit int) {
		var b Builder
		b.Reset(nil, 0, 0, limit)
		b.Add(k1, v1)
		b.Add(k2, v2)
		out, err := b.Finish()
		if err != nil {
			if len(out) != 0 {
				t.Fatalf("%d bytes returned with %v", len(out), err)
			}
			return
		}
		var p Parser
		var pkt Packet
		n, err := p.Parse(out, &pkt)
		if err != nil || n != len(out) || len(pkt.Vars) != 2 ||
			string(pkt.Vars[0].Key) != k1 || string(pkt.Vars[0].Value) != v1 ||
			string(pkt.Vars[1].Key) != k2 || string(pkt.Vars[1].Value) != v2 {
			t.Fatalf("round trip: %v %d", err, n)
		}
	})
}
