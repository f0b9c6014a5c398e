package http1

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// dateCache holds the current IMF-fixdate (RFC 9110 §5.6.7), reformatted once a
// second. Readers copy it without locks or allocation: the 29 bytes live in four
// atomic words guarded by a sequence counter (odd while an update is under way).
type dateCache struct {
	mu  sync.Mutex
	sec atomic.Int64
	seq atomic.Uint64
	w   [4]atomic.Uint64
}

var dates dateCache

const dateLen = len("Mon, 02 Jan 2006 15:04:05 GMT")

// appendTo appends the date for now, in Unix nanoseconds.
func (d *dateCache) appendTo(dst []byte, now int64) []byte {
	if sec := now / 1e9; sec > d.sec.Load() {
		d.update(sec)
	}
	var b [32]byte
	for {
		s := d.seq.Load()
		if s&1 == 0 {
			for i := range d.w {
				binary.LittleEndian.PutUint64(b[i*8:], d.w[i].Load())
			}
			if d.seq.Load() == s {
				return append(dst, b[:dateLen]...)
			}
		}
	}
}

func (d *dateCache) update(sec int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if sec <= d.sec.Load() {
		return
	}
	var b [32]byte
	time.Unix(sec, 0).UTC().AppendFormat(b[:0], "Mon, 02 Jan 2006 15:04:05 GMT")
	d.seq.Add(1)
	for i := range d.w {
		d.w[i].Store(binary.LittleEndian.Uint64(b[i*8:]))
	}
	d.sec.Store(sec)
	d.seq.Add(1)
}
