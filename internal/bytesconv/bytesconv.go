// Package bytesconv converts between string and []byte without copying. Both
// directions are unsafe in the general case; each caller states why its use is not.
package bytesconv

import "unsafe"

// String views b as a string. The string must not outlive b or be kept (as a map
// key, say), and b must not change while the string is in use.
func String(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Bytes views s as a byte slice. The slice must never be written to.
func Bytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
