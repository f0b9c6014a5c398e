package server

import (
	"time"

	"gatehouse/config"
)

// dur maps a duration key onto a package's Config field, the one rule every
// key follows: absent is 0 (the package's default), "0s" is off (the value
// the package reads as off, usually -1), anything else is itself.
func dur(d *config.Duration, off time.Duration) time.Duration {
	switch {
	case d == nil:
		return 0
	case d.Duration == 0:
		return off
	}
	return d.Duration
}

// durSet sets *dst from a duration key that has no "off": absent keeps the
// default (0), anything else is itself.
func durSet(dst *time.Duration, d *config.Duration) {
	if d != nil {
		*dst = d.Duration
	}
}
