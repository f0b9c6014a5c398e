package web

import "iter"

// Field is one header field. Name and Value are views; see Header.
type Field struct {
	Name, Value []byte
}

// Header is an ordered list of fields, looked up by case-insensitive name.
//
// A request's Header is a view into the connection buffer, valid until ServeHTTP
// returns. A response's Header owns its bytes: Set and Add copy into storage the
// writer reuses between requests, so building a response header does not allocate
// in steady state.
type Header struct {
	fields []Field
	arena  []byte
}

// Len returns the number of fields.
func (h *Header) Len() int { return len(h.fields) }

// At returns field i (0 <= i < Len).
func (h *Header) At(i int) Field { return h.fields[i] }

// All iterates over the fields in order.
func (h *Header) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		for _, f := range h.fields {
			if !yield(f.Name, f.Value) {
				return
			}
		}
	}
}

// Peek returns the value of the first field named name, or nil. The result is a view.
func (h *Header) Peek(name string) []byte {
	for i := range h.fields {
		if equalFold(h.fields[i].Name, name) {
			return h.fields[i].Value
		}
	}
	return nil
}

// Get returns the value of the first field named name as a string ("" if absent).
// It allocates; Peek does not.
func (h *Header) Get(name string) string {
	return string(h.Peek(name))
}

// Has reports whether a field named name is present.
func (h *Header) Has(name string) bool {
	for i := range h.fields {
		if equalFold(h.fields[i].Name, name) {
			return true
		}
	}
	return false
}

// Values iterates over the values of every field named name, in order.
func (h *Header) Values(name string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for _, f := range h.fields {
			if equalFold(f.Name, name) && !yield(f.Value) {
				return
			}
		}
	}
}

// Add appends a field, copying name and value.
func (h *Header) Add(name, value string) {
	start := len(h.arena)
	h.arena = append(h.arena, name...)
	h.arena = append(h.arena, value...)
	// Slices into the arena stay valid when it grows: growth copies, and the old
	// backing array, which earlier fields point into, is never written again.
	n := h.arena[start : start+len(name) : start+len(name)]
	v := h.arena[start+len(name) : len(h.arena) : len(h.arena)]
	h.fields = append(h.fields, Field{Name: n, Value: v})
}

// AddBytes is Add for byte slices.
func (h *Header) AddBytes(name, value []byte) {
	h.Add(b2s(name), b2s(value))
}

// Set replaces every field named name with one field.
func (h *Header) Set(name, value string) {
	h.Del(name)
	h.Add(name, value)
}

// Del removes every field named name.
func (h *Header) Del(name string) {
	out := h.fields[:0]
	for _, f := range h.fields {
		if !equalFold(f.Name, name) {
			out = append(out, f)
		}
	}
	clear(h.fields[len(out):])
	h.fields = out
}

// Reset removes every field, keeping storage for reuse.
func (h *Header) Reset() {
	clear(h.fields)
	h.fields = h.fields[:0]
	h.arena = h.arena[:0]
}

// AppendView appends a field without copying: name and value must stay valid as
// long as the header is used. Protocol servers use it to expose request fields.
func (h *Header) AppendView(name, value []byte) {
	h.fields = append(h.fields, Field{Name: name, Value: value})
}

// Clone returns a deep copy that owns its bytes.
func (h *Header) Clone() Header {
	var c Header
	for _, f := range h.fields {
		c.AddBytes(f.Name, f.Value)
	}
	return c
}

// equalFold compares b with s ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}
