package encode

import (
	"fmt"
	"strings"
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
	DefaultGzipLevel   = 5
	DefaultBrotliLevel = 4
	DefaultZstdLevel   = 3
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
	if c.GzipLevel == 0 {
		c.GzipLevel = DefaultGzipLevel
	}
	if c.GzipLevel < 1 || c.GzipLevel > 9 {
		return c, fmt.Errorf("encode: gzip level %d is not 1-9", c.GzipLevel)
	}
	if c.BrotliLevel == 0 {
		c.BrotliLevel = DefaultBrotliLevel
	}
	if c.BrotliLevel < 1 || c.BrotliLevel > 11 {
		return c, fmt.Errorf("encode: brotli level %d is not 1-11", c.BrotliLevel)
	}
	if c.ZstdLevel == 0 {
		c.ZstdLevel = DefaultZstdLevel
	}
	if c.ZstdLevel < 1 || c.ZstdLevel > 22 {
		return c, fmt.Errorf("encode: zstd level %d is not 1-22", c.ZstdLevel)
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
	main, sub, ok := strings.Cut(t, "/")
	if !ok || main == "" || sub == "" || main == "*" || strings.ContainsAny(t, " ;,\t") || strings.ToLower(t) != t {
		return fmt.Errorf("encode: %q is not a media type such as \"text/html\" or \"text/*\"", t)
	}
	return nil
}
