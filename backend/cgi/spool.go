package cgi

import (
	"errors"
	"io"
	"os"

	ispool "gatehouse/internal/spool"
	"gatehouse/web"
)

var errSpoolTooLarge = &web.Error{Status: 413, Err: errors.New("cgi: request body over the spool limit")}

// spool copies a body of unknown length (a chunked request) to an unlinked
// temporary file in dir, up to max bytes, and returns the file rewound and
// the body's length. RFC 3875 §4.1.2 gives a script its body's length only
// as CONTENT_LENGTH, so the length must be known before the script starts.
// The file is the script's stdin: it reads the body straight from the disk.
func spool(body io.Reader, dir string, max int64) (*os.File, int64, error) {
	f, n, err := ispool.ToFile(body, dir, "gatehouse-cgi-body-*", max)
	if errors.Is(err, ispool.ErrTooLarge) {
		err = errSpoolTooLarge
	}
	return f, n, err
}
