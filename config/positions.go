package config

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// locator maps every key path of a document to its line, as the schema names it:
// "site[1].route[0].static.root". It also keeps the byte range of each key/value
// so the loader can blank one out and decode again.
type locator struct {
	lines  map[string]int
	ranges []span // key/value expressions, in document order
	counts map[string]int
}

type span struct{ start, end, line int }

// locate walks the document. It returns the first syntax error, if any.
func locate(data []byte) (*locator, error) {
	l := &locator{lines: map[string]int{}, counts: map[string]int{}}
	var p unstable.Parser
	p.Reset(data)
	cur := ""
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			parts, line := keyParts(&p, e.Key())
			cur = l.resolveParent(parts)
			l.set(cur, line)
		case unstable.ArrayTable:
			parts, line := keyParts(&p, e.Key())
			base := l.resolveParent(parts)
			cur = base + "[" + strconv.Itoa(l.counts[base]) + "]"
			l.counts[base]++
			l.set(cur, line)
		case unstable.KeyValue:
			parts, line := keyParts(&p, e.Key())
			path := join(cur, strings.Join(parts, "."))
			l.set(path, line)
			sh := p.Shape(e.Raw)
			l.ranges = append(l.ranges, span{start: int(e.Raw.Offset), end: int(e.Raw.Offset + e.Raw.Length), line: sh.Start.Line})
			l.value(&p, path, e.Value(), line)
		}
	}
	return l, p.Error()
}

// value records the keys inside inline tables and arrays of inline tables.
func (l *locator) value(p *unstable.Parser, path string, v *unstable.Node, line int) {
	switch v.Kind {
	case unstable.InlineTable:
		for it := v.Children(); it.Next(); {
			kv := it.Node()
			if kv.Kind != unstable.KeyValue {
				continue
			}
			parts, kline := keyParts(p, kv.Key())
			sub := join(path, strings.Join(parts, "."))
			l.set(sub, kline)
			l.value(p, sub, kv.Value(), kline)
		}
	case unstable.Array:
		i := 0
		for it := v.Children(); it.Next(); i++ {
			el := it.Node()
			sub := path + "[" + strconv.Itoa(i) + "]"
			elLine := line
			if el.Raw.Length > 0 {
				elLine = p.Shape(el.Raw).Start.Line
			}
			l.set(sub, elLine)
			l.value(p, sub, el, elLine)
		}
	}
}

// resolveParent turns a table key into a path, giving each array-of-tables
// prefix the index of its latest element ([[site]] ... [site.error_pages] →
// site[N].error_pages). The last part is left as it is: the header names it.
func (l *locator) resolveParent(parts []string) string {
	path := ""
	for i, part := range parts {
		path = join(path, part)
		if n := l.counts[path]; n > 0 && i < len(parts)-1 {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
	}
	return path
}

func (l *locator) set(path string, line int) {
	if _, ok := l.lines[path]; !ok {
		l.lines[path] = line
	}
}

// line returns the line of path, or of its nearest ancestor that has one.
func (l *locator) line(path string) int {
	for path != "" {
		if n, ok := l.lines[path]; ok {
			return n
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func keyParts(p *unstable.Parser, it unstable.Iterator) ([]string, int) {
	var parts []string
	line := 0
	for it.Next() {
		k := it.Node()
		if line == 0 {
			line = p.Shape(k.Raw).Start.Line
		}
		parts = append(parts, string(k.Data))
	}
	return parts, line
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// fullKey completes a key the decoder reports without the inline table it sits
// in (it gives site.route.indexes for static = { indexes = ... }): the path
// on that line ending in the same key, with array indices removed.
func (l *locator) fullKey(key []string, line int) []string {
	if len(key) == 0 {
		return key
	}
	last := key[len(key)-1]
	for path, n := range l.lines {
		if n != line || !(path == last || strings.HasSuffix(path, "."+last)) {
			continue
		}
		parts := strings.Split(indexRE.ReplaceAllString(path, ""), ".")
		if len(parts) >= len(key) {
			return parts
		}
	}
	return key
}

var indexRE = regexp.MustCompile(`\[\d+\]`)
