package static

import "time"

// timeFormat is the IMF-fixdate of RFC 9110 §5.6.7, the only format sent.
const timeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

var (
	shortDays = []string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays  = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months    = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// parseHTTPDate parses an HTTP-date (RFC 9110 §5.6.7) in any of the three formats
// a recipient MUST accept:
//
//	IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
//	rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT
//	asctime      Sun Nov  6 08:49:37 1994
//
// HTTP-date is case-sensitive and has no optional whitespace, so the match is
// exact. The day name is checked for syntax only: it repeats what the date says,
// and a wrong one does not make the instant ambiguous. Seconds may be 60 (a leap
// second, §5.6.7's grammar allows it); the result is then the next minute. now
// resolves rfc850's two-digit year.
//
// It is deliberately not time.Parse, which accepts a fractional second after the
// seconds field and one-digit days where the grammar has two.
func parseHTTPDate(s string, now time.Time) (time.Time, bool) {
	if t, ok := parseIMFFixdate(s); ok {
		return t, true
	}
	if t, ok := parseRFC850(s, now); ok {
		return t, true
	}
	return parseAsctime(s)
}

func parseIMFFixdate(s string) (time.Time, bool) {
	d := dateScanner{s: s, ok: true}
	d.oneOf(shortDays)
	d.lit(", ")
	day := d.num(2)
	d.lit(" ")
	mon := d.oneOf(months)
	d.lit(" ")
	year := d.num(4)
	d.lit(" ")
	hh, mm, ss := d.clock()
	d.lit(" GMT")
	return d.date(year, mon, day, hh, mm, ss)
}

func parseRFC850(s string, now time.Time) (time.Time, bool) {
	d := dateScanner{s: s, ok: true}
	d.oneOf(longDays)
	d.lit(", ")
	day := d.num(2)
	d.lit("-")
	mon := d.oneOf(months)
	d.lit("-")
	yy := d.num(2)
	d.lit(" ")
	hh, mm, ss := d.clock()
	d.lit(" GMT")
	// §5.6.7: "Recipients of a timestamp value in rfc850-date format, which uses
	// a two-digit year, MUST interpret a timestamp that appears to be more than
	// 50 years in the future as representing the most recent year in the past
	// that had the same last two digits." So: the latest of the candidate
	// centuries that is not more than 50 years after now.
	now = now.UTC()
	base, limit := now.Year()/100*100+yy, now.AddDate(50, 0, 0)
	for _, year := range [...]int{base + 100, base, base - 100} {
		if t, ok := d.date(year, mon, day, hh, mm, ss); ok && !t.After(limit) {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseAsctime(s string) (time.Time, bool) {
	d := dateScanner{s: s, ok: true}
	d.oneOf(shortDays)
	d.lit(" ")
	mon := d.oneOf(months)
	d.lit(" ")
	var day int
	if d.ok && len(d.s) > 0 && d.s[0] == ' ' { // date3 = month SP ( 2DIGIT / ( SP DIGIT ))
		d.lit(" ")
		day = d.num(1)
	} else {
		day = d.num(2)
	}
	d.lit(" ")
	hh, mm, ss := d.clock()
	d.lit(" ")
	year := d.num(4)
	return d.date(year, mon, day, hh, mm, ss)
}

// dateScanner consumes s from the front; the first mismatch clears ok and every
// later step is then a no-op.
type dateScanner struct {
	s  string
	ok bool
}

func (d *dateScanner) fail() { d.s, d.ok = "", false }

func (d *dateScanner) lit(l string) {
	if len(d.s) < len(l) || d.s[:len(l)] != l {
		d.fail()
		return
	}
	d.s = d.s[len(l):]
}

// oneOf consumes the first of names that s starts with and returns its index.
func (d *dateScanner) oneOf(names []string) int {
	for i, n := range names {
		if len(d.s) >= len(n) && d.s[:len(n)] == n {
			d.s = d.s[len(n):]
			return i
		}
	}
	d.fail()
	return 0
}

// num consumes exactly n digits.
func (d *dateScanner) num(n int) int {
	if len(d.s) < n {
		d.fail()
		return 0
	}
	v := 0
	for i := 0; i < n; i++ {
		c := d.s[i]
		if c < '0' || c > '9' {
			d.fail()
			return 0
		}
		v = v*10 + int(c-'0')
	}
	d.s = d.s[n:]
	return v
}

// clock consumes time-of-day = hour ":" minute ":" second.
func (d *dateScanner) clock() (hh, mm, ss int) {
	hh = d.num(2)
	d.lit(":")
	mm = d.num(2)
	d.lit(":")
	ss = d.num(2)
	return hh, mm, ss
}

// date checks that all of s was consumed and the fields name a real instant.
func (d *dateScanner) date(year, mon, day, hh, mm, ss int) (time.Time, bool) {
	if !d.ok || d.s != "" || hh > 23 || mm > 59 || ss > 60 || day < 1 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(mon+1), day, hh, mm, 0, 0, time.UTC)
	if t.Day() != day { // 31 Apr, 30 Feb: time.Date would roll them over
		return time.Time{}, false
	}
	return t.Add(time.Duration(ss) * time.Second), true
}
