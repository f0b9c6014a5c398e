// Package encodespec holds what gatehouse's configuration says of response
// compression, each written once: the codings by name, the range and default
// of each one's level, and the form of a media type to compress. config
// validates them and middleware/encode, which compresses, acts on them.
//
// It sits at layer 0 so that config (which may import nothing else of
// gatehouse) and middleware/encode share it.
package encodespec

import "strings"

// Codings are the content codings (RFC 9110 §8.4.1 tokens) gatehouse
// compresses with, in the order preferred by default when a client weighs
// them equally: zstd and brotli make smaller text than gzip, and zstd costs
// the least CPU of the three for what it saves.
var Codings = [...]string{"zstd", "br", "gzip"}

// Level is the range of a coding's level, and its default: one that
// compresses text well at a cost per request a server can pay.
type Level struct {
	Min, Max, Default int
}

// The default levels: zstd's own, brotli's 4 and gzip's middle.
const (
	DefaultZstdLevel   = 3
	DefaultBrotliLevel = 4
	DefaultGzipLevel   = 5
)

// Levels are by the index of Codings: zstd's levels 1 to 22 (mapped onto
// the encoder's four speeds), brotli's quality 1 to 11, gzip's levels 1 to
// 9.
var Levels = [len(Codings)]Level{{1, 22, DefaultZstdLevel}, {1, 11, DefaultBrotliLevel}, {1, 9, DefaultGzipLevel}}

// ValidType reports whether t can be a media type to compress: type/subtype
// or type/*, in lower case, without parameters.
func ValidType(t string) bool {
	main, sub, ok := strings.Cut(t, "/")
	return ok && main != "" && sub != "" && main != "*" && !strings.ContainsAny(t, " ;,\t") && strings.ToLower(t) == t
}
