package http1

import (
	"bytes"
	"io"
)

// DefaultMaxChunkExt bounds the chunk extensions of one chunk line, in bytes.
// RFC 9112 §7.1.1 asks servers to cap them; nothing we serve uses them.
const DefaultMaxChunkExt = 4 << 10

const maxChunkSizeDigits = 16 // 16 hex digits fill 64 bits; more is an overflow attempt

// ChunkedDecoder decodes the chunked transfer coding (RFC 9112 §7.1) incrementally.
// The zero value is ready; set Limits and MaxExt before the first call to change the
// bounds. Reset it between messages.
type ChunkedDecoder struct {
	// Limits bound the trailer section (MaxHeaderBytes, MaxFieldBytes, MaxFields).
	Limits Limits
	// MaxExt bounds the extensions of one chunk line in bytes; 0 means DefaultMaxChunkExt.
	MaxExt int

	// Trailers holds the trailer fields once Decode has returned io.EOF. They are
	// copies, owned by the decoder until Reset.
	Trailers []Field

	state        uint8
	remaining    int64 // bytes left in the current chunk's data
	trailerBytes int
}

const (
	ckSize    uint8 = iota // expecting a chunk line
	ckData                 // inside chunk data
	ckDataEnd              // expecting the CRLF after chunk data
	ckTrailer              // expecting trailer fields or the final empty line
	ckDone
)

// Reset prepares d for a new message.
func (d *ChunkedDecoder) Reset() {
	d.state, d.remaining, d.trailerBytes = ckSize, 0, 0
	d.Trailers = d.Trailers[:0]
}

// Pending returns the bytes of the current chunk's data that Decode has not yet
// returned: the declared size, as soon as the chunk line is decoded. 0 between
// chunks. A server compares it with its body limit before the data arrives.
func (d *ChunkedDecoder) Pending() int64 {
	if d.state != ckData {
		return 0
	}
	return d.remaining
}

// Done reports whether the last chunk and the trailer section have been decoded.
func (d *ChunkedDecoder) Done() bool { return d.state == ckDone }

// Decode consumes chunked framing at the start of src and returns the body data it
// finds there. n is the number of bytes of src consumed (framing and data); data is a
// view into src of at most one chunk's bytes and at most limit bytes (a limit below 1 counts as 1). When src ends inside framing, Decode
// returns ErrNeedMore: call again with src[n:] extended by more bytes. After the last
// chunk and the trailer section, it returns io.EOF. Any other error is an *Error.
func (d *ChunkedDecoder) Decode(src []byte, limit int) (n int, data []byte, err error) {
	for {
		switch d.state {
		case ckSize:
			i := bytes.IndexByte(src[n:], '\n')
			if i < 0 {
				// Refuse an over-long line before it ends, so a peer cannot make us
				// buffer it.
				if err := d.checkChunkLine(src[n:]); err != nil {
					return n, nil, err
				}
				return n, nil, ErrNeedMore
			}
			// The same check on a whole line, before its end is looked at: the
			// answer does not depend on where the reads cut it.
			if err := d.checkChunkLine(src[n : n+i]); err != nil {
				return n, nil, err
			}
			if i == 0 || src[n+i-1] != '\r' {
				return n, nil, ErrChunkSize // bare LF, or an empty line where a size belongs
			}
			size, err := parseChunkLine(src[n:n+i-1], d.maxExt())
			if err != nil {
				return n, nil, err
			}
			n += i + 1
			if size == 0 {
				d.state = ckTrailer
			} else {
				d.remaining, d.state = size, ckData
			}
		case ckData:
			avail := int64(len(src) - n)
			if avail == 0 {
				return n, nil, ErrNeedMore
			}
			k := min(avail, d.remaining, int64(max(limit, 1)))
			data = src[n : n+int(k)]
			n += int(k)
			if d.remaining -= k; d.remaining == 0 {
				d.state = ckDataEnd
			}
			return n, data, nil
		case ckDataEnd:
			// RFC 9112 §7.1: chunk data is followed by CRLF, exactly; anything else
			// ("5\r\nhelloXX") is the funky-chunks smuggling family.
			rest := src[n:]
			if len(rest) < 2 {
				if len(rest) == 1 && rest[0] != '\r' {
					return n, nil, ErrChunkData
				}
				return n, nil, ErrNeedMore
			}
			if rest[0] != '\r' || rest[1] != '\n' {
				return n, nil, ErrChunkData
			}
			n += 2
			d.state = ckSize
		case ckTrailer:
			lim := d.Limits.WithDefaults()
			i := bytes.IndexByte(src[n:], '\n')
			if i < 0 {
				i = len(src) - n
			}
			// Over-long before its end is looked at, ended or not (+1: a CR
			// may end it).
			if i > lim.MaxFieldBytes+1 {
				return n, nil, ErrTrailerTooLarge
			}
			if n+i == len(src) {
				return n, nil, ErrNeedMore
			}
			line := src[n : n+i]
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			d.trailerBytes += i + 1
			if len(line) > lim.MaxFieldBytes || d.trailerBytes > lim.MaxHeaderBytes {
				return n, nil, ErrTrailerTooLarge
			}
			if i == 0 || src[n+i-1] != '\r' {
				return n, nil, ErrBareLF
			}
			n += i + 1
			if len(line) == 0 {
				d.state = ckDone
				return n, nil, io.EOF
			}
			if len(d.Trailers) >= lim.MaxFields {
				return n, nil, ErrTrailerTooLarge
			}
			name, value, err := parseFieldLine(line, len(d.Trailers) == 0)
			if err == ErrLeadingSpace {
				err = ErrObsFold
			}
			if err != nil {
				return n, nil, err
			}
			reject, drop := trailerPolicy(name)
			if reject {
				return n, nil, ErrTrailerField
			}
			if drop {
				continue
			}
			d.Trailers = append(d.Trailers, Field{
				Name:  append([]byte(nil), name...),
				Value: append([]byte(nil), value...),
			})
		case ckDone:
			return n, nil, io.EOF
		}
	}
}

