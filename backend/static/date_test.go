package static

import (
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	cases := []struct {
		name, in string
		ok       bool
		want     time.Time
	}{
		// §5.6.7: the three formats a recipient MUST accept.
		{"IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", true, want},
		{"rfc850", "Sunday, 06-Nov-94 08:49:37 GMT", true, want},
		{"asctime, space-padded day", "Sun Nov  6 08:49:37 1994", true, want},
		{"asctime, two-digit day", "Sun Nov 06 08:49:37 1994", true, want},
		{"leap second rolls over", "Sun, 06 Nov 1994 23:59:60 GMT", true, time.Date(1994, 11, 7, 0, 0, 0, 0, time.UTC)},
		{"day name not cross-checked", "Mon, 06 Nov 1994 08:49:37 GMT", true, want},
		// §5.6.7, two-digit years: more than 50 years ahead of now (2025) means
		// the previous century.
		{"rfc850 year 75 is 2075", "Monday, 01-Jan-75 00:00:00 GMT", true, time.Date(2075, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"rfc850 year 76 is 1976", "Monday, 01-Jan-76 00:00:00 GMT", true, time.Date(1976, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"rfc850 late in 2075 is 1975", "Tuesday, 31-Dec-75 00:00:00 GMT", true, time.Date(1975, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"rfc850 year 25 is 2025", "Monday, 01-Jan-25 00:00:00 GMT", true, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)},
		// "HTTP-date is case sensitive" and has no optional whitespace.
		{"lower-case month", "Sun, 06 nov 1994 08:49:37 GMT", false, time.Time{}},
		{"lower-case GMT", "Sun, 06 Nov 1994 08:49:37 gmt", false, time.Time{}},
		{"other zone", "Sun, 06 Nov 1994 08:49:37 UTC", false, time.Time{}},
		{"offset", "Sun, 06 Nov 1994 08:49:37 +0000", false, time.Time{}},
		{"leading space", " Sun, 06 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"trailing space", "Sun, 06 Nov 1994 08:49:37 GMT ", false, time.Time{}},
		{"fractional second", "Sun, 06 Nov 1994 08:49:37.5 GMT", false, time.Time{}},
		{"one-digit day in IMF", "Sun, 6 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"two-digit year in IMF", "Sun, 06 Nov 94 08:49:37 GMT", false, time.Time{}},
		{"short day name in rfc850", "Sun, 06-Nov-94 08:49:37 GMT", false, time.Time{}},
		{"hour 24", "Sun, 06 Nov 1994 24:00:00 GMT", false, time.Time{}},
		{"minute 60", "Sun, 06 Nov 1994 08:60:00 GMT", false, time.Time{}},
		{"second 61", "Sun, 06 Nov 1994 08:49:61 GMT", false, time.Time{}},
		{"30 February", "Sun, 30 Feb 1994 08:49:37 GMT", false, time.Time{}},
		{"day 0", "Sun, 00 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"two dates (a list)", "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT", false, time.Time{}},
		{"empty", "", false, time.Time{}},
		{"epoch number", "784111777", false, time.Time{}},
	}
	for _, c := range cases {
		got, ok := parseHTTPDate(c.in, testNow)
		if ok != c.ok || ok && !got.Equal(c.want) {
			t.Errorf("%s: parseHTTPDate(%q) = %v, %v; want %v, %v", c.name, c.in, got, ok, c.want, c.ok)
		}
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Sun Nov 16 08:49:37 1994", "Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:60 GMT", testLM,
	} {
		f.Add(s)
	}
	for _, s := range corpusValues(f, "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Date") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseHTTPDate(s, testNow)
		if !ok {
			return
		}
		if got.Location() != time.UTC || got.Nanosecond() != 0 {
			t.Fatalf("%q: %v", s, got)
		}
		if got.Year() > 9999 {
			return // 31 Dec 9999 23:59:60 rolls into a year IMF-fixdate cannot write
		}
		// Whatever was accepted, formatted as IMF-fixdate, parses to the same
		// instant.
		back, ok := parseHTTPDate(got.Format(timeFormat), testNow)
		if !ok || !back.Equal(got) {
			t.Fatalf("%q → %v → %q → %v, %v", s, got, got.Format(timeFormat), back, ok)
		}
	})
}
