package session

import (
	"encoding/binary"
	"errors"
)

// A session's record, as the store (or the sealed cookie) holds it:
//
//	version  1 byte (1)
//	created  8 bytes, Unix seconds, big-endian: the absolute lifetime's start
//	seen     8 bytes, Unix seconds: the last use, for the idle timeout of
//	         cookie-only sessions (a store's TTL slides instead)
//	id       1 byte length (0 or 32), then the ID: cookie-only sessions
//	         only; a store's record never holds its own key
//	csrf     1 byte length (0 or 32), then the CSRF token
//	count    1 byte: the values that follow, at most MaxValues
//	values   per value: 1 byte name length, the name, 2 bytes value
//	         length, the value
//
// Lengths are checked against what is left, so a record that lies about
// them is refused, never read past its end.

const recordVersion = 1

// Limits of a session's values.
const (
	MaxValues    = 32   // values in one session
	MaxNameLen   = 64   // bytes of a value's name
	MaxValueLen  = 1024 // bytes of a value
	tokenLen     = 32   // a session ID, a CSRF token
	fixedRecord  = 1 + 8 + 8
	maxRecordLen = fixedRecord + 2 + 2*tokenLen + 1 + MaxValues*(1+MaxNameLen+2+MaxValueLen)
)

var errRecord = errors.New("session: malformed record")

// record is a session's state.
type record struct {
	created, seen int64
	id            []byte // cookie-only sessions
	csrf          []byte
	values        []value
}

type value struct{ name, value string }

func (rec *record) appendTo(b []byte) []byte {
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(rec.created))
	b = binary.BigEndian.AppendUint64(b, uint64(rec.seen))
	b = append(b, byte(len(rec.id)))
	b = append(b, rec.id...)
	b = append(b, byte(len(rec.csrf)))
	b = append(b, rec.csrf...)
	b = append(b, byte(len(rec.values)))
	for _, v := range rec.values {
		b = append(b, byte(len(v.name)))
		b = append(b, v.name...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v.value)))
		b = append(b, v.value...)
	}
	return b
}

// parseRecord reads a record; its strings are copies, so b may be reused.
func parseRecord(b []byte) (record, error) {
	var rec record
	if len(b) < fixedRecord || b[0] != recordVersion || len(b) > maxRecordLen {
		return rec, errRecord
	}
	rec.created = int64(binary.BigEndian.Uint64(b[1:]))
	rec.seen = int64(binary.BigEndian.Uint64(b[9:]))
	b = b[fixedRecord:]
	token := func() ([]byte, bool) {
		if len(b) < 1 {
			return nil, false
		}
		n := int(b[0])
		if n != 0 && n != tokenLen || len(b) < 1+n {
			return nil, false
		}
		t := b[1 : 1+n : 1+n]
		b = b[1+n:]
		if n == 0 {
			return nil, true
		}
		return append([]byte(nil), t...), true
	}
	var ok bool
	if rec.id, ok = token(); !ok {
		return rec, errRecord
	}
	if rec.csrf, ok = token(); !ok {
		return rec, errRecord
	}
	if len(b) < 1 || int(b[0]) > MaxValues {
		return rec, errRecord
	}
	n := int(b[0])
	b = b[1:]
	if n > 0 {
		rec.values = make([]value, 0, n)
	}
	for range n {
		if len(b) < 1 {
			return rec, errRecord
		}
		nl := int(b[0])
		if nl == 0 || nl > MaxNameLen || len(b) < 1+nl+2 {
			return rec, errRecord
		}
		name := b[1 : 1+nl]
		vl := int(binary.BigEndian.Uint16(b[1+nl:]))
		b = b[1+nl+2:]
		if vl > MaxValueLen || len(b) < vl {
			return rec, errRecord
		}
		rec.values = append(rec.values, value{string(name), string(b[:vl])})
		b = b[vl:]
	}
	if len(b) != 0 {
		return rec, errRecord
	}
	return rec, nil
}
