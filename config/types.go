package config

import (
	"fmt"
	"time"

	"gatehouse/internal/units"
)

// Duration is a Go duration written as a string: "30s", "1m30s", "500ms".
type Duration struct{ time.Duration }

// UnmarshalText parses a duration; negative durations are refused.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration", b)
	}
	if v < 0 {
		return fmt.Errorf("%q: a duration cannot be negative", b)
	}
	d.Duration = v
	return nil
}

// Size is a byte size written as a string: "128m", "64KiB", "1048576".
type Size struct{ Bytes int64 }

// UnmarshalText parses a size with units.ParseSize.
func (s *Size) UnmarshalText(b []byte) error {
	n, err := units.ParseSize(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a size", b)
	}
	s.Bytes = n
	return nil
}
