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
	name  string // the Content-Encoding token
	alias string // another name a client may use for it
	ext   string // the sidecar's suffix
	tag   string // the suffix of the sidecar's ETag
}

// codings, in the order preferred among those a client weighs equally: brotli and
// zstd make smaller text than gzip.
var codings = [...]coding{
	{name: "br", ext: ".br", tag: "br"},
	{name: "zstd", ext: ".zst", tag: "zst"},
	// §8.4.1.3: a recipient "SHOULD consider "x-gzip" to be equivalent to "gzip"".
	{name: "gzip", alias: "x-gzip", ext: ".gz", tag: "gz"},
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

// encodingWeights are the qvalues (§12.4.2) an Accept-Encoding field gives, in
// thousandths, or -1 where it names nothing.
type encodingWeights struct {
	coding   [len(codings)]int
	identity int
	star     int
}

// parseAcceptEncoding reads every Accept-Encoding line of h (§12.5.3):
//
//	Accept-Encoding = #( codings [ weight ] )
//	codings         = content-coding / "identity" / "*"
//	weight          = OWS ";" OWS "q=" qvalue
//
// Coding names are case-insensitive (§8.4.1), aliases count as their coding. An
// element that does
// not parse (a bad qvalue, a parameter other than q) is skipped, so it makes no
// coding acceptable. A coding named twice gets its lower weight: refusing is
// what a client that says both most likely means.
func parseAcceptEncoding(h *web.Header) (w encodingWeights, present bool) {
	w = encodingWeights{identity: -1, star: -1}
	for i := range w.coding {
		w.coding[i] = -1
	}
	for line := range h.Values("Accept-Encoding") {
		present = true
		for elem := range strings.SplitSeq(string(line), ",") {
			name, params, hasParams := strings.Cut(elem, ";")
			name = trimOWS(name)
			if name == "" || !httpspec.IsToken(name) {
				continue
			}
			q := 1000
			if hasParams {
				p := trimOWS(params)
				if len(p) < 2 || !strings.EqualFold(p[:2], "q=") {
					continue
				}
				var ok bool
				if q, ok = parseQValue(p[2:]); !ok {
					continue
				}
			}
			var slot *int
			switch {
			case name == "*":
				slot = &w.star
			case strings.EqualFold(name, "identity"):
				slot = &w.identity
			default:
				for i, c := range codings {
					if strings.EqualFold(name, c.name) || c.alias != "" && strings.EqualFold(name, c.alias) {
						slot = &w.coding[i]
					}
				}
			}
			if slot != nil && (*slot < 0 || q < *slot) {
				*slot = q
			}
		}
	}
	return w, present
}

// parseQValue is httpspec.ParseQValue: the rule lives there, shared with
// middleware/encode.
func parseQValue(s string) (int, bool) { return httpspec.ParseQValue(s) }

// chooseCoding returns the index in codings of the sidecar to send, or -1 for the
// file itself. available marks the sidecars that exist.
//
// Per §12.5.3: a listed coding is acceptable unless its qvalue is 0; "*" gives its
// weight to codings not listed; the acceptable coding with the highest qvalue is
// preferred, ties going to the order of codings. The unencoded file is
// "acceptable by default" and competes only when the client weighs it, by
// "identity" or "*": "br;q=0.5, identity" gets the file itself, "br;q=0.5" the
// brotli sidecar.
//
// Deliberate choices:
//   - No Accept-Encoding field: the file itself. §12.5.3 would allow any coding,
//     but clients that send no field (scripts, curl without --compressed) expect
//     the bytes on disk, and the unencoded file is always a correct answer.
//   - When identity is refused ("identity;q=0", "*;q=0") and no sidecar is
//     acceptable, the file is still sent unencoded rather than 406: §12.5.3 only
//     says the server SHOULD send it unencoded "unless the identity coding is
//     indicated as unacceptable", not what to do then, and a usable answer beats
//     an error page.
func chooseCoding(w encodingWeights, present bool, available [len(codings)]bool) int {
	if !present {
		return -1
	}
	best, bestQ := -1, 0
	for i := range codings {
		q := w.coding[i]
		if q < 0 {
			q = max(w.star, 0)
		}
		if available[i] && q > bestQ {
			best, bestQ = i, q
		}
	}
	if best < 0 {
		return -1
	}
	identity := w.identity
	if identity < 0 {
		identity = w.star
	}
	if identity > bestQ {
		return -1
	}
	return best
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
	weights, present := parseAcceptEncoding(&r.Header)
	i := chooseCoding(weights, present, available)
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
