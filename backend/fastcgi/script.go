package fastcgi

import (
	"errors"
	"io/fs"
	"net/url"
	"strings"

	"gatehouse/web"
)

// target is what a request path resolves to in PHP mode.
type target struct {
	// scriptName is the decoded URL path of the script below the prefix
	// ("/a/b.php"), a prefix of the decoded path; for the fallback, the
	// fallback's own path ("/index.php").
	scriptName string
	// file is the script's path relative to Root, slash-separated and
	// checked ("a/b.php").
	file string
	// internal: the script runs as itself, for a path that names its
	// directory or no file at all (the fallback): SCRIPT_NAME is the
	// script's own path and PATH_INFO is empty, as after nginx's internal
	// redirect by index or try_files.
	internal bool
	// location, when set, is a redirect to send instead: a directory named
	// without its final slash.
	location string
}

var (
	errBadPath  = &web.Error{Status: 400, Err: errors.New("fastcgi: path with a dot segment, a control character or a malformed escape")}
	errNoScript = &web.Error{Status: 404, Err: errors.New("fastcgi: no such script")}
	errHidden   = &web.Error{Status: 404, Err: errors.New("fastcgi: script under a dot directory refused")}
	errNoFile   = &web.Error{Status: 404, Err: errors.New("fastcgi: no such file, and no fallback script")}
)

// resolve maps key, the decoded path below the prefix ("" or starting with
// "/"), to a script under the root, following the rules in the package
// documentation. web.ErrNotFound itself means "an existing file that is not a
// script": the static backend's to serve.
func (h *Handler) resolve(key, prefix string, rawQuery []byte) (target, error) {
	type seg struct {
		name string
		end  int // offset in key just after the segment
	}
	var segs []seg
	for i := 0; i < len(key); {
		i++ // the slash
		j := strings.IndexByte(key[i:], '/')
		if j < 0 {
			j = len(key) - i
		}
		if name := key[i : i+j]; name != "" {
			if name == "." || name == ".." || strings.ContainsRune(name, '\\') {
				return target{}, errBadPath
			}
			segs = append(segs, seg{name, i + j})
		}
		i += j
	}
	rel := func(n int) string {
		if n == 0 {
			return "."
		}
		var b strings.Builder
		for i, s := range segs[:n] {
			if i > 0 {
				b.WriteByte('/')
			}
			b.WriteString(s.name)
		}
		return b.String()
	}

	for i, s := range segs {
		if !strings.HasSuffix(s.name, ".php") {
			continue
		}
		file := rel(i + 1)
		fi, err := h.root.Stat(file)
		if err == nil && fi.IsDir() {
			continue // a directory called x.php: not the script
		}
		if err != nil || !fi.Mode().IsRegular() {
			// Missing, outside the root (os.Root refuses symlinks that leave
			// it), or not a file: refused here, php-fpm is never asked.
			return target{}, errNoScript
		}
		for _, d := range segs[:i+1] {
			if d.name[0] == '.' && d.name != ".well-known" {
				return target{}, errHidden // .git/x.php and the like
			}
		}
		return target{scriptName: key[:s.end], file: file}, nil
	}

	dir := rel(len(segs))
	fi, err := h.root.Stat(dir)
	switch {
	case err == nil && fi.Mode().IsRegular():
		return target{}, web.ErrNotFound // a file, not a script
	case err == nil && fi.IsDir():
		index := h.index
		if dir != "." {
			index = dir + "/" + h.index
		}
		if ifi, err := h.root.Stat(index); err == nil && ifi.Mode().IsRegular() {
			if !strings.HasSuffix(key, "/") {
				// Relative links in the index resolve against the directory
				// only with the slash. The Location is built from checked
				// segments: always one local path, never "//host" (an open
				// redirect).
				var b strings.Builder
				b.WriteString(prefix)
				for _, s := range segs {
					b.WriteByte('/')
					b.WriteString(url.PathEscape(s.name))
				}
				b.WriteByte('/')
				if rawQuery != nil {
					b.WriteByte('?')
					b.Write(rawQuery)
				}
				return target{location: b.String()}, nil
			}
			return target{scriptName: key + h.index, file: index, internal: true}, nil
		}
	case err != nil && errors.Is(err, fs.ErrPermission):
		return target{}, web.ErrForbidden
	}
	if h.fallback == "" {
		return target{}, errNoFile
	}
	if ffi, err := h.root.Stat(h.fallback); err != nil || !ffi.Mode().IsRegular() {
		return target{}, errNoFile
	}
	return target{scriptName: "/" + h.fallback, file: h.fallback, internal: true}, nil
}
