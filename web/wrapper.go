package web

// WriterWrapper forwards every ResponseWriter method to the writer it holds.
// A middleware that changes part of a response embeds it and writes only the
// methods it changes; the others, and any method ResponseWriter gains later,
// pass through without a line of forwarding (see the example).
//
// A response starts at the first WriteHeader, Write, WriteString, Flush or
// SendFile, so a wrapper that must see the head before it goes out overrides
// all five. A writer that changes what the body means (buffers it, drops it,
// counts it itself) should implement every method instead, as
// middleware/buffer's does: a method added to the interface is then a compile
// error there, not a silent pass-through around its state.
//
// There is no Unwrap: every capability is a method, so nothing needs to look
// beneath a wrapper, and what lies beneath may not be safe to use directly
// (a buffered response's writer belongs to its drainer once that runs).
type WriterWrapper struct {
	ResponseWriter
}

var _ ResponseWriter = WriterWrapper{}
