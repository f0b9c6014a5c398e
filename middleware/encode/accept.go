package encode

import (
	"gatehouse/internal/encodespec"
	"gatehouse/internal/httpspec"
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

// names are the Content-Encoding tokens (§8.4.1), encodespec's.
var names = encodespec.Codings

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

// parseAccept reads the request's Accept-Encoding lines for the codings
// this package produces (httpspec.AcceptEncoding.Parse: allocation-free, at
// most httpspec.MaxAcceptElements elements).
func parseAccept(h *web.Header) httpspec.AcceptEncoding {
	a := httpspec.NewAcceptEncoding()
	for line := range h.Values("Accept-Encoding") {
		a.Parse(line, names[:])
	}
	return a
}

// choose returns the coding to send among those enabled, in the order of
// preference, or false for the unencoded response (httpspec.ChooseCoding,
// the rule static sidecars follow too).
func choose(a *httpspec.AcceptEncoding, order []Coding) (Coding, bool) {
	return httpspec.ChooseCoding(a, order)
}
