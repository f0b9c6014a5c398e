package static

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/web/webtest"
)

func TestParseETagList(t *testing.T) {
	strong := func(s string) entityTag { return entityTag{opaque: s} }
	weak := func(s string) entityTag { return entityTag{weak: true, opaque: s} }
	cases := []struct {
		in   string
		ok   bool
		star bool
		tags []entityTag
	}{
		{`"a"`, true, false, []entityTag{strong(`"a"`)}},
		{`W/"a"`, true, false, []entityTag{weak(`"a"`)}},
		{`""`, true, false, []entityTag{strong(`""`)}}, // *etagc: empty is a tag
		{`"a", W/"b","c"`, true, false, []entityTag{strong(`"a"`), weak(`"b"`), strong(`"c"`)}},
		{"\"a\"\t,\t\"b\"", true, false, []entityTag{strong(`"a"`), strong(`"b"`)}},
		{`"a,b", "c"`, true, false, []entityTag{strong(`"a,b"`), strong(`"c"`)}},  // a comma inside a tag
		{`, "a" ,, "b",`, true, false, []entityTag{strong(`"a"`), strong(`"b"`)}}, // §5.6.1.2 empty elements
		{`*`, true, true, nil},
		{` * `, true, true, nil},
		{``, true, false, nil}, // #entity-tag may be empty
		{"\"\x80\xff\"", true, false, []entityTag{strong("\"\x80\xff\"")}}, // obs-text
		{`a`, false, false, nil},     // unquoted
		{`"a`, false, false, nil},    // unterminated
		{`w/"a"`, false, false, nil}, // %s"W/" is case-sensitive
		{`W/ "a"`, false, false, nil},
		{`"a" "b"`, false, false, nil}, // no comma
		{`"a"b`, false, false, nil},
		{`*, "a"`, false, false, nil}, // "*" is only the whole value
		{`"a", *`, false, false, nil},
		{`"a b"`, false, false, nil}, // SP is not etagc
		{"\"a\x7f\"", false, false, nil},
		{`"a", b, "c"`, false, false, nil}, // all or nothing
	}
	for _, c := range cases {
		tags, star, ok := parseETagList(c.in)
		if ok != c.ok || star != c.star || !slices.Equal(tags, c.tags) {
			t.Errorf("parseETagList(%q) = %v, %v, %v; want %v, %v, %v", c.in, tags, star, ok, c.tags, c.star, c.ok)
		}
	}
}

func TestReadETagFieldLines(t *testing.T) {
	cases := []struct {
		lines       []string
		valid, star bool
		ntags       int
	}{
		{[]string{`"a"`, `"b"`}, true, false, 2},
		{[]string{`*`}, true, true, 0},
		{[]string{`*`, `"a"`}, false, true, 1}, // combined: `*, "a"`
		{[]string{`*`, ``}, true, true, 0},     // an empty line adds nothing
		{[]string{`"a"`, `bad`}, false, false, 1},
	}
	for _, c := range cases {
		fields := make([]string, len(c.lines))
		for i, l := range c.lines {
			fields[i] = "If-Match: " + l
		}
		r := webtest.NewRequest("GET", "/", nil, fields...)
		f := readETagField(&r.Header, "If-Match")
		if !f.present || f.valid != c.valid || f.star != c.star || len(f.tags) != c.ntags {
			t.Errorf("%q: %+v", c.lines, f)
		}
	}
}

type fakeInfo struct {
	fs.FileInfo
	mod  time.Time
	size int64
}

func (f fakeInfo) ModTime() time.Time { return f.mod }
func (f fakeInfo) Size() int64        { return f.size }

func TestFileETag(t *testing.T) {
	mod := time.Unix(1700000000, 5)
	for _, c := range []struct {
		mod    time.Time
		size   int64
		suffix string
		want   string
	}{
		{mod, 1234, "", `"17979cfe362a0005-4d2"`},
		{mod, 1234, "br", `"17979cfe362a0005-4d2-br"`},
		{mod, 0, "gz", `"17979cfe362a0005-0-gz"`},
		{time.Unix(0, 0), 1, "", `"0-1"`},
		{time.Unix(-1, 0), 1, "", `"ffffffffc4653600-1"`}, // before 1970: no '-' sign in the tag
	} {
		got := fileETag(fakeInfo{mod: c.mod, size: c.size}, c.suffix)
		if got != c.want {
			t.Errorf("%v %d %q: %s, want %s", c.mod, c.size, c.suffix, got, c.want)
		}
		if tags, _, ok := parseETagList(got); !ok || len(tags) != 1 || tags[0].weak {
			t.Errorf("%s does not parse as one strong entity-tag", got)
		}
	}
}

func TestLastModified(t *testing.T) {
	for _, c := range []struct {
		name string
		mod  time.Time
		want time.Time
	}{
		{"past, nanoseconds dropped", testMod, testMod.Truncate(time.Second)},
		{"now", testNow, testNow},
		// §8.8.2.1: a future time MUST be replaced by the message origination date.
		{"a second ahead", testNow.Add(time.Second), testNow},
		{"a century ahead", testNow.AddDate(100, 0, 0), testNow},
		{"a fraction ahead", testNow.Add(500 * time.Millisecond), testNow},
	} {
		got := lastModified(fakeInfo{mod: c.mod}, testNow.Add(300*time.Millisecond))
		if !got.Equal(c.want) || got.Location() != time.UTC {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func FuzzETagList(f *testing.F) {
	for _, s := range []string{
		`"a"`, `W/"a"`, `*`, ` * `, `"a", W/"b"`, `"a,b",,"c"`, `""`, `W/""`, `"a" "b"`, `*, "a"`,
		"\"\x80\"", `W/`, `"`, `,`, etagOf(11, ""), etagOf(11, "br"),
	} {
		f.Add(s)
	}
	for _, s := range corpusValues(f, "If-Match", "If-None-Match", "ETag", "If-Range") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, star, ok := parseETagList(s)
		if !ok {
			if star || tags != nil {
				t.Fatalf("%q: failed but returned %v %v", s, star, tags)
			}
			return
		}
		if star {
			if strings.Trim(s, " \t") != "*" || tags != nil {
				t.Fatalf("%q: star with %v", s, tags)
			}
			return
		}
		parts := make([]string, len(tags))
		for i, tg := range tags {
			o := tg.opaque
			if len(o) < 2 || o[0] != '"' || o[len(o)-1] != '"' || strings.Contains(o[1:len(o)-1], `"`) {
				t.Fatalf("%q: bad opaque-tag %q", s, o)
			}
			for j := 1; j < len(o)-1; j++ {
				if c := o[j]; c < 0x21 || c == 0x7f {
					t.Fatalf("%q: %q holds %#x", s, o, c)
				}
			}
			if tg.weak {
				parts[i] = "W/" + o
			} else {
				parts[i] = o
			}
		}
		// The canonical form of what was read reads back the same.
		again, star2, ok2 := parseETagList(strings.Join(parts, ", "))
		if !ok2 || star2 || !slices.Equal(again, tags) {
			t.Fatalf("%q: round trip %v → %v %v %v", s, tags, again, star2, ok2)
		}
	})
}
