package static

import (
	"io"
	"os"
	"strconv"
	"sync"

	"gatehouse/web"
)

// smallFile is the size up to which a whole file is read and written with the
// head in one write; larger files, and every range, go out by SendFile.
const smallFile = 16 << 10

var smallBufs = sync.Pool{New: func() any { return new([smallFile]byte) }}

// representation is what answers a request for a file: the file itself, or a
// precompressed sidecar of it. Everything a response says about it (validators,
// ranges, lengths) is about this one, the "selected representation" of RFC 9110.
type representation struct {
	f        *os.File
	size     int64
	ctype    string // the original file's media type, whatever the coding
	encoding string // Content-Encoding; "" for the file itself
	val      validators
}

// serveFile answers GET or HEAD for a regular file f, found at rel (for its
// sidecars) and named name (for its media type). The order is RFC 9110's:
// select the representation (§12), evaluate preconditions (§13.2.2), then
// Range (§14.2).
func (h *Handler) serveFile(w web.ResponseWriter, r *web.Request, key []byte, f *os.File, fi os.FileInfo, rel, name string) error {
	now := h.now()
	rep := representation{
		f: f, size: fi.Size(), ctype: ContentType(name),
		val: validators{etag: fileETag(fi, ""), modTime: lastModified(fi, now)},
	}
	if h.cache != nil && !h.cfg.Precompressed {
		h.cache.put(key, rel, f, fi, rep.val, rep.ctype, now)
	}
	vary := false
	if h.cfg.Precompressed && !isSidecarName(name) {
		sf, sfi, c, v := h.sidecar(r, rel)
		vary = v
		if sf != nil {
			defer sf.Close()
			rep = representation{
				f: sf, size: sfi.Size(), ctype: rep.ctype, encoding: c.name,
				val: validators{etag: fileETag(sfi, c.tag), modTime: lastModified(sfi, now)},
			}
		}
	}

	switch evaluatePreconditions(r.Method(), &r.Header, rep.val, now) {
	case preconditionFailed:
		return errPrecondition
	case notModified:
		// §15.4.5: a 304 carries the ETag, Vary and Cache-Control a 200 would
		// have (the server adds Date) and no representation metadata beyond
		// Last-Modified; the server sends no Content-Length with a 304.
		h.setValidators(w.Header(), rep, vary)
		w.WriteHeader(304)
		return nil
	}

	var ranges []byteRange
	// §14.2: "GET is the only method for which range handling is defined"; a
	// server "MUST ignore a Range header field received with a request method"
	// for which it is not, so HEAD gets the 200 head.
	if spec, ok := rangeField(&r.Header); ok && r.Method() == web.MethodGet &&
		ifRangeHolds(&r.Header, rep.val, now) {
		var res rangeResult
		ranges, res = selectRanges(spec, rep.size)
		if res == rangeUnsatisfiable {
			return unsatisfiable(rep.size)
		}
		if len(ranges) > 1 && rep.encoding != "" {
			// A multipart/byteranges body is not itself encoded, so a
			// Content-Encoding beside it would be read as applying to the
			// multipart text, and per-part Content-Encoding is not defined by
			// §14.6. The whole representation (§14.2 allows ignoring Range) is
			// the answer that cannot be misread; resuming clients ask for one
			// range, which is served.
			ranges = nil
		}
	}

	hdr := w.Header()
	h.setValidators(hdr, rep, vary)
	hdr.Set("Accept-Ranges", "bytes") // §14.3
	if rep.encoding != "" {
		hdr.Set("Content-Encoding", rep.encoding)
	}
	switch {
	case len(ranges) == 1:
		rg := ranges[0]
		hdr.Set("Content-Type", rep.ctype)
		hdr.Set("Content-Range", rg.contentRange(rep.size)) // §15.3.7.1: MUST
		hdr.Set("Content-Length", strconv.FormatInt(rg.length, 10))
		w.WriteHeader(206)
		return w.SendFile(rep.f, rg.start, rg.length)
	case len(ranges) > 1:
		return sendMultipart(w, rep.f, ranges, rep.ctype, rep.size)
	}
	hdr.Set("Content-Type", rep.ctype)
	hdr.Set("Content-Length", strconv.FormatInt(rep.size, 10))
	w.WriteHeader(200)
	if r.Method() == web.MethodHead {
		return nil
	}
	return sendWhole(w, rep.f, rep.size)
}

// setValidators sets the fields a 200, 206 and 304 share.
func (h *Handler) setValidators(hdr *web.Header, rep representation, vary bool) {
	hdr.Set("ETag", rep.val.etag)
	hdr.Set("Last-Modified", rep.val.modTime.Format(timeFormat))
	if h.cfg.CacheControl != "" {
		hdr.Set("Cache-Control", h.cfg.CacheControl)
	}
	if vary {
		hdr.Set("Vary", "Accept-Encoding")
	}
}

// sendWhole writes the first size bytes of f. A small file is read into memory
// so that it leaves with the head in one write. Reads are at explicit offsets:
// SendFile may move f's offset or ignore it, so nothing relies on it.
func sendWhole(w web.ResponseWriter, f *os.File, size int64) error {
	if size > smallFile {
		return w.SendFile(f, 0, size)
	}
	buf := smallBufs.Get().(*[smallFile]byte)
	defer smallBufs.Put(buf)
	n, err := f.ReadAt(buf[:size], 0)
	if int64(n) < size {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank after Stat
		}
		return err
	}
	_, err = w.Write(buf[:n])
	return err
}

// unsatisfiable is the 416 error, with Content-Range: bytes */size, which
// §15.5.17 says the server SHOULD send so that the client learns the current
// length.
func unsatisfiable(size int64) error {
	return &web.Error{Status: 416, Headers: [][2]string{{"Content-Range", "bytes */" + strconv.FormatInt(size, 10)}}}
}

// serveEntry answers from the file cache: the whole file (ranges and
// precompressed variants take the full path), after the same preconditions.
func (h *Handler) serveEntry(w web.ResponseWriter, r *web.Request, e *cacheEntry) error {
	if e.f != nil {
		defer e.release() // get acquired it
	}
	hdr := w.Header()
	switch evaluatePreconditions(r.Method(), &r.Header, e.val, h.now()) {
	case preconditionFailed:
		return errPrecondition
	case notModified:
		h.setEntryValidators(hdr, e)
		w.WriteHeader(304)
		return nil
	}
	h.setEntryValidators(hdr, e)
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("Content-Type", e.ctype)
	hdr.Set("Content-Length", e.clen)
	w.WriteHeader(200)
	if r.Method() == web.MethodHead {
		return nil
	}
	if e.data != nil {
		_, err := w.Write(e.data)
		return err
	}
	return w.SendFile(e.f, 0, e.size)
}

func (h *Handler) setEntryValidators(hdr *web.Header, e *cacheEntry) {
	hdr.Set("ETag", e.val.etag)
	hdr.Set("Last-Modified", e.lastMod)
	if h.cfg.CacheControl != "" {
		hdr.Set("Cache-Control", h.cfg.CacheControl)
	}
}
