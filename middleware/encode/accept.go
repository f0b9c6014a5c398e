package encode

import (
	"gatehouse/internal/httpspec"
	"gatehouse/proto/http1"
	"gatehouse/web"
)

// Coding is a content coding this package produces.
type Coding uint8

// The codings, in the order preferred by default when a client weighs them
// equally: zstd and brotli make smaller text than gzip, and zstd costs the
// least CPU of the three for what it saves.
const (
	Zstd Coding = iota
	Brotli
	Gzip
	numCodings
)

// names are the Content-Encoding tokens (§8.4.1).
var names = [numCodings]string{"zstd", "br", "gzip"}

func (c Coding) String() string { return names[c] }

// ParseCoding returns the coding named s ("zstd", "br" or "gzip").
func ParseCoding(s string) (Coding, bool) {
	for i, n := range names {
		if n == s {
			return Coding(i), true
		}
	}
	return 0, false
}

// weights are the qvalues an Accept-Encoding field gives, in thousandths, or
// -1 where it names nothing.
type weights struct {
	coding   [numCodings]int
	identity int
	star     int
}

// maxElems bounds the elements read of Accept-Encoding lines: a client has
// no use for more, and a request with thousands would cost CPU on every
// response. The rest are ignored.
const maxElems = 32

// parseAccept reads every Accept-Encoding line of h (RFC 9110 §12.5.3):
//
//	Accept-Encoding = #( codings [ weight ] )
//	codings         = content-coding / "identity" / "*"
//	weight          = OWS ";" OWS "q=" qvalue
//
// Names are case-insensitive (§8.4.1), "x-gzip" is gzip (§8.4.1.3). An
// element that does not parse (a bad qvalue, a parameter other than q) is
// skipped; a coding named twice gets its lower weight. It does not
// allocate.
func parseAccept(h *web.Header) (w weights, present bool) {
	w = weights{identity: -1, star: -1}
	for i := range w.coding {
		w.coding[i] = -1
	}
	n := 0
	for line := range h.Values("Accept-Encoding") {
		present = true
		for len(line) > 0 && n < maxElems {
			var elem []byte
			elem, line = cutByte(line, ',')
			name, params, hasParams := cutByteOK(elem, ';')
			name = trimOWS(name)
			if len(name) == 0 {
				continue
			}
			n++
			q := 1000
			if hasParams {
				p := trimOWS(params)
				if len(p) < 2 || p[0]|0x20 != 'q' || p[1] != '=' {
					continue
				}
				var ok bool
				if q, ok = httpspec.ParseQValue(p[2:]); !ok {
					continue
				}
			}
			var slot *int
			switch {
			case len(name) == 1 && name[0] == '*':
				slot = &w.star
			case http1.EqualFold(name, "identity"):
				slot = &w.identity
			case http1.EqualFold(name, "x-gzip"):
				slot = &w.coding[Gzip]
			default:
				for i, c := range names {
					if http1.EqualFold(name, c) {
						slot = &w.coding[i]
					}
				}
			}
			if slot != nil && (*slot < 0 || q < *slot) {
				*slot = q
			}
		}
	}
	return w, present
}

// choose returns the coding to send among those enabled, in the order of
// preference, or false for the unencoded response. Per §12.5.3: a listed
// coding is acceptable unless its qvalue is 0, "*" gives its weight to
// codings not listed, the highest qvalue wins and ties go to the order of
// preference. The unencoded response competes when the client weighs it
// ("identity", or "*" without it), and wins only with a higher weight, as
// for static sidecars (backend/static). No Accept-Encoding at all: unencoded, as
// clients that send none (scripts, curl without --compressed) expect.
func choose(w weights, present bool, order []Coding) (Coding, bool) {
	if !present {
		return 0, false
	}
	best, bestQ := Coding(0), 0
	for _, c := range order {
		q := w.coding[c]
		if q < 0 {
			q = max(w.star, 0)
		}
		if q > bestQ {
			best, bestQ = c, q
		}
	}
	if bestQ == 0 {
		return 0, false
	}
	identity := w.identity
	if identity < 0 {
		identity = w.star
	}
	if identity > bestQ {
		return 0, false
	}
	return best, true
}

func cutByte(b []byte, sep byte) (before, after []byte) {
	before, after, _ = cutByteOK(b, sep)
	return before, after
}

func cutByteOK(b []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
