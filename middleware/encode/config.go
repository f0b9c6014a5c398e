package encode

import (
	"fmt"

	"gatehouse/internal/encodespec"
)

// Defaults for Config.
const (
	// DefaultMinLength is the smallest body compressed: below it the
	// codings' headers and trailers can make the body grow, and the CPU
	// buys nothing (Caddy's minimum_length; nginx's gzip_min_length is 20).
	DefaultMinLength = 512
	// DefaultGzipLevel, DefaultBrotliLevel and DefaultZstdLevel are levels
	// that compress text well at a cost per request a server can pay:
	// gzip's middle, brotli's quality 4 and zstd's own default.
	// They are encodespec's, which config reads too.
	DefaultGzipLevel   = encodespec.DefaultGzipLevel
	DefaultBrotliLevel = encodespec.DefaultBrotliLevel
	DefaultZstdLevel   = encodespec.DefaultZstdLevel
)

// DefaultTypes are the media types compressed by default: text formats that
// shrink several times. text/event-stream is left out: each event is small
// and flushed alone, so compression saves little, while the compressor's
// state stays in memory for as long as the stream lasts.
var DefaultTypes = []string{
	"text/html", "text/css", "text/plain", "text/xml", "text/javascript", "text/markdown", "text/csv",
	"application/javascript", "application/json", "application/xml", "application/xhtml+xml",
	"application/rss+xml", "application/atom+xml", "application/ld+json", "application/manifest+json",
	"application/wasm", "image/svg+xml", "image/x-icon", "font/ttf", "font/otf",
}

// Config says what is compressed, and how hard. Zero fields take their
// defaults.
type Config struct {
	// Codings are those offered, in the order preferred among those a
	// client weighs equally. Default zstd, br, gzip.
	Codings []Coding
	// GzipLevel is gzip's level, 1 (fastest) to 9 (smallest). Default 5.
	GzipLevel int
	// BrotliLevel is brotli's quality, 1 to 11. Default 4.
	BrotliLevel int
	// ZstdLevel is zstd's level, 1 to 22, mapped onto the encoder's four
	// speeds (klauspost/compress/zstd.EncoderLevelFromZstd). Default 3.
	ZstdLevel int
	// MinLength is the smallest body, in bytes, that is compressed: a
	// response with a smaller Content-Length, or one that ends smaller
	// without one, goes out as it is. A response flushed before it reaches
	// the minimum is compressed (it is a stream). Default 512; negative:
	// every length.
	MinLength int
	// Types are the media types compressed ("text/html"; "text/*" for a
	// whole top-level type), compared without parameters and case.
	// Default DefaultTypes.
	Types []string
}

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if len(c.Codings) == 0 {
		c.Codings = []Coding{Zstd, Brotli, Gzip}
	}
	seen := [numCodings]bool{}
	for _, cd := range c.Codings {
		if cd >= numCodings {
			return c, fmt.Errorf("encode: unknown coding %d", cd)
		}
		if seen[cd] {
			return c, fmt.Errorf("encode: %s named twice", cd)
		}
		seen[cd] = true
	}
	for _, l := range []struct {
		name   string
		coding Coding
		level  *int
	}{{"gzip", Gzip, &c.GzipLevel}, {"brotli", Brotli, &c.BrotliLevel}, {"zstd", Zstd, &c.ZstdLevel}} {
		r := encodespec.Levels[l.coding]
		if *l.level == 0 {
			*l.level = r.Default
		}
		if *l.level < r.Min || *l.level > r.Max {
			return c, fmt.Errorf("encode: %s level %d is not %d-%d", l.name, *l.level, r.Min, r.Max)
		}
	}
	if c.MinLength == 0 {
		c.MinLength = DefaultMinLength
	}
	if c.Types == nil {
		c.Types = DefaultTypes
	}
	for _, t := range c.Types {
		if err := CheckType(t); err != nil {
			return c, err
		}
	}
	return c, nil
}

// CheckType reports whether t can be a Types entry: type/subtype or type/*,
// in lower case, without parameters.
func CheckType(t string) error {
	if !encodespec.ValidType(t) {
		return fmt.Errorf("encode: %q is not a media type such as \"text/html\" or \"text/*\"", t)
	}
	return nil
}
