// Package logfile is a log file that can be reopened: logrotate renames the
// file, then signals the server (SIGUSR1, as for nginx), which opens a new
// file under the old name and closes the renamed one. Writes never see a
// closed file: the new one is opened first, then swapped in under the lock
// writes hold.
package logfile

import (
	"os"
	"sync"
)

// File appends to the file at its path. It is safe for concurrent use.
type File struct {
	path string
	mode os.FileMode
	mu   sync.Mutex
	f    *os.File
}

// Open opens path for appending, creating it with mode if needed.
func Open(path string, mode os.FileMode) (*File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, mode)
	if err != nil {
		return nil, err
	}
	return &File{path: path, mode: mode, f: f}, nil
}

// Path returns the file's path.
func (l *File) Path() string { return l.path }

// Write appends p.
func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the path again and writes there from now on; the file open
// until now (renamed by logrotate, or the same) is closed. If the path
// cannot be opened, writes go on to the old file and the error says why.
func (l *File) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, l.mode)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Close closes the file.
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
