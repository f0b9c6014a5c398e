package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Load reads and checks the configuration file at path. On problems it returns
// the configuration as far as it could be read and a Problems error listing all
// of them.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: err.Error(), Hint: "give the path of a TOML file, as in gatehouse serve --config gatehouse.toml"}}
	}
	return Parse(path, data)
}

// maxDecodeRounds bounds how many bad values one check reports.
const maxDecodeRounds = 200

// Parse reads and checks a configuration held in data; file names it in problems.
//
// The TOML decoder stops at the first bad value, but a check should report them
// all: each round records the error at its line, blanks that key/value (keeping
// line breaks, so later lines keep their numbers) and decodes again. Unknown keys
// are reported together at the end of a successful round.
func Parse(file string, data []byte) (*Config, error) {
	loc, syntaxErr := locate(data)
	var ps Problems
	if syntaxErr != nil {
		var cfg Config
		err := toml.Unmarshal(data, &cfg)
		ps = append(ps, decodeProblem(file, err, syntaxErr))
		return &Config{File: file}, ps.Err()
	}
	work := bytes.Clone(data)
	var cfg Config
	for range maxDecodeRounds {
		cfg = Config{}
		dec := toml.NewDecoder(bytes.NewReader(work))
		dec.DisallowUnknownFields()
		err := dec.Decode(&cfg)
		if err == nil {
			break
		}
		var sme *toml.StrictMissingError
		if errors.As(err, &sme) {
			for _, e := range sme.Errors {
				row, _ := e.Position()
				key := loc.fullKey([]string(e.Key()), row)
				ps = append(ps, Problem{File: file, Line: row,
					Msg:  fmt.Sprintf("unknown key %q", strings.Join(key, ".")),
					Hint: suggest(key)})
			}
			break
		}
		p := decodeProblem(file, err, nil)
		ps = append(ps, p)
		if p.Line == 0 || !blankLine(work, loc, p.Line) {
			break
		}
	}
	cfg.File = file
	cfg.loc = loc
	cfg.fillLines()
	ps = append(ps, cfg.validate()...)
	return &cfg, ps.Err()
}

// decodeProblem turns a go-toml error into a Problem at its line.
func decodeProblem(file string, err, fallback error) Problem {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		msg := friendly(strings.TrimPrefix(de.Error(), "toml: "))
		if key := de.Key(); len(key) > 0 {
			msg = strings.Join(key, ".") + ": " + msg
		}
		hint := hintFor(msg)
		if hint == "" {
			hint = syntaxHint
		}
		return Problem{File: file, Line: row, Msg: msg, Hint: hint}
	}
	if err == nil {
		err = fallback
	}
	return Problem{File: file, Msg: strings.TrimPrefix(err.Error(), "toml: "), Hint: syntaxHint}
}

// syntaxHint is the hint of a problem in the TOML syntax itself.
const syntaxHint = "check the TOML syntax on this line (https://toml.io): quotes, brackets, = between key and value"

var mismatch = regexp.MustCompile(`^cannot decode TOML (\w+) into (?:struct field )?\S+ of type (\S+)$`)

// friendly rewrites go-toml's type mismatches without Go type names.
func friendly(msg string) string {
	m := mismatch.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	want := map[string]string{
		"int": "a number", "int64": "a number", "string": "a string", "bool": "true or false",
		"[]string": "a list of strings", "map[string]string": "a table of strings",
		"*config.Duration": "a duration such as \"30s\"", "*config.Size": "a size such as \"64k\"",
		"*int": "a number", "*string": "a string",
		"config.TLS":         `a table such as { cert = "site.pem", key = "site.key" }`,
		"[]config.CertFiles": `a list of tables such as [{ cert = "site.pem", key = "site.key" }]`,
	}[m[2]]
	if want == "" {
		want = "a different kind of value"
	}
	return fmt.Sprintf("expected %s, found a TOML %s", want, m[1])
}

func hintFor(msg string) string {
	switch {
	case strings.Contains(msg, "expected a table such as"), strings.Contains(msg, "expected a list of tables such as"):
		return "see docs/tls.md for a listener's tls keys"
	case strings.HasSuffix(msg, "is not a duration"):
		return `write it like "30s", "1m30s" or "500ms"`
	case strings.HasSuffix(msg, "a duration cannot be negative"):
		return `write "0s" for none, or a positive duration`
	case strings.HasSuffix(msg, "is not a size"):
		return `write it like "64k", "128m" or "1g"`
	case strings.Contains(msg, "expected a list of strings"):
		return `write a list, such as ["example.com", "www.example.com"]`
	case strings.Contains(msg, "expected true or false"):
		return "write true or false, without quotes"
	case strings.Contains(msg, "expected character"), strings.Contains(msg, "invalid character"):
		return "check quoting: strings are written \"like this\""
	case strings.Contains(msg, "expected a number, found a TOML string"):
		return "write the number without quotes"
	case strings.Contains(msg, "found a TOML integer"), strings.Contains(msg, "found a TOML bool"):
		return "write the value as a quoted string"
	}
	return ""
}

// blankLine replaces the key/value on line with spaces, keeping line breaks.
func blankLine(work []byte, loc *locator, line int) bool {
	for _, s := range loc.ranges {
		if s.line == line {
			for i := s.start; i < s.end && i < len(work); i++ {
				if work[i] != '\n' {
					work[i] = ' '
				}
			}
			return true
		}
	}
	return false
}

// suggest names the keys valid where an unknown key was found, closest first.
func suggest(key []string) string {
	known := knownKeys(reflect.TypeOf(Config{}), key[:len(key)-1])
	if len(known) == 0 {
		return ""
	}
	last := key[len(key)-1]
	sort.SliceStable(known, func(i, j int) bool { return distance(known[i], last) < distance(known[j], last) })
	if d := distance(known[0], last); d <= 2 {
		return fmt.Sprintf("did you mean %q?", known[0])
	}
	sort.Strings(known)
	return "valid keys here: " + strings.Join(known, ", ")
}

// knownKeys lists the TOML keys of the struct reached by following path.
func knownKeys(t reflect.Type, path []string) []string {
	for _, part := range path {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByTag(t, part)
		if !ok {
			return nil
		}
		t = f.Type
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		if tag := tomlName(t.Field(i)); tag != "" {
			out = append(out, tag)
		}
	}
	return out
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if tomlName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func tomlName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if tag == "-" {
		return ""
	}
	return tag
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
