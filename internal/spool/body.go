package spool

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// DefaultMemory is Spooler.Memory's default: nginx's client_body_buffer_size
// on 64-bit systems. Most form posts fit; an upload goes to a file.
const DefaultMemory = 16 << 10

// Spooler reads bodies to their end: the first Memory bytes into a pooled
// buffer, the rest into an unlinked temporary file. Its zero value is ready;
// it must not be copied after first use.
type Spooler struct {
	// Memory is how many bytes of a body stay in memory. Default
	// DefaultMemory.
	Memory int
	// Dir is where the files go. Default "": os.TempDir().
	Dir string
	// Pattern names the files, as os.CreateTemp does. Default
	// "gatehouse-body-*".
	Pattern string

	mem     sync.Pool // *[]byte of cap Memory
	scratch sync.Pool // *[]byte for copying to the file
}

const scratchSize = 32 << 10

// Read reads r to its end, up to max bytes (negative: no limit); more than
// max is ErrTooLarge. r's own errors are returned as they are (they carry
// the status the client gets), and so are the file's, wrapped. The Body must
// be closed.
func (s *Spooler) Read(r io.Reader, max int64) (*Body, error) {
	size := s.Memory
	if size <= 0 {
		size = DefaultMemory
	}
	p, _ := s.mem.Get().(*[]byte)
	if p == nil || cap(*p) != size {
		b := make([]byte, size)
		p = &b
	}
	b := &Body{s: s, buf: p, mem: (*p)[:0]}
	if max < 0 {
		max = 1<<63 - 1
	}
	for {
		if len(b.mem) == cap(b.mem) {
			if err := b.fill(r, max); err != nil {
				b.Close()
				return nil, err
			}
			return b, nil
		}
		n, err := r.Read(b.mem[len(b.mem):cap(b.mem)])
		b.mem = b.mem[:len(b.mem)+n]
		b.size += int64(n)
		if b.size > max {
			b.Close()
			return nil, ErrTooLarge
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			b.Close()
			return nil, err
		}
	}
}

// fill copies the rest of r, after a full memory buffer, to the file, which
// it creates at the first byte: a body of exactly Memory bytes needs none.
func (b *Body) fill(r io.Reader, max int64) error {
	s := b.s
	sp, _ := s.scratch.Get().(*[]byte)
	if sp == nil {
		buf := make([]byte, scratchSize)
		sp = &buf
	}
	defer s.scratch.Put(sp)
	for {
		n, rerr := r.Read(*sp)
		if n > 0 {
			b.size += int64(n)
			if b.size > max {
				return ErrTooLarge
			}
			if b.file == nil {
				if err := b.create(); err != nil {
					return err
				}
			}
			if _, err := b.file.Write((*sp)[:n]); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	if b.file == nil {
		return nil
	}
	if _, err := b.file.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// create makes the body's file, unlinked at once: the space is freed with
// the last descriptor, even if the process dies first.
func (b *Body) create() error {
	pattern := b.s.Pattern
	if pattern == "" {
		pattern = "gatehouse-body-*"
	}
	f, err := os.CreateTemp(b.s.Dir, pattern)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	os.Remove(f.Name())
	b.file = f
	return nil
}

// Body is a body read to its end by a Spooler: its first bytes in memory, the
// rest in an unlinked file. It is an io.Reader from the start of the body.
type Body struct {
	s    *Spooler
	buf  *[]byte // the pooled memory; nil once closed
	mem  []byte  // the body's first bytes
	off  int     // read position in mem
	file *os.File
	size int64
}

// Len returns the body's length.
func (b *Body) Len() int64 { return b.size }

// InMemory reports whether the whole body is in memory.
func (b *Body) InMemory() bool { return b.file == nil }

// Read implements io.Reader.
func (b *Body) Read(p []byte) (int, error) {
	if b.off < len(b.mem) {
		n := copy(p, b.mem[b.off:])
		b.off += n
		return n, nil
	}
	if b.file == nil {
		return 0, io.EOF
	}
	return b.file.Read(p)
}

// WriteTo implements io.WriterTo: the memory, then the file, which io.Copy
// sends by sendfile(2) or splice(2) where the destination allows.
func (b *Body) WriteTo(w io.Writer) (int64, error) {
	var total int64
	if b.off < len(b.mem) {
		n, err := w.Write(b.mem[b.off:])
		b.off += n
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	if b.file == nil {
		return total, nil
	}
	n, err := io.Copy(w, b.file)
	return total + n, err
}

// Rewind moves the read position back to the body's start, so that it can
// be sent again (a proxy's retry on another upstream).
func (b *Body) Rewind() error {
	b.off = 0
	if b.file != nil {
		if _, err := b.file.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}

// Close releases the memory and the file.
func (b *Body) Close() error {
	if b.buf != nil {
		b.s.mem.Put(b.buf)
		b.buf, b.mem, b.off = nil, nil, 0
	}
	if b.file != nil {
		err := b.file.Close()
		b.file = nil
		return err
	}
	return nil
}
