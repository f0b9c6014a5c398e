// Package spool reads request bodies to their end before a backend sees them:
// Spooler keeps a body's first bytes in memory and the rest in an unlinked
// temporary file (request buffering, so that a slow client never holds an
// application worker), and ToFile writes a body of unknown length to a file,
// for the gateways that must send a length before the body (CGI's and uwsgi's
// CONTENT_LENGTH).
package spool

import (
	"errors"
	"io"
	"os"
)

// ErrTooLarge: the body had more than the allowed bytes.
var ErrTooLarge = errors.New("spool: request body over the limit")

// ToFile copies body to a new file in dir (os.TempDir() when empty), named
// from pattern as os.CreateTemp names it and unlinked at once, so it goes
// away with its last descriptor. It reads at most max+1 bytes: more than max
// is ErrTooLarge. It returns the file rewound and the body's length.
func ToFile(body io.Reader, dir, pattern string, max int64) (*os.File, int64, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, 0, err
	}
	os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(body, max+1))
	if err == nil && n > max {
		err = ErrTooLarge
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
