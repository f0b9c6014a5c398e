package fastcgi

import (
	"errors"
	"fmt"
	"io"

	"gatehouse/internal/spool"
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
// CONTENT_LENGTH bytes of STDIN and nothing without it. (With request
// buffering in front, the default, every body arrives with its length.)
func (h *Handler) body(r *web.Request) (src io.Reader, n int64, cleanup func(), err error) {
	if n := r.ContentLength(); n >= 0 {
		return r.Body(), n, noop, nil
	}
	if h.cfg.MaxSpoolBytes < 0 {
		return nil, 0, noop, errLengthRequired
	}
	b, err := h.spool.Read(r.Body(), h.cfg.MaxSpoolBytes)
	switch {
	case errors.Is(err, spool.ErrTooLarge):
		return nil, 0, noop, tooLarge(h.cfg.MaxSpoolBytes)
	case err != nil:
		var we *web.Error
		if errors.As(err, &we) {
			return nil, 0, noop, err
		}
		return nil, 0, noop, fmt.Errorf("fastcgi: spool request body: %w", err)
	}
	return b, b.Len(), func() { b.Close() }, nil
}

func tooLarge(max int64) error {
	return &web.Error{Status: 413, Err: fmt.Errorf("fastcgi: request body over the spool limit of %d bytes", max)}
}
