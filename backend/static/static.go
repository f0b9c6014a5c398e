// Package static serves files from a directory: GET and HEAD, index files, a
// redirect for directories named without their trailing slash, a built-in media
// type table, and sendfile(2) for large files.
//
// Nothing outside the root is ever served. Request paths are decoded once and
// refused when they hold dot segments, encoded slashes, backslashes, NUL or other
// control bytes, or invalid (including overlong) UTF-8; files are opened through
// os.Root, which also refuses symlinks that lead out of the root.
package static

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gatehouse/web"
)

// Config describes one static site.
type Config struct {
	// Root is the directory served. Required.
	Root string
	// Prefix is the URL path the root is mounted at, such as "/assets/". The
	// router sends only requests under it. Default "/".
	Prefix string
	// Index lists the files tried for a directory. Default ["index.html"].
	Index []string
	// AllowDotfiles serves names starting with '.'. Default false: they are 404,
	// except .well-known (RFC 8615), which ACME and others need.
	AllowDotfiles bool
	// FollowSymlinks serves symlinks that lead outside Root. Default false.
	FollowSymlinks bool
}

// Handler serves the files of one Config.
type Handler struct {
	cfg  Config
	root *os.Root
	dir  string
}

// New opens cfg.Root and returns a handler for it.
func New(cfg Config) (*Handler, error) {
	if cfg.Root == "" {
		return nil, errors.New("static: no root directory")
	}
	dir, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("static: %s is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("static: %w", err)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/"
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if len(cfg.Index) == 0 {
		cfg.Index = []string{"index.html"}
	}
	return &Handler{cfg: cfg, root: root, dir: dir}, nil
}

// Close releases the root directory.
func (h *Handler) Close() error { return h.root.Close() }

var (
	errBadPath = &web.Error{Status: 400, Err: errors.New("static: unsafe request path")}
	errHidden  = &web.Error{Status: 404, Err: errors.New("static: dotfile refused")}
)

// ServeHTTP serves GET and HEAD; other methods get 405 with Allow.
func (h *Handler) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	switch r.Method() {
	case web.MethodGet, web.MethodHead:
	case web.MethodOptions:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		w.WriteHeader(204)
		return nil
	default:
		return web.MethodNotAllowed("GET, HEAD, OPTIONS")
	}
	raw := r.RawPath()
	prefix := strings.TrimSuffix(h.cfg.Prefix, "/")
	rest, ok := strings.CutPrefix(string(raw), prefix)
	if !ok || rest != "" && rest[0] != '/' {
		return web.ErrNotFound // "/filesX" is not under "/files/"
	}
	if rest == "" {
		return redirect(w, r, prefix, nil) // the mount point itself, without its slash
	}
	segs, dirForm, err := SplitPath(rest)
	if err != nil {
		return errBadPath
	}
	if !h.cfg.AllowDotfiles {
		for _, s := range segs {
			if s[0] == '.' && s != ".well-known" {
				return errHidden
			}
		}
	}
	rel := "."
	if len(segs) > 0 {
		rel = strings.Join(segs, "/")
	}
	f, err := h.open(rel)
	if err != nil {
		return openError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if !dirForm {
			// Relative links in the index resolve against the directory only
			// with the slash. The Location is built from the checked segments,
			// so it is always a single-slash local path (no open redirect).
			return redirect(w, r, prefix, segs)
		}
		for _, index := range h.cfg.Index {
			name := rel + "/" + index
			if rel == "." {
				name = index
			}
			idx, err := h.open(name)
			if err != nil {
				continue
			}
			defer idx.Close()
			ifi, err := idx.Stat()
			if err != nil || !ifi.Mode().IsRegular() {
				continue
			}
			return h.serveFile(w, r, idx, ifi, index)
		}
		return web.ErrNotFound // no directory listings
	}
	if dirForm || !fi.Mode().IsRegular() {
		return web.ErrNotFound
	}
	return h.serveFile(w, r, f, fi, fi.Name())
}

func (h *Handler) open(rel string) (*os.File, error) {
	if h.cfg.FollowSymlinks {
		return os.Open(filepath.Join(h.dir, filepath.FromSlash(rel)))
	}
	return h.root.Open(rel)
}

func openError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return web.ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		return web.ErrForbidden
	}
	// os.Root refuses paths that escape it (a symlink out of the root) and
	// ENOTDIR for a file used as a directory: both are simply not here.
	return &web.Error{Status: 404, Err: err}
}

func redirect(w web.ResponseWriter, r *web.Request, prefix string, segs []string) error {
	var b strings.Builder
	b.WriteString(prefix)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	b.WriteByte('/')
	if q := r.RawQuery(); q != nil {
		b.WriteByte('?')
		b.Write(q)
	}
	w.Header().Set("Location", b.String())
	w.WriteHeader(301)
	return nil
}

// smallFile is the size below which a file is read and written with the head in
// one write; larger files go out by sendfile.
const smallFile = 16 << 10

func (h *Handler) serveFile(w web.ResponseWriter, r *web.Request, f *os.File, fi os.FileInfo, name string) error {
	size := fi.Size()
	hdr := w.Header()
	hdr.Set("Content-Type", ContentType(name))
	hdr.Set("Last-Modified", fi.ModTime().UTC().Format(timeFormat))
	hdr.Set("Content-Length", strconv.FormatInt(size, 10))
	if r.Method() == web.MethodHead {
		w.WriteHeader(200)
		return nil
	}
	if size <= smallFile {
		buf := smallBufs.Get().(*[smallFile]byte)
		defer smallBufs.Put(buf)
		n, err := io.ReadFull(f, buf[:size])
		if err != nil {
			return err
		}
		_, err = w.Write(buf[:n])
		return err
	}
	return w.SendFile(f, 0, size)
}

var smallBufs = sync.Pool{New: func() any { return new([smallFile]byte) }}

// timeFormat is the IMF-fixdate of RFC 9110 §5.6.7.
const timeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// SplitPath decodes a URL path (percent-encoded, starting with '/') into checked
// segments. dirForm reports a trailing slash. It fails on anything that could
// name a file other than the one the segments spell: dot segments, encoded '/'
// (which would hide a separator), '\' (a separator elsewhere), NUL and other
// control bytes, and bytes that are not valid UTF-8 (overlong encodings such as
// %c0%ae are how "." was smuggled past decoders).
func SplitPath(p string) (segs []string, dirForm bool, err error) {
	if p == "" {
		p = "/"
	}
	if p[0] != '/' {
		return nil, false, errBadPath
	}
	dirForm = strings.HasSuffix(p, "/")
	for _, rawSeg := range strings.Split(p[1:], "/") {
		if rawSeg == "" {
			continue // "//" merges, as nginx's merge_slashes does
		}
		seg, err := decodeSegment(rawSeg)
		if err != nil {
			return nil, false, err
		}
		if seg == "." || seg == ".." {
			return nil, false, errBadPath
		}
		segs = append(segs, seg)
	}
	return segs, dirForm, nil
}

func decodeSegment(s string) (string, error) {
	if !strings.ContainsAny(s, "%\\") {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] == 0x7f {
				return "", errBadPath
			}
		}
		if !utf8.ValidString(s) {
			return "", errBadPath
		}
		return s, nil
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return "", errBadPath
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
			return "", errBadPath
		}
		b = append(b, c)
	}
	if !utf8.Valid(b) {
		return "", errBadPath
	}
	return string(b), nil
}

func ishex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
