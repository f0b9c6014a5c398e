package http1

import "sync"

// inlineSize is the read buffer every connection carries; see conn.inline.
const inlineSize = 1 << 10

// bufSize is the size of pooled read and write buffers. A typical request head and
// a small response fit; larger heads grow a private buffer.
const bufSize = 4 << 10

// buffer wraps a byte slice so the pool stores a pointer (no allocation on Put).
type buffer struct{ b []byte }

var bufPool = sync.Pool{New: func() any { return &buffer{b: make([]byte, bufSize)} }}

func getBuf() *buffer { return bufPool.Get().(*buffer) }

// putBuf returns b to the pool. Only standard-size buffers are pooled; a grown
// buffer is left to the garbage collector.
func putBuf(b *buffer) {
	if b != nil && len(b.b) == bufSize {
		bufPool.Put(b)
	}
}
