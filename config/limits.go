package config

// Limits are a route's own bounds (middleware/limits), within the server's:
// [http] max_body and its timeouts apply first, on every connection, so a
// route can lower them, not raise them. A wsgi route's workers have their
// own timeout and queue_timeout in its wsgi table (each wsgi route runs
// workers of its own).
type Limits struct {
	// MaxBody is the largest request body; larger: 413. Default: [http]'s.
	MaxBody *Size `toml:"max_body"`
	// Timeout bounds a request from the route on to the end of its
	// response: the backend is stopped and the client gets 504. Default:
	// none of the route's own.
	Timeout *Duration `toml:"timeout"`
}

func (c *Config) validateLimits(p string, l *Limits, bad func(path, msg, hint string)) {
	if m := l.MaxBody; m != nil {
		switch hm := c.HTTP.MaxBody; {
		case m.Bytes <= 0:
			bad(p+".max_body", "limits.max_body must be positive", "leave it out for [http] max_body")
		case hm != nil && hm.Bytes > 0 && m.Bytes > hm.Bytes:
			bad(p+".max_body", "limits.max_body is over [http] max_body, which applies first", "raise [http] max_body to the largest body any route takes, and lower it per route")
		case hm == nil && m.Bytes > 128<<20:
			bad(p+".max_body", "limits.max_body is over [http] max_body (128MiB by default), which applies first", "raise [http] max_body to the largest body any route takes, and lower it per route")
		}
	}
	if d := l.Timeout; d != nil && d.Duration <= 0 {
		bad(p+".timeout", "limits.timeout must be positive", "leave it out for none")
	}
}
