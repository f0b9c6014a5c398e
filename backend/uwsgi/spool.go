package uwsgi

import (
	"errors"
	"io"
	"os"

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
	f, err := os.CreateTemp(dir, "gatehouse-uwsgi-body-*")
	if err != nil {
		return nil, 0, err
	}
	os.Remove(f.Name()) // unlinked: it goes away with its last descriptor
	n, err := io.Copy(f, io.LimitReader(body, max+1))
	if err == nil && n > max {
		err = errSpoolTooLarge
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, n, nil
}
