package static

import (
	"os"
	"strings"

	"gatehouse/internal/httpspec"
	"gatehouse/web"
)

// coding is a content coding (RFC 9110 §8.4.1) a precompressed sidecar file can
// hold: style.css.br next to style.css.
type coding struct {
	name string // the Content-Encoding token
	ext  string // the sidecar's suffix
	tag  string // the suffix of the sidecar's ETag
}

// codings, in the order preferred among those a client weighs equally: brotli and
// zstd make smaller text than gzip.
var codings = [...]coding{
	{name: "br", ext: ".br", tag: "br"},
	{name: "zstd", ext: ".zst", tag: "zst"},
	// §8.4.1.3: a recipient "SHOULD consider "x-gzip" to be equivalent to
	// "gzip"" (httpspec.AcceptEncoding does).
	{name: "gzip", ext: ".gz", tag: "gz"},
}

// isSidecarName reports names that are themselves sidecars (or other compressed
// files): they are served as they are, never looked up as x.gz.br.
func isSidecarName(name string) bool {
	for _, c := range codings {
		if strings.HasSuffix(name, c.ext) {
			return true
		}
	}
	return false
}

// codingNames are the codings' tokens, for httpspec.AcceptEncoding.
var codingNames = func() (n [len(codings)]string) {
	for i, c := range codings {
		n[i] = c.name
	}
	return n
}()

// parseAcceptEncoding reads the request's Accept-Encoding lines for the
// sidecars' codings (httpspec.AcceptEncoding.Parse; x-gzip is gzip).
func parseAcceptEncoding(h *web.Header) httpspec.AcceptEncoding {
	a := httpspec.NewAcceptEncoding()
	for line := range h.Values("Accept-Encoding") {
		a.Parse(line, codingNames[:])
	}
	return a
}

// chooseCoding returns the index in codings of the sidecar to send, or -1 for
// the file itself. available marks the sidecars that exist. The rule is
// httpspec.ChooseCoding's, with codings' order of preference; among its
// deliberate choices, a request without Accept-Encoding gets the file itself.
func chooseCoding(a *httpspec.AcceptEncoding, available [len(codings)]bool) int {
	var order [len(codings)]int
	n := 0
	for i := range codings {
		if available[i] {
			order[n] = i
			n++
		}
	}
	i, ok := httpspec.ChooseCoding(a, order[:n])
	if !ok {
		return -1
	}
	return i
}

// sidecar finds the precompressed variant of the file rel to send for r. vary
// reports whether rel has any sidecar, in which case the answer depends on
// Accept-Encoding and must say so with Vary (§12.5.5), even when the file itself
// is sent. A sidecar is looked up and opened exactly as the file was (through
// os.Root unless FollowSymlinks), so a sidecar that is a symlink leading out of
// the root does not exist for this purpose; it must be a regular file.
func (h *Handler) sidecar(r *web.Request, rel string) (f *os.File, fi os.FileInfo, c *coding, vary bool) {
	var available [len(codings)]bool
	for i, c := range codings {
		if st, err := h.stat(rel + c.ext); err == nil && st.Mode().IsRegular() {
			available[i], vary = true, true
		}
	}
	if !vary {
		return nil, nil, nil, false
	}
	accept := parseAcceptEncoding(&r.Header)
	i := chooseCoding(&accept, available)
	if i < 0 {
		return nil, nil, nil, true
	}
	f, err := h.open(rel + codings[i].ext)
	if err != nil {
		return nil, nil, nil, true
	}
	fi, err = f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, nil, true
	}
	return f, fi, &codings[i], true
}