// checkChunkLine applies the size limits to the bytes of a chunk line so far, its
// LF excluded: at most 16 size digits, then at most maxExt bytes of extensions
// (+1: a CR may end the line).
func (d *ChunkedDecoder) checkChunkLine(b []byte) error {
	k := 0
	for k < len(b) && k <= maxChunkSizeDigits && class[b[k]]&cHex != 0 {
		k++
	}
	if k > maxChunkSizeDigits {
		return ErrChunkSize
	}
	if len(b)-k > d.maxExt()+1 {
		return ErrChunkExtTooLong
	}
	return nil
}

func (d *ChunkedDecoder) maxExt() int {
	if d.MaxExt > 0 {
		return d.MaxExt
	}
	return DefaultMaxChunkExt
}

// parseChunkLine parses chunk-size [ chunk-ext ] without the CRLF:
//
//	chunk-size = 1*HEXDIG
//	chunk-ext  = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-val = token / quoted-string
func parseChunkLine(line []byte, maxExt int) (int64, error) {
	i := 0
	var size int64
	for i < len(line) && class[line[i]]&cHex != 0 {
		if i == maxChunkSizeDigits {
			return 0, ErrChunkSize
		}
		size = size<<4 | int64(unhex(line[i]))
		i++
	}
	if i == 0 || size < 0 { // size < 0: the 16th digit set the sign bit
		return 0, ErrChunkSize
	}
	ext := line[i:]
	if len(ext) == 0 {
		return size, nil
	}
	if len(ext) > maxExt {
		return 0, ErrChunkExtTooLong
	}
	if err := checkChunkExt(ext); err != nil {
		return 0, err
	}
	return size, nil
}

func checkChunkExt(ext []byte) error {
	i := 0
	skipBWS := func() {
		for i < len(ext) && isOWS(ext[i]) {
			i++
		}
	}
	for i < len(ext) {
		begin := i
		skipBWS()
		if i == len(ext) || ext[i] != ';' {
			if begin == 0 {
				// Right after the digits: "0 ", "6_0", "5\r".
				return ErrChunkSize
			}
			return ErrChunkExt
		}
		i++
		skipBWS()
		start := i
		for i < len(ext) && class[ext[i]]&cToken != 0 {
			i++
		}
		if i == start {
			return ErrChunkExt // no name after ';'
		}
		afterName := i
		skipBWS()
		if i == len(ext) || ext[i] != '=' {
			i = afterName // whitespace belongs to the next ';' or is trailing (an error)
			continue
		}
		i++
		skipBWS()
		if i < len(ext) && ext[i] == '"' {
			if i = quotedStringEnd(ext, i); i < 0 {
				return ErrChunkExt
			}
			continue
		}
		start = i
		for i < len(ext) && class[ext[i]]&cToken != 0 {
			i++
		}
		if i == start {
			return ErrChunkExt
		}
	}
	return nil
}

// quotedStringEnd returns the offset just past the quoted-string starting at b[i]
// (RFC 9110 §5.6.4), or -1 if it is malformed or unterminated.
func quotedStringEnd(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i == len(b) || class[b[i]]&cValue == 0 {
				return -1
			}
		case class[c]&cValue == 0:
			return -1
		}
	}
	return -1
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// trailerPolicy says what to do with a trailer field (RFC 9110 §6.5.1). Fields that
// would change framing, routing, authentication or the connection are refused with
// 400: no layer above can then be tricked into merging one. Other fields a trailer
// must not carry (request modifiers, content metadata) are dropped: they are harmless
// once ignored, and clients do send them (gunicorn corpus valid/012).
func trailerPolicy(name []byte) (reject, drop bool) {
	switch len(name) {
	case 2:
		return false, EqualFold(name, "te")
	case 4:
		return EqualFold(name, "host"), false
	case 5:
		return false, EqualFold(name, "range")
	case 6:
		return EqualFold(name, "cookie"), EqualFold(name, "expect") || EqualFold(name, "pragma")
	case 7:
		return EqualFold(name, "trailer") || EqualFold(name, "upgrade"), false
	case 8:
		return false, EqualFold(name, "if-match") || EqualFold(name, "if-range")
	case 10:
		return EqualFold(name, "connection") || EqualFold(name, "keep-alive"), false
	case 12:
		return false, EqualFold(name, "content-type") || EqualFold(name, "max-forwards")
	case 13:
		return EqualFold(name, "authorization"), EqualFold(name, "content-range") ||
			EqualFold(name, "if-none-match") || EqualFold(name, "cache-control")
	case 14:
		return EqualFold(name, "content-length"), false
	case 16:
		return false, EqualFold(name, "content-encoding")
	case 17:
		return EqualFold(name, "transfer-encoding"), EqualFold(name, "if-modified-since")
	case 19:
		return EqualFold(name, "proxy-authorization"), EqualFold(name, "if-unmodified-since")
	}
	return false, false
}
