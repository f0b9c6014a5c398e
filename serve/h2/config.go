package h2

import (
	"time"

	"gatehouse/web/nethttp"
)

// Defaults for Config: net/http's own for the HTTP/2 settings, HTTP/1.1's
// (serve/http1) for what both protocols bound.
const (
	DefaultMaxConcurrentStreams = 250
	DefaultMaxReadFrameSize     = 1 << 20
	DefaultIdleTimeout          = 75 * time.Second
	DefaultWriteTimeout         = 60 * time.Second
	minFrameSize, maxFrameSize  = 1 << 14, 1<<24 - 1 // RFC 9113 §6.5.2
)

// Config holds the limits of an HTTP/2 endpoint. A zero field means its
// default; a negative duration means none.
type Config struct {
	// MaxConcurrentStreams bounds the streams a client may have open on one
	// connection (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113 §6.5.2), and so
	// the handlers one connection runs at once: net/http queues the
	// streams past it, and ends a connection that queues more than four
	// times as many with GOAWAY ENHANCE_YOUR_CALM (Rapid Reset,
	// CVE-2023-44487). Default 250.
	MaxConcurrentStreams int
	// MaxReadFrameSize is the largest frame payload the server accepts
	// (SETTINGS_MAX_FRAME_SIZE), in bytes, from 16 KiB to 16 MiB - 1.
	// Default 1 MiB.
	MaxReadFrameSize int
	// MaxHeaderBytes bounds a request's header section, in bytes, as
	// HTTP/1.1's MaxHeaderBytes does: net/http advertises it (plus 320
	// bytes, its allowance for HPACK's per-field overhead) as
	// SETTINGS_MAX_HEADER_LIST_SIZE, answers 431 past it, and closes a
	// connection whose header block runs far past it (CONTINUATION flood,
	// CVE-2023-45288). Default: Request.Limits.MaxHeaderBytes, whose own
	// default is 32 KiB.
	MaxHeaderBytes int
	// IdleTimeout closes a connection without open streams after this long
	// (GOAWAY, then close). Default 75 s, HTTP/1.1's idle timeout.
	IdleTimeout time.Duration
	// WriteTimeout closes a connection when data waiting to be written makes
	// no progress for this long (net/http's WriteByteTimeout; as HTTP/1.1's
	// per-write timeout, nginx's send_timeout). Default 60 s.
	WriteTimeout time.Duration
	// Unencrypted serves plain connections that begin with the client
	// preface (h2c with prior knowledge) instead of TLS connections.
	Unencrypted bool
	// Request is how each request is served (scheme, Server field,
	// request limits, body limit and read timeout, logger, access log):
	// see web/nethttp.Config. Its Logger also receives net/http's own
	// lines (protocol errors of a connection), at debug level.
	Request nethttp.Config
}

func (c Config) withDefaults() Config {
	if c.MaxConcurrentStreams <= 0 {
		c.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if c.MaxReadFrameSize == 0 {
		c.MaxReadFrameSize = DefaultMaxReadFrameSize
	}
	c.MaxReadFrameSize = min(max(c.MaxReadFrameSize, minFrameSize), maxFrameSize)
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = c.Request.Limits.WithDefaults().MaxHeaderBytes
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	return c
}
