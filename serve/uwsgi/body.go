package uwsgi

import (
	"errors"
	"io"
	"os"
	"time"

	"gatehouse/web"
)

// bodyReader streams the CONTENT_LENGTH bytes that follow the packet: those
// read with the packet first, then from the connection. It is the
// web.Request's Body.
type bodyReader struct {
	c         *conn
	remaining int64
	err       error // sticky
	active    bool  // false once the handler has returned
}

var (
	errBodyTimeout    = &web.Error{Status: 408, Err: errors.New("request body not received in time")}
	errBodyIncomplete = &web.Error{Status: 400, Err: io.ErrUnexpectedEOF}
	errBodyClosed     = errors.New("serve/uwsgi: body read after the handler returned")
)

func (b *bodyReader) reset(n int64) {
	b.remaining, b.err, b.active = n, nil, true
}

// Read implements io.Reader.
func (b *bodyReader) Read(p []byte) (int, error) {
	switch {
	case !b.active:
		return 0, errBodyClosed
	case b.err != nil:
		return 0, b.err
	case b.remaining == 0:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	c := b.c
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	var n int
	if c.r < c.w {
		n = copy(p, c.rbuf.b[c.r:c.w])
		c.r += n
	} else {
		c.nc.SetReadDeadline(deadline(time.Now(), c.cfg.BodyReadTimeout))
		var err error
		n, err = c.nc.Read(p)
		if n == 0 && err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				b.err = errBodyTimeout
			case err == io.EOF:
				b.err = errBodyIncomplete
			default:
				b.err = err
			}
			return 0, b.err
		}
	}
	b.remaining -= int64(n)
	return n, nil
}
