package static

import (
	"gatehouse/internal/httpspec"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"gatehouse/web"
)

// fileETag returns the strong entity-tag (RFC 9110 §8.8.3) of a file:
// "<mtime>-<size>" in hex, the modification time in nanoseconds since 1970.
// suffix, such as "br", names a precompressed variant, whose bytes differ from the
// original's and so must not share its tag (§8.8.3.3).
//
// It is strong because any write that changes the bytes changes the modification
// time. The residual risk is two writes of the same size within one tick of the
// file system's timestamp clock (coarse on some systems); nginx and net/http's
// callers accept the same risk, and files deployed by rename get a new time.
func fileETag(fi fs.FileInfo, suffix string) string {
	b := make([]byte, 0, 48)
	b = append(b, '"')
	// As unsigned, a time before 1970 still gives hex digits and no '-', which
	// would make the tag ambiguous.
	b = strconv.AppendUint(b, uint64(fi.ModTime().UnixNano()), 16)
	b = append(b, '-')
	b = strconv.AppendUint(b, uint64(fi.Size()), 16)
	if suffix != "" {
		b = append(b, '-')
		b = append(b, suffix...)
	}
	b = append(b, '"')
	return string(b)
}

// lastModified returns the Last-Modified of a file as sent: whole seconds, as
// HTTP-date has, and never later than now. §8.8.2.1: an origin server "MUST NOT
// generate a Last-Modified date that is later than the server's time of message
// origination" and if the file's time is in the future "MUST replace that value
// with the message origination date" (a clock skewed build machine, an archive
// unpacked with its times): otherwise every If-Modified-Since would be false
// and the file sent in full until the future arrives.
func lastModified(fi fs.FileInfo, now time.Time) time.Time {
	t := fi.ModTime().UTC().Truncate(time.Second)
	if n := now.UTC().Truncate(time.Second); t.After(n) {
		return n
	}
	return t
}

// entityTag is one entity-tag of a request field.
type entityTag struct {
	weak   bool
	opaque string // with its double quotes
}

// strongMatch is the strong comparison of §8.8.3.2: both tags strong and their
// opaque-tags equal. cur is the resource's current tag, always strong here.
func (t entityTag) strongMatch(cur string) bool { return !t.weak && t.opaque == cur }

// weakMatch is the weak comparison of §8.8.3.2: the opaque-tags are equal,
// whether or not either is weak.
func (t entityTag) weakMatch(cur string) bool { return t.opaque == cur }

// scanETag reads the entity-tag at the start of s (§8.8.3):
//
//	entity-tag = [ weak ] opaque-tag
//	weak       = %s"W/"          ; case-sensitive
//	opaque-tag = DQUOTE *etagc DQUOTE
//	etagc      = %x21 / %x23-7E / obs-text
//
// n is the number of bytes it took. An opaque-tag may hold commas, so lists
// cannot be split on ',' before tags are read.
func scanETag(s string) (t entityTag, n int, ok bool) {
	if strings.HasPrefix(s, "W/") {
		t.weak, n = true, 2
	}
	if n >= len(s) || s[n] != '"' {
		return entityTag{}, 0, false
	}
	for i := n + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			t.opaque = s[n : i+1]
			return t, i + 1, true
		case c == 0x21 || c >= 0x23 && c <= 0x7e || c >= 0x80:
		default:
			return entityTag{}, 0, false
		}
	}
	return entityTag{}, 0, false // no closing quote
}

// parseETagList parses one field line of If-Match or If-None-Match (§13.1.1,
// §13.1.2): "*" / #entity-tag. Lists follow §5.6.1: elements separated by commas
// with optional whitespace, and empty elements, which a recipient MUST accept
// (§5.6.1.2), skipped. The line is valid or not as a whole: a tag list with one
// bad element (an unquoted tag, "*" among tags) gives ok false, never the tags
// before it, so the outcome does not depend on where the error sits.
func parseETagList(v string) (tags []entityTag, star, ok bool) {
	if httpspec.TrimOWS(v) == "*" {
		return nil, true, true
	}
	for i := 0; ; {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == ',') {
			i++
		}
		if i == len(v) {
			return tags, false, true
		}
		t, n, ok := scanETag(v[i:])
		if !ok {
			return nil, false, false
		}
		tags = append(tags, t)
		i += n
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i < len(v) && v[i] != ',' {
			return nil, false, false // two tags without a comma, or trailing junk
		}
	}
}

// etagField is a request's If-Match or If-None-Match, every field line
// combined as §5.3 says a recipient may.
type etagField struct {
	present bool // at least one field line
	valid   bool // the combined value is "*" or a list of entity-tags
	star    bool
	tags    []entityTag
}

func readETagField(h *web.Header, name string) etagField {
	var f etagField
	lines := 0
	f.valid = true
	for v := range h.Values(name) {
		f.present = true
		tags, star, ok := parseETagList(string(v))
		if !ok {
			f.valid = false
			continue
		}
		if star || len(tags) > 0 {
			lines++
		}
		f.star = f.star || star
		f.tags = append(f.tags, tags...)
	}
	if f.star && lines > 1 {
		// "*" combined with anything else is neither "*" nor a list of tags.
		f.valid = false
	}
	return f
}
