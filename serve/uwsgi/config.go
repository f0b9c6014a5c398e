package uwsgi

import (
	"log/slog"
	"net/netip"
	"time"

	"gatehouse/proto/uwsgi"
	"gatehouse/web"
)

// Defaults for Config, the HTTP server's where the two share a meaning.
const (
	DefaultMaxBodyBytes      = 128 << 20 // 128 MiB; bodies are streamed, never held whole
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultBodyReadTimeout   = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultDrainBodyBytes    = 256 << 10
)

// DefaultAllow is the peer allow-list when Config.Allow is nil: loopback only.
var DefaultAllow = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// Config holds the limits, timeouts and peer policy of the uwsgi server. A zero
// field means its default; a negative timeout means none.
type Config struct {
	// Limits bound the packet: MaxVarsSize, in bytes (default and ceiling 65535,
	// the protocol's; over it: 431), and MaxVars (default 200; over it: 431).
	Limits uwsgi.Limits
	// MaxBodyBytes bounds a request body, in bytes. Default 128 MiB. A
	// CONTENT_LENGTH above it is answered 413 before any body is read.
	// Negative: no limit.
	MaxBodyBytes int64

	// ReadHeaderTimeout bounds the time from accepting a connection to having
	// its whole packet. Default 10 s. On expiry the connection is closed, after
	// a 408 if part of a packet had arrived.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout bounds each read of the request body (time without
	// progress). Default 60 s; expiry fails the read with 408.
	BodyReadTimeout time.Duration
	// WriteTimeout bounds each write of the response (time without progress).
	// Default 60 s; expiry closes the connection.
	WriteTimeout time.Duration
	// DrainBodyBytes is how much of a body the handler left unread is read and
	// discarded after the response, so that closing does not reset the
	// connection under the peer before it has read the response. Default
	// 256 KiB; negative: none.
	DrainBodyBytes int64

	// Allow lists the TCP peers served, by address prefix. nil means
	// DefaultAllow (loopback); an empty, non-nil list serves no TCP peer.
	// Unix-socket peers are always served (the socket's file permissions
	// guard them). The variables a peer sends are
	// trusted as facts (client address, HTTPS), so list only the front
	// proxies. Others are closed without a response and logged.
	Allow []netip.Prefix

	// Logger receives one line per refused peer, protocol error, handler error
	// and panic. nil means slog.Default().
	Logger *slog.Logger
	// AccessLog, if set, receives every finished exchange, including requests
	// refused before a handler saw them.
	AccessLog web.AccessLogger
}

// deadline is from+d, or no deadline when d is negative.
func deadline(from time.Time, d time.Duration) time.Time {
	if d < 0 {
		return time.Time{}
	}
	return from.Add(d)
}

func (c Config) withDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.BodyReadTimeout == 0 {
		c.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.DrainBodyBytes == 0 {
		c.DrainBodyBytes = DefaultDrainBodyBytes
	}
	if c.Allow == nil {
		c.Allow = DefaultAllow
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
