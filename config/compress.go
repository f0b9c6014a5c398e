package config

import (
	"fmt"
	"slices"
	"strings"

	"gatehouse/internal/encodespec"
)

// Compress compresses a route's responses on the fly (middleware/encode):
// zstd, brotli and gzip, chosen by the request's Accept-Encoding, for the
// listed types and at least min_length bytes. See docs/compression.md.
// Absent: the route's responses go out as its backend writes them.
type Compress struct {
	// Encodings are those offered, in the order preferred among those a
	// client weighs equally. Default ["zstd", "br", "gzip"].
	Encodings []string `toml:"encodings"`
	// GzipLevel is from 1 (fastest) to 9 (smallest). Default 5.
	GzipLevel int `toml:"gzip_level"`
	// BrotliLevel is from 1 to 11. Default 4.
	BrotliLevel int `toml:"brotli_level"`
	// ZstdLevel is from 1 to 22. Default 3.
	ZstdLevel int `toml:"zstd_level"`
	// MinLength is the smallest body compressed. Default "512"; "0":
	// every length.
	MinLength *Size `toml:"min_length"`
	// Types are the media types compressed ("text/html", or "text/*").
	// Default: text formats (HTML, CSS, JavaScript, JSON, XML, SVG, ...).
	Types []string `toml:"types"`
}

func (c *Config) validateCompress(p string, x *Compress, bad func(path, msg, hint string)) {
	names := strings.Join(encodespec.Codings[:], ", ")
	seen := map[string]bool{}
	for i, e := range x.Encodings {
		switch {
		case !slices.Contains(encodespec.Codings[:], e):
			bad(fmt.Sprintf("%s.encodings[%d]", p, i), fmt.Sprintf("compress.encodings: %q is not one of %s", e, names), "list some of "+names+", the preferred first")
		case seen[e]:
			bad(fmt.Sprintf("%s.encodings[%d]", p, i), fmt.Sprintf("compress.encodings: %q named twice", e), "name each once")
		}
		seen[e] = true
	}
	if x.Encodings != nil && len(x.Encodings) == 0 {
		bad(p+".encodings", "compress.encodings is empty", "leave the compress table out to compress nothing")
	}
	for _, l := range []struct {
		key    string
		v      int
		coding int // its index in encodespec.Codings
	}{{"gzip_level", x.GzipLevel, 2}, {"brotli_level", x.BrotliLevel, 1}, {"zstd_level", x.ZstdLevel, 0}} {
		r := encodespec.Levels[l.coding]
		if l.v != 0 && (l.v < r.Min || l.v > r.Max) {
			bad(p+"."+l.key, fmt.Sprintf("compress.%s %d is not from %d to %d", l.key, l.v, r.Min, r.Max), "leave it out for the default")
		}
	}
	for i, t := range x.Types {
		if !encodespec.ValidType(t) {
			bad(fmt.Sprintf("%s.types[%d]", p, i), fmt.Sprintf("compress.types: %q is not a media type", t), "write \"text/html\", or \"text/*\" for every text type, in lower case")
		}
	}
}
