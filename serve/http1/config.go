package http1

import (
	"log/slog"
	"time"

	"gatehouse/proto/http1"
	"gatehouse/web"
)

// Defaults for Config. Each limit answers a status when exceeded; each timeout
// closes the connection (after a 408 where a request is under way).
const (
	DefaultMaxBodyBytes      = 128 << 20 // 128 MiB; bodies are streamed, never held whole
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultBodyReadTimeout   = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 75 * time.Second // above the 60 s idle timeout of common load balancers
	DefaultDrainBodyBytes    = 256 << 10
	DefaultServerName        = "gatehouse"
)

// Config holds the limits and timeouts of the HTTP/1.1 server. A zero field means
// its default; a negative duration or size means "none" where that is allowed.
type Config struct {
	// Limits bound the request head: MaxRequestLine (default 8 KiB, then 414),
	// MaxHeaderBytes (32 KiB, 431), MaxFieldBytes (8 KiB, 431), MaxFields (100, 431).
	Limits http1.Limits
	// MaxChunkExt bounds the chunk extensions of one chunk line, in bytes.
	// Default 4 KiB; beyond it, 400.
	MaxChunkExt int
	// MaxBodyBytes bounds a request body, in bytes. Default 128 MiB. A declared
	// Content-Length above it is answered 413 before any body is read; a chunked
	// body fails the read with 413 as soon as a chunk-size line takes it past,
	// before that chunk's data. Negative: no limit.
	MaxBodyBytes int64

	// ReadHeaderTimeout bounds the time from the first byte of a request to the
	// end of its head, and a new connection's wait for that byte. Default 10 s.
	// On expiry a head under way gets 408, then close (slowloris); a connection
	// that sent no byte of a head (nothing, or only the empty lines a server
	// ignores before one) is closed without a response, as nginx and net/http
	// close it: there is no request to answer, and a 408 on a preconnected
	// socket would be read as the answer to the request the client sends next.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout bounds each read of the request body (time without
	// progress, as nginx's client_body_timeout). Default 60 s; expiry fails the
	// read with 408 and closes the connection.
	BodyReadTimeout time.Duration
	// WriteTimeout bounds each write to the client (time without progress, as
	// nginx's send_timeout). Default 60 s; expiry closes the connection.
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive
	// connection. Default 75 s; expiry closes the connection silently.
	IdleTimeout time.Duration

	// MaxRequestsPerConn closes a connection after this many requests
	// (Connection: close on the last one). 0 means unlimited.
	MaxRequestsPerConn int
	// DrainBodyBytes is how much of a request body the handler left unread the
	// server reads and discards to keep the connection open. Default 256 KiB;
	// with more left, the connection is closed instead.
	DrainBodyBytes int64

	// ServerName is sent in the Server field. Default "gatehouse"; "-" sends none.
	ServerName string
	// Scheme is "http" or "https", as the request reports it. Default "http".
	Scheme string

	// Logger receives one line per protocol error, handler error and panic.
	// nil means slog.Default().
	Logger *slog.Logger
	// AccessLog, if set, receives every finished exchange, including requests
	// refused before a handler saw them.
	AccessLog web.AccessLogger
}

func (c Config) withDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.MaxChunkExt <= 0 {
		c.MaxChunkExt = http1.DefaultMaxChunkExt
	}
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
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.DrainBodyBytes == 0 {
		c.DrainBodyBytes = DefaultDrainBodyBytes
	}
	if c.ServerName == "" {
		c.ServerName = DefaultServerName
	}
	if c.Scheme == "" {
		c.Scheme = "http"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
