package uwsgi

import "errors"

// HeaderSize is the size of the packet header: modifier1, datasize, modifier2.
const HeaderSize = 4

// MaxVarsSize is the largest variable block a packet can carry: datasize is a
// 16-bit field.
const MaxVarsSize = 0xffff

// Modifier1 values of the protocol's packet table that gatehouse uses.
const (
	// ModWSGI is a WSGI request: CGI variables, then the body. nginx's
	// uwsgi_modifier1 defaults to it, and any uWSGI language plugin accepts it.
	ModWSGI uint8 = 0
)

// ErrNeedMore reports that the input ends before the packet does. Call again
// with the same bytes plus more.
var ErrNeedMore = errors.New("uwsgi: need more data")

// Error is a protocol error. Status is the HTTP status it is answered with;
// web.StatusOf reads it through HTTPStatus.
type Error struct {
	Status int    // HTTP status code
	Reason string // short lowercase reason, for the log line
}

func (e *Error) Error() string { return "uwsgi: " + e.Reason }

// HTTPStatus reports the response status for e.
func (e *Error) HTTPStatus() int { return e.Status }

// Errors of the encoder and the decoder.
var (
	// ErrVarsTooLarge: the variables exceed the block limit (at most 65535
	// bytes, the datasize field's range). 431: they are the request's header
	// fields plus a few hundred bytes of CGI variables.
	ErrVarsTooLarge = &Error{Status: 431, Reason: "variables over the block size limit"}
	// ErrTooManyVars: more variables than Limits.MaxVars.
	ErrTooManyVars = &Error{Status: 431, Reason: "too many variables"}
	// ErrVar: a variable's lengths run past the end of the block, or the block
	// ends inside a length. The packet's framing cannot be trusted.
	ErrVar = &Error{Status: 400, Reason: "variable overruns the block"}
	// ErrEmptyKey: a variable with an empty name. No gateway sends one, and it
	// could never be looked up.
	ErrEmptyKey = &Error{Status: 400, Reason: "variable with an empty name"}
)

// Header is the 4-byte packet header.
type Header struct {
	Modifier1 uint8
	Size      uint16 // datasize: the size of the variable block that follows
	Modifier2 uint8
}

// AppendHeader appends h in wire order.
func AppendHeader(dst []byte, h Header) []byte {
	return append(dst, h.Modifier1, byte(h.Size), byte(h.Size>>8), h.Modifier2)
}

// ParseHeader reads a header at the start of buf, or returns ErrNeedMore.
func ParseHeader(buf []byte) (Header, error) {
	if len(buf) < HeaderSize {
		return Header{}, ErrNeedMore
	}
	return Header{Modifier1: buf[0], Size: uint16(buf[1]) | uint16(buf[2])<<8, Modifier2: buf[3]}, nil
}

// Builder builds a request packet: the header, then variables added one by
// one. The zero value is not ready: call Reset.
//
// Errors are sticky: once a variable does not fit, Add does nothing more and
// Finish returns the error, so callers can add every variable and check once.
type Builder struct {
	buf   []byte
	start int // offset of the header in buf
	limit int
	err   error
}

// Reset starts a packet appended to dst with the given modifiers. limit bounds
// the variable block in bytes; 0 or anything above MaxVarsSize means
// MaxVarsSize. A smaller limit lets a client refuse what its server would (uWSGI
// drops a block above its --buffer-size, 4096 bytes by default, with nothing
// but a log line on its side).
func (b *Builder) Reset(dst []byte, modifier1, modifier2 uint8, limit int) {
	if limit <= 0 || limit > MaxVarsSize {
		limit = MaxVarsSize
	}
	b.start, b.limit, b.err = len(dst), limit, nil
	b.buf = AppendHeader(dst, Header{Modifier1: modifier1, Modifier2: modifier2})
}

// Add appends one variable. A variable that would take the block past its
// limit is not appended; the builder then holds ErrVarsTooLarge.
func (b *Builder) Add(key, value string) {
	if b.err != nil {
		return
	}
	if key == "" {
		b.err = ErrEmptyKey
		return
	}
	size := len(b.buf) - b.start - HeaderSize
	// Each length is 16 bits too, but a key or value above 65535 bytes cannot
	// fit in a block of at most 65535 either: one check covers all three.
	if 4+len(key)+len(value) > b.limit-size {
		b.err = ErrVarsTooLarge
		return
	}
	b.buf = append(b.buf, byte(len(key)), byte(len(key)>>8))
	b.buf = append(b.buf, key...)
	b.buf = append(b.buf, byte(len(value)), byte(len(value)>>8))
	b.buf = append(b.buf, value...)
}

