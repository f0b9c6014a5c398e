package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration, at a line of its file.
type Problem struct {
	File string
	Line int // 0 when it is about the file as a whole
	Msg  string
	Hint string // how to fix it; may be empty
	// Warning: worth a look, but the configuration works as written
	// (gatehouse check prints it and still succeeds).
	Warning bool
}

// Where is the problem's file and line ("(flags)" for a configuration
// built from the command line).
func (p Problem) Where() string {
	loc := p.File
	if loc == "" {
		loc = "(flags)"
	}
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, p.Line)
	}
	return loc
}

func (p Problem) String() string {
	loc := p.Where()
	s := loc + ": " + p.Msg
	if p.Warning {
		s = loc + ": warning: " + p.Msg
	}
	if p.Hint != "" {
		s += "\n\thint: " + p.Hint
	}
	return s
}

// Problems is every problem found, in file order. It is an error.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Errors counts the problems that are not warnings.
func (ps Problems) Errors() int {
	n := 0
	for _, p := range ps {
		if !p.Warning {
			n++
		}
	}
	return n
}

// Err returns ps as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	ps.Sort()
	return ps
}

// Sort orders problems by line, keeping the order of problems on one line.
func (ps Problems) Sort() {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
}
