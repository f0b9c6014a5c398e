package static

import (
	"cmp"
	"errors"
	"html"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/web"
)

// maxListing bounds the entries read for one listing, so that a directory of a
// million files costs a request a bounded amount of memory and time. Past it the
// page says it is incomplete.
const maxListing = 10000

// listingCSP forbids everything to the page (scripts, styles, frames, forms): it
// is plain HTML, so a name that got past escaping still could not run.
const listingCSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type listingEntry struct {
	name string
	dir  bool
	size int64
	mod  time.Time
}

// serveListing answers GET or HEAD for a directory without an index file with
// an HTML list of what can be fetched from it: names that would be refused
// (dotfiles unless AllowDotfiles, names SplitPath rejects), entries that are
// neither files nor directories, and symlinks that cannot be followed (out of the
// root, dangling) are left out, so the page never names what a click would 404.
func (h *Handler) serveListing(w web.ResponseWriter, r *web.Request, dir *os.File, rel, prefix string, segs []string) error {
	// A listing has no validator; "*" still matches, as the directory exists
	// (§13.1.1, §13.1.2), and tags never do.
	switch evaluatePreconditions(r.Method(), &r.Header, validators{}, h.now()) {
	case preconditionFailed:
		return errPrecondition
	case notModified:
		w.WriteHeader(304)
		return nil
	}
	entries, err := dir.ReadDir(h.maxListing + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	truncated := len(entries) > h.maxListing
	if truncated {
		entries = entries[:h.maxListing]
	}
	list := make([]listingEntry, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if !listable(name, h.cfg.AllowDotfiles) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			// Follow it the way a request would, so a link out of the root
			// is as absent here as it is at its URL.
			p := name
			if rel != "." {
				p = rel + "/" + name
			}
			if info, err = h.stat(p); err != nil {
				continue
			}
		}
		if !info.IsDir() && !info.Mode().IsRegular() {
			continue
		}
		list = append(list, listingEntry{name: name, dir: info.IsDir(), size: info.Size(), mod: info.ModTime()})
	}
	slices.SortFunc(list, func(a, b listingEntry) int {
		if a.dir != b.dir {
			if a.dir {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.name, b.name)
	})

	page := renderListing(prefix+"/"+strings.Join(segs, "/"), len(segs) > 0, list, truncated)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/html; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Content-Security-Policy", listingCSP)
	hdr.Set("Content-Length", strconv.Itoa(len(page)))
	w.WriteHeader(200)
	if r.Method() == web.MethodHead {
		return nil
	}
	_, err = w.Write(page)
	return err
}

// listable reports whether a directory entry's name could be requested: the
// dotfile rule of ServeHTTP, and the bytes SplitPath refuses.
func listable(name string, dotfiles bool) bool {
	if name == "" || name[0] == '.' && !dotfiles || !utf8.ValidString(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

// renderListing builds the page. Names are escaped twice over: url.PathEscape for
// the link (behind "./", so that a name such as "javascript:x" or "//host" stays a
// relative path) and html.EscapeString for both the link and the text.
// truncated says that the directory has more entries than were read.
func renderListing(dirPath string, parent bool, list []listingEntry, truncated bool) []byte {
	if !strings.HasSuffix(dirPath, "/") {
		dirPath += "/"
	}
	title := html.EscapeString("Index of " + dirPath)
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>")
	b.WriteString(title)
	b.WriteString("</title></head><body>\n<h1>")
	b.WriteString(title)
	b.WriteString("</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n")
	if parent {
		b.WriteString("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n")
	}
	for _, e := range list {
		name, size := e.name, strconv.FormatInt(e.size, 10)
		if e.dir {
			name, size = name+"/", "-"
		}
		href := "./" + url.PathEscape(e.name)
		if e.dir {
			href += "/"
		}
		b.WriteString("<tr><td><a href=\"")
		b.WriteString(html.EscapeString(href))
		b.WriteString("\">")
		b.WriteString(html.EscapeString(name))
		b.WriteString("</a></td><td>")
		b.WriteString(size)
		b.WriteString("</td><td>")
		b.WriteString(e.mod.UTC().Format("2006-01-02 15:04:05"))
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>\n")
	if truncated {
		b.WriteString("<p>This directory has more entries than are listed here.</p>\n")
	}
	b.WriteString("</body></html>\n")
	return []byte(b.String())
}
