package cgi

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"gatehouse/web"
)

var (
	errBadPath  = &web.Error{Status: 400, Err: errors.New("cgi: unsafe request path")}
	errHidden   = &web.Error{Status: 404, Err: errors.New("cgi: dotfile refused")}
	errNoScript = &web.Error{Status: 404, Err: errors.New("cgi: no script on the path")}
	errOutside  = &web.Error{Status: 404, Err: errors.New("cgi: path leads out of the root")}
	errNotExec  = &web.Error{Status: 403, Err: errors.New("cgi: script is not executable")}
)

// script is a request path resolved to a program under the root.
type script struct {
	file     string   // absolute path, symlinks resolved, inside the root
	segs     []string // decoded segments of the path under the mount point
	nameSegs int      // how many of segs name the script; the rest is PATH_INFO
	dirForm  bool     // the path ended in '/'
}

// splitPath decodes a URL path (percent-encoded, starting with '/') into
// segments, with backend/static's rules: it refuses dot segments, encoded '/'
// (a hidden separator), '\', NUL and other control bytes, and invalid UTF-8
// (overlong encodings are how "." was smuggled past decoders). Empty segments
// ("//") merge.
func splitPath(p string) (segs []string, dirForm bool, err error) {
	if p == "" || p[0] != '/' {
		return nil, false, errBadPath
	}
	dirForm = strings.HasSuffix(p, "/")
	for _, raw := range strings.Split(p[1:], "/") {
		if raw == "" {
			continue
		}
		seg, ok := decodeSegment(raw)
		if !ok || seg == "." || seg == ".." {
			return nil, false, errBadPath
		}
		segs = append(segs, seg)
	}
	return segs, dirForm, nil
}

func decodeSegment(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
				return "", false
			}
			c = byte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
		}
		if c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
			return "", false
		}
		b = append(b, c)
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// resolve finds the script a path under the mount point names: the first
// segment that is a regular file, walking down from the root. The segments
// after it are PATH_INFO (RFC 3875 §4.1.5), as Apache splits them.
//
// Confinement is backend/static's: every step is resolved through its
// symlinks and must stay inside the root (itself resolved once, at New);
// a step that leads out does not exist. Names starting with '.' are hidden.
func (h *Handler) resolve(rel string) (*script, error) {
	segs, dirForm, err := splitPath(rel)
	if err != nil {
		return nil, err
	}
	cur := h.root
	for i, seg := range segs {
		if seg[0] == '.' {
			return nil, errHidden
		}
		next, err := filepath.EvalSymlinks(filepath.Join(cur, seg))
		if err != nil {
			return nil, pathError(err)
		}
		if next != h.root && !strings.HasPrefix(next, h.root+string(filepath.Separator)) {
			return nil, errOutside
		}
		fi, err := os.Stat(next)
		if err != nil {
			return nil, pathError(err)
		}
		switch {
		case fi.IsDir():
			cur = next
			continue
		case !fi.Mode().IsRegular():
			return nil, errNoScript
		case fi.Mode().Perm()&0o111 == 0:
			return nil, errNotExec
		}
		return &script{file: next, segs: segs, nameSegs: i + 1, dirForm: dirForm}, nil
	}
	return nil, errNoScript
}

func pathError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return web.ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		return web.ErrForbidden
	}
	// ENOTDIR (a file used as a directory), a symlink loop: not here.
	return &web.Error{Status: 404, Err: err}
}

// name returns SCRIPT_NAME: the mount point and the script's segments.
func (s *script) name(mount string) string {
	if s.nameSegs == 0 {
		return mount // Config.Script: the mount point names it
	}
	return mount + "/" + strings.Join(s.segs[:s.nameSegs], "/")
}

// nph reports whether the script is a non-parsed-header script (RFC 3875 §5.1).
func (s *script) nph() bool {
	if s.nameSegs == 0 {
		return strings.HasPrefix(filepath.Base(s.file), "nph-")
	}
	return strings.HasPrefix(s.segs[s.nameSegs-1], "nph-")
}
