package static

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	// Listing answers a directory that has no index file with an HTML list of
	// its entries. Default false: 404.
	Listing bool
	// Precompressed serves x.br, x.zst or x.gz in place of x when they exist
	// and the request's Accept-Encoding accepts their coding, with
	// Content-Encoding and Vary: Accept-Encoding. The sidecars must hold x's
	// bytes compressed; nothing checks that they are up to date. Default false.
	Precompressed bool
	// CacheControl is sent as Cache-Control with files (200, 206 and 304), such
	// as "public, max-age=3600". Not with listings: they have no validator to
	// revalidate with, so a long lifetime would keep them stale. Default "": none.
	CacheControl string
	// CacheValid is how long what the file cache knows about a file is trusted
	// before a stat revalidates it. Default 1 s; negative turns the cache off.
	// Within it, a file changed in place may still be served as it was.
	CacheValid time.Duration
	// CacheMaxBytes bounds the file contents the cache holds (files up to 16 KiB
	// are kept in memory). Default 64 MiB.
	CacheMaxBytes int64
}

// Handler serves the files of one Config.
type Handler struct {
	cfg  Config
	root *os.Root
	dir  string
	now  func() time.Time // the clock for Last-Modified and date preconditions

	maxListing int // entries per listing: the constant maxListing, lowered by tests
	cache      *fileCache
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
	if strings.ContainsFunc(cfg.CacheControl, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		root.Close()
		return nil, errors.New("static: control character in CacheControl") // would split the header
	}
	h := &Handler{cfg: cfg, root: root, dir: dir, now: time.Now, maxListing: maxListing}
	if cfg.CacheValid >= 0 {
		valid, max := cfg.CacheValid, cfg.CacheMaxBytes
		if valid == 0 {
			valid = DefaultCacheValid
		}
		if max <= 0 {
			max = DefaultCacheMaxBytes
		}
		h.cache = newFileCache(valid, max)
	}
	return h, nil
}

// Close releases the root directory and the files the cache holds open.
func (h *Handler) Close() error {
	if h.cache != nil {
		h.cache.close()
	}
	return h.root.Close()
}

var (
	errBadPath      = &web.Error{Status: 400, Err: errors.New("static: unsafe request path")}
	errHidden       = &web.Error{Status: 404, Err: errors.New("static: dotfile refused")}
	errPrecondition = &web.Error{Status: 412, Err: errors.New("static: precondition failed")}
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
	raw := r.RoutePath() // the path the router matched; the same as RawPath without one
	prefix := h.cfg.Prefix[:len(h.cfg.Prefix)-1]
	key, ok := bytes.CutPrefix(raw, []byte(prefix))
	if !ok || len(key) > 0 && key[0] != '/' {
		return web.ErrNotFound // "/filesX" is not under "/files/"
	}
	if len(key) == 0 {
		return redirect(w, r, prefix, nil) // the mount point itself, without its slash
	}
	// A cache hit for the same path passed every check below when it was made.
	if h.cache != nil && !h.cfg.Precompressed && !r.Header.Has("Range") {
		if e := h.cache.get(h, key, h.now()); e != nil {
			return h.serveEntry(w, r, e)
		}
	}
	segs, dirForm, err := SplitPath(string(key))
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
			return h.serveFile(w, r, key, idx, ifi, name, index)
		}
		if h.cfg.Listing {
			return h.serveListing(w, r, f, rel, prefix, segs)
		}
		return web.ErrNotFound
	}
	if dirForm || !fi.Mode().IsRegular() {
		return web.ErrNotFound
	}
	return h.serveFile(w, r, key, f, fi, rel, fi.Name())
}

// open and stat reach rel (slash-separated, checked by SplitPath) the one way
// the Config allows: through os.Root, or by plain path with FollowSymlinks.
func (h *Handler) open(rel string) (*os.File, error) {
	if h.cfg.FollowSymlinks {
		return os.Open(filepath.Join(h.dir, filepath.FromSlash(rel)))
	}
	return h.root.Open(rel)
}

func (h *Handler) stat(rel string) (os.FileInfo, error) {
	if h.cfg.FollowSymlinks {
		return os.Stat(filepath.Join(h.dir, filepath.FromSlash(rel)))
	}
	return h.root.Stat(rel)
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
