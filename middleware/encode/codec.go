package encode

import (
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// compressor is what the three encoders have in common. Reset starts a new
// stream to w, so one encoder, with its tables and windows, serves request
// after request from a pool.
type compressor interface {
	io.Writer
	Flush() error
	Close() error
	Reset(w io.Writer)
}

// codecs holds a pool of encoders per coding, at one Config's levels.
type codecs struct {
	pools [numCodings]sync.Pool
}

// zstdWindow bounds zstd's window: what a response refers back to costs the
// encoder (pooled, so held between requests) memory of its size. 1 MiB
// compresses web pages as well as the 8 MiB default and every browser
// decodes it.
const zstdWindow = 1 << 20

func newCodecs(c Config) *codecs {
	cs := &codecs{}
	cs.pools[Gzip].New = func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, c.GzipLevel) // the level is checked
		return w
	}
	cs.pools[Brotli].New = func() any { return brotli.NewWriterLevel(io.Discard, c.BrotliLevel) }
	level := zstd.EncoderLevelFromZstd(c.ZstdLevel)
	cs.pools[Zstd].New = func() any {
		// One goroutine per request, the encoder's own: the default spawns
		// GOMAXPROCS of them per encoder.
		w, _ := zstd.NewWriter(io.Discard, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(zstdWindow), zstd.WithZeroFrames(true))
		return w
	}
	return cs
}

func (cs *codecs) get(c Coding, w io.Writer) compressor {
	z := cs.pools[c].Get().(compressor)
	z.Reset(w)
	return z
}

// put returns z, which must be closed or abandoned; it forgets its writer.
func (cs *codecs) put(c Coding, z compressor) {
	z.Reset(io.Discard)
	cs.pools[c].Put(z)
}