// Size returns the size of the variable block so far.
func (b *Builder) Size() int { return len(b.buf) - b.start - HeaderSize }

// Err returns the sticky error, if any.
func (b *Builder) Err() error { return b.err }

// Finish writes the block size into the header and returns the buffer given to
// Reset with the packet appended. After an error it returns the error and the
// buffer as it was before Reset: a packet with a missing variable is never
// returned.
func (b *Builder) Finish() ([]byte, error) {
	if b.err != nil {
		return b.buf[:b.start], b.err
	}
	size := len(b.buf) - b.start - HeaderSize
	b.buf[b.start+1], b.buf[b.start+2] = byte(size), byte(size>>8)
	return b.buf, nil
}

// Var is one variable of a packet. Key and Value are views into the parsed buffer.
type Var struct {
	Key, Value []byte
}

// Packet is a parsed request packet. Vars are views into the buffer given to
// Parser.Parse and are valid while it is.
type Packet struct {
	Header
	Vars []Var
	Len  int // HeaderSize + Size: where the body starts
}

// Get returns the value of the first variable named key.
func (p *Packet) Get(key string) ([]byte, bool) {
	for _, v := range p.Vars {
		if string(v.Key) == key {
			return v.Value, true
		}
	}
	return nil, false
}

// Reset clears p for reuse, keeping the capacity of Vars.
func (p *Packet) Reset() {
	clear(p.Vars)
	*p = Packet{Vars: p.Vars[:0]}
}

// Defaults for Limits.
const (
	DefaultMaxVars = 200 // the HTTP server's 100 fields plus the CGI variables, twice over
)

// Limits bound what the parser accepts. A zero field means its default.
type Limits struct {
	// MaxVarsSize bounds the variable block, in bytes. Default and ceiling
	// 65535 (MaxVarsSize). A packet announcing more: 431, refused from its
	// header, before the block is read.
	MaxVarsSize int
	// MaxVars bounds the number of variables. Default 200. More: 431.
	MaxVars int
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxVarsSize <= 0 || l.MaxVarsSize > MaxVarsSize {
		l.MaxVarsSize = MaxVarsSize
	}
	if l.MaxVars <= 0 {
		l.MaxVars = DefaultMaxVars
	}
	return l
}

// Parser parses request packets. The zero value is ready with default limits.
type Parser struct {
	Limits Limits
}

// Parse parses the packet at the start of buf into pkt. It returns the packet
// length (header and variable block; the body follows) once the whole block is
// in buf, or ErrNeedMore; call again with the same bytes plus more. A header
// announcing a block over the limit fails at once, whatever follows. Any other
// error is an *Error: the connection's framing is lost and it must be closed.
//
// Parse does not allocate, except to grow pkt.Vars beyond its capacity.
func (p *Parser) Parse(buf []byte, pkt *Packet) (int, error) {
	pkt.Reset()
	h, err := ParseHeader(buf)
	if err != nil {
		return 0, err
	}
	lim := p.Limits.WithDefaults()
	if int(h.Size) > lim.MaxVarsSize {
		return 0, ErrVarsTooLarge
	}
	end := HeaderSize + int(h.Size)
	if len(buf) < end {
		return 0, ErrNeedMore
	}
	pkt.Header, pkt.Len = h, end
	block := buf[HeaderSize:end]
	for len(block) > 0 {
		key, value, rest, err := nextVar(block)
		if err != nil {
			pkt.Vars = pkt.Vars[:0]
			return 0, err
		}
		if len(pkt.Vars) >= lim.MaxVars {
			pkt.Vars = pkt.Vars[:0]
			return 0, ErrTooManyVars
		}
		pkt.Vars = append(pkt.Vars, Var{Key: key, Value: value})
		block = rest
	}
	return end, nil
}

// nextVar splits the first variable off a block.
func nextVar(b []byte) (key, value, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, nil, ErrVar
	}
	k := int(b[0]) | int(b[1])<<8
	b = b[2:]
	if k == 0 {
		return nil, nil, nil, ErrEmptyKey
	}
	if len(b) < k+2 {
		return nil, nil, nil, ErrVar
	}
	key, b = b[:k:k], b[k:]
	v := int(b[0]) | int(b[1])<<8
	b = b[2:]
	if len(b) < v {
		return nil, nil, nil, ErrVar
	}
	return key, b[:v:v], b[v:], nil
}
