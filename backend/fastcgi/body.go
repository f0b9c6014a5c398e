package fastcgi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"gatehouse/web"
)

// spoolMem is how much of a spooled body stays in memory; beyond it the body
// goes to a file.
const spoolMem = 64 << 10

var errLengthRequired = &web.Error{Status: 411, Err: errors.New("fastcgi: request body of unknown length refused")}

func noop() {}

// body returns the request body and its length. A body of known length is
// streamed as it is read. A body of unknown length (chunked) is spooled
// first, as nginx does: FastCGI applications, PHP above all, read
// CONTENT_LENGTH bytes of STDIN and nothing without it.
func (h *Handler) body(r *web.Request) (src io.Reader, n int64, cleanup func(), err error) {
	if n := r.ContentLength(); n >= 0 {
		return r.Body(), n, noop, nil
	}
	if h.cfg.MaxSpoolBytes < 0 {
		return nil, 0, noop, errLengthRequired
	}
	max := h.cfg.MaxSpoolBytes
	mem := make([]byte, 0, min(spoolMem, max+1))
	for len(mem) < cap(mem) {
		k, err := r.Body().Read(mem[len(mem):cap(mem)])
		mem = mem[:len(mem)+k]
		if err == io.EOF {
			if int64(len(mem)) > max {
				return nil, 0, noop, tooLarge(max)
			}
			return bytes.NewReader(mem), int64(len(mem)), noop, nil
		}
		if err != nil {
			return nil, 0, noop, bodyError(err)
		}
	}
	if int64(len(mem)) > max {
		return nil, 0, noop, tooLarge(max)
	}
	f, err := os.CreateTemp(h.cfg.SpoolDir, "gatehouse-body-*")
	if err != nil {
		return nil, 0, noop, fmt.Errorf("fastcgi: spool request body: %w", err)
	}
	// Unlinked at once: the space is freed when f closes, even if the
	// process dies first.
	os.Remove(f.Name())
	cleanup = func() { f.Close() }
	if _, err := f.Write(mem); err != nil {
		cleanup()
		return nil, 0, noop, fmt.Errorf("fastcgi: spool request body: %w", err)
	}
	copied, err := io.Copy(f, io.LimitReader(r.Body(), max-int64(len(mem))+1))
	total := int64(len(mem)) + copied
	switch {
	case err != nil:
		cleanup()
		var we *web.Error
		if errors.As(err, &we) {
			return nil, 0, noop, err
		}
		return nil, 0, noop, fmt.Errorf("fastcgi: spool request body: %w", err)
	case total > max:
		cleanup()
		return nil, 0, noop, tooLarge(max)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		cleanup()
		return nil, 0, noop, err
	}
	return f, total, cleanup, nil
}

func tooLarge(max int64) error {
	return &web.Error{Status: 413, Err: fmt.Errorf("fastcgi: request body over the spool limit of %d bytes", max)}
}
