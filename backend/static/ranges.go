package static

import (
	"cmp"
	"gatehouse/internal/httpspec"
	"math"
	"slices"
	"strconv"
	"strings"

	"gatehouse/web"
)

// Limits on Range, against the denial of service of RFC 9110 §17.15: "Servers
// ought to ignore, coalesce, or reject egregious range requests, such as requests
// for more than two overlapping ranges or for many small ranges in a single set".
// A request past a limit is answered 200 with the whole file, as §14.2 allows
// ("A server MAY ignore the Range header field").
const (
	// maxRangeSpecs bounds the range-specs parsed from one field, so that the
	// work and memory spent on one request stay small whatever its length.
	maxRangeSpecs = 256
	// maxRanges bounds the parts of one multipart/byteranges response, after
	// overlapping and adjacent ranges are coalesced.
	maxRanges = 16
)

// rangeSpec is one range-spec of a bytes Range (§14.1.1), not yet applied to a
// length. Numbers too large for int64 saturate at math.MaxInt64: they are past
// any file's end either way.
type rangeSpec struct {
	first int64 // -1 for a suffix-range
	last  int64 // -1 when absent (int-range "500-"); suffix-length for a suffix-range
}

// byteRange is a satisfiable range, resolved against a length.
type byteRange struct {
	start, length int64
}

func (r byteRange) end() int64 { return r.start + r.length } // exclusive

// contentRange formats the Content-Range of r (§14.4): "bytes 0-499/1234".
func (r byteRange) contentRange(size int64) string {
	return "bytes " + strconv.FormatInt(r.start, 10) + "-" + strconv.FormatInt(r.end()-1, 10) +
		"/" + strconv.FormatInt(size, 10)
}

// parseRange parses a Range field value (§14.1.1, §14.2):
//
//	ranges-specifier = range-unit "=" range-set
//	range-set        = 1#range-spec
//	range-spec       = int-range / suffix-range / other-range
//	int-range        = first-pos "-" [ last-pos ]
//	suffix-range     = "-" suffix-length
//
// The unit must be "bytes", compared case-insensitively (§14.1: "Range unit
// names are case-insensitive"); an origin server "MUST ignore a Range header
// field that contains a range unit it does not understand". ok is false for any
// invalid specifier: an int-range whose last-pos is below its first-pos (§14.1.1
// calls it invalid), an other-range (undefined for bytes), no range-spec at all,
// or more than maxRangeSpecs. Elements are separated by commas with optional
// whitespace, and empty elements are skipped (§5.6.1.2).
func parseRange(v string) (specs []rangeSpec, ok bool) {
	unit, set, found := strings.Cut(v, "=")
	if !found || !strings.EqualFold(unit, "bytes") {
		return nil, false
	}
	for elem := range strings.SplitSeq(set, ",") {
		elem = httpspec.TrimOWS(elem)
		if elem == "" {
			continue
		}
		if len(specs) == maxRangeSpecs {
			return nil, false
		}
		firstS, lastS, found := strings.Cut(elem, "-")
		if !found {
			return nil, false
		}
		var s rangeSpec
		if firstS == "" { // suffix-range
			n, ok := parseDigits(lastS)
			if !ok {
				return nil, false
			}
			s = rangeSpec{first: -1, last: n}
		} else {
			first, ok := parseDigits(firstS)
			if !ok {
				return nil, false
			}
			s = rangeSpec{first: first, last: -1}
			if lastS != "" {
				last, ok := parseDigits(lastS)
				if !ok || last < first {
					return nil, false
				}
				s.last = last
			}
		}
		specs = append(specs, s)
	}
	return specs, len(specs) > 0
}

// parseDigits parses 1*DIGIT, saturating at math.MaxInt64. Unlike
// strconv.ParseInt it accepts no sign.
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}

// rangeResult says how a Range field is answered.
type rangeResult int

const (
	rangeIgnored       rangeResult = iota // 200, the whole representation
	rangeSatisfiable                      // 206
	rangeUnsatisfiable                    // 416
)

// selectRanges applies a Range field value to a representation of size bytes.
// It returns the ranges to send, in the order the client asked for them.
//
//   - A malformed field is ignored (§14.2: a server "MAY ignore or reject a Range
//     header field that contains an invalid ranges-specifier").
//   - An empty representation ignores Range (§14.2: "MAY ignore a Range header
//     field when the selected representation has no content"); there is no
//     Content-Range that could describe a part of nothing.
//   - Satisfiable range-specs (§14.1.2: an int-range whose first-pos is below the
//     length, a suffix-range with a non-zero length) are clamped to the file:
//     a last-pos past the end means "the remainder", a suffix longer than the
//     file means all of it. The rest are dropped; if none is left, 416.
//   - When the satisfiable ranges add up to more than the file, some overlap:
//     ignored, so that "0-,0-,0-..." cannot multiply the bytes sent (§17.15).
//   - Overlapping and adjacent ranges are coalesced (§15.3.7.2 allows it
//     "regardless of the order"); each merged range keeps the place of its
//     earliest member, since "the server SHOULD send the parts in the same order
//     that the corresponding range-spec appeared".
//   - More than maxRanges after that: ignored.
func selectRanges(v string, size int64) ([]byteRange, rangeResult) {
	specs, ok := parseRange(v)
	if !ok || size <= 0 {
		return nil, rangeIgnored
	}
	type ordered struct {
		byteRange
		order int
	}
	rs := make([]ordered, 0, len(specs))
	var total int64
	for i, s := range specs {
		var r byteRange
		switch {
		case s.first < 0: // suffix-range
			if s.last == 0 {
				continue
			}
			n := min(s.last, size)
			r = byteRange{start: size - n, length: n}
		case s.first >= size:
			continue
		default:
			last := size - 1
			if s.last >= 0 && s.last < last {
				last = s.last
			}
			r = byteRange{start: s.first, length: last - s.first + 1}
		}
		if r.length > size-total { // total+length > size, written not to overflow
			return nil, rangeIgnored
		}
		total += r.length
		rs = append(rs, ordered{r, i})
	}
	if len(rs) == 0 {
		return nil, rangeUnsatisfiable
	}
	slices.SortFunc(rs, func(a, b ordered) int {
		if a.start != b.start {
			return cmp.Compare(a.start, b.start)
		}
		return a.order - b.order
	})
	merged := rs[:1]
	for _, r := range rs[1:] {
		m := &merged[len(merged)-1]
		if r.start <= m.end() { // overlapping or adjacent
			if e := r.end(); e > m.end() {
				m.length = e - m.start
			}
			m.order = min(m.order, r.order)
			continue
		}
		merged = append(merged, r)
	}
	if len(merged) > maxRanges {
		return nil, rangeIgnored
	}
	slices.SortFunc(merged, func(a, b ordered) int { return a.order - b.order })
	out := make([]byteRange, len(merged))
	for i, m := range merged {
		out[i] = m.byteRange
	}
	return out, rangeSatisfiable
}

// rangeField returns the request's Range field value. A request with more than
// one Range line has no valid value (Range is not a list: the lines would
// combine into "bytes=0-1, bytes=5-6"), which counts as absent.
func rangeField(h *web.Header) (string, bool) {
	var val []byte
	n := 0
	for x := range h.Values("Range") {
		val, n = x, n+1
	}
	if n != 1 {
		return "", false
	}
	return string(val), true
}
