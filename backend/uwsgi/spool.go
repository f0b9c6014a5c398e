package uwsgi

import (
	"errors"
	"io"
	"os"

	ispool "gatehouse/internal/spool"
	"gatehouse/web"
)

var errSpoolTooLarge = &web.Error{Status: 413, Err: errors.New("uwsgi: request body over the spool limit")}

// spool copies a body of unknown length (a chunked request) to an unlinked
// temporary file in dir, up to max bytes, and returns the file rewound and
// the body's length. A WSGI application reads CONTENT_LENGTH bytes of
// wsgi.input (PEP 3333, RFC 3875 §4.1.2), and uWSGI passes on no more, so the
// length must be known before the request is sent; the body is then sent
// from the file.
func spool(body io.Reader, dir string, max int64) (*os.File, int64, error) {
	f, n, err := ispool.ToFile(body, dir, "gatehouse-uwsgi-body-*", max)
	if errors.Is(err, ispool.ErrTooLarge) {
		err = errSpoolTooLarge
	}
	return f, n, err
}
