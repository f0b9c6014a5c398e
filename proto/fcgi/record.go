package fcgi

import (
	"encoding/binary"
	"strconv"
)

// Type is a record type (spec §8, "FCGI_BEGIN_REQUEST" and so on).
type Type uint8

// Record types, spec §8.
const (
	TypeBeginRequest    Type = 1
	TypeAbortRequest    Type = 2
	TypeEndRequest      Type = 3
	TypeParams          Type = 4
	TypeStdin           Type = 5
	TypeStdout          Type = 6
	TypeStderr          Type = 7
	TypeData            Type = 8
	TypeGetValues       Type = 9
	TypeGetValuesResult Type = 10
	TypeUnknownType     Type = 11
)

var typeNames = [...]string{
	TypeBeginRequest: "BEGIN_REQUEST", TypeAbortRequest: "ABORT_REQUEST", TypeEndRequest: "END_REQUEST",
	TypeParams: "PARAMS", TypeStdin: "STDIN", TypeStdout: "STDOUT", TypeStderr: "STDERR", TypeData: "DATA",
	TypeGetValues: "GET_VALUES", TypeGetValuesResult: "GET_VALUES_RESULT", TypeUnknownType: "UNKNOWN_TYPE",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "type " + strconv.Itoa(int(t))
}

// Stream reports whether records of type t carry a stream, ended by a record
// with no content (§3.3): PARAMS, STDIN, STDOUT, STDERR and DATA.
func (t Type) Stream() bool { return t >= TypeParams && t <= TypeData }

// Framing constants, spec §8.
const (
	HeaderLen     = 8     // FCGI_HEADER_LEN
	Version1      = 1     // FCGI_VERSION_1
	MaxContent    = 65535 // contentLength is 16 bits (§3.3)
	MaxPadding    = 255   // paddingLength is 8 bits (§3.3)
	NullRequestID = 0     // FCGI_NULL_REQUEST_ID: management records (§3.3)
)

// FlagKeepConn is the FCGI_KEEP_CONN flag of a BEGIN_REQUEST body (§5.1): the
// application must not close the connection after the request.
const FlagKeepConn = 1

// Roles, spec §6.
const (
	RoleResponder  = 1
	RoleAuthorizer = 2
	RoleFilter     = 3
)

// Protocol status of an END_REQUEST body, spec §5.5.
const (
	StatusRequestComplete = 0 // FCGI_REQUEST_COMPLETE
	StatusCantMpxConn     = 1 // FCGI_CANT_MPX_CONN: one request per connection
	StatusOverloaded      = 2 // FCGI_OVERLOADED: out of some resource
	StatusUnknownRole     = 3 // FCGI_UNKNOWN_ROLE
)

// Variable names of GET_VALUES (§4.1).
const (
	VarMaxConns  = "FCGI_MAX_CONNS"
	VarMaxReqs   = "FCGI_MAX_REQS"
	VarMpxsConns = "FCGI_MPXS_CONNS"
)

// Header is a record header (FCGI_Header, §3.3).
type Header struct {
	Version       uint8
	Type          Type
	RequestID     uint16
	ContentLength uint16
	PaddingLength uint8
}

// ParseHeader reads the 8-byte header at the start of b. It returns
// ErrNeedMore when b is shorter, ErrVersion for a version other than 1.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, ErrNeedMore
	}
	h := Header{
		Version:       b[0],
		Type:          Type(b[1]),
		RequestID:     binary.BigEndian.Uint16(b[2:4]),
		ContentLength: binary.BigEndian.Uint16(b[4:6]),
		PaddingLength: b[6],
		// b[7] is reserved.
	}
	if h.Version != Version1 {
		return Header{}, ErrVersion
	}
	return h, nil
}

// Append appends the 8 header bytes.
func (h Header) Append(dst []byte) []byte {
	return append(dst, h.Version, byte(h.Type), byte(h.RequestID>>8), byte(h.RequestID),
		byte(h.ContentLength>>8), byte(h.ContentLength), h.PaddingLength, 0)
}

// Fragment is part or all of one record's content.
type Fragment struct {
	Type      Type
	RequestID uint16
	// Content is a view into the input given to Parser.Next.
	Content []byte
	Start   bool // the first fragment of its record
	End     bool // the last fragment of its record: its content is complete
}

// EndOfStream reports whether f is a whole empty stream record, which ends
// its stream (§3.3).
func (f Fragment) EndOfStream() bool {
	return f.Type.Stream() && f.Start && f.End && len(f.Content) == 0
}

// Parser splits a FastCGI byte stream into records. The zero value is ready;
// it keeps the position inside the current record between calls, so it reads
// one connection's stream from start to end.
type Parser struct {
	h       Header
	in      bool // after a header, before the end of its content
	started bool // a fragment of the current record was handed out
	left    int  // content bytes of the current record still to come
	pad     int  // padding bytes still to skip
}

// Reset prepares p for a new stream.
func (p *Parser) Reset() { *p = Parser{} }

// Next reads the next fragment from b and returns it with the number of bytes
// of b it consumed. Those bytes are consumed even when err is ErrNeedMore
// (the header, or padding, of a record whose content has not come yet): call
// again with b[n:] and more.
//
// A stream record's content is handed out as it arrives, in as many fragments
// as the calls see pieces of it; a record with no content is one fragment
// with Start and End set. The content of any other record is handed out whole
// (ErrNeedMore until it is all in b), so b must be able to hold 65535 bytes
// for a reader that expects such records to be that large.
func (p *Parser) Next(b []byte) (Fragment, int, error) {
	n := 0
	if !p.in {
		if p.pad > 0 {
			k := min(p.pad, len(b))
			n += k
			p.pad -= k
			if p.pad > 0 {
				return Fragment{}, n, ErrNeedMore
			}
		}
		h, err := ParseHeader(b[n:])
		if err != nil {
			return Fragment{}, n, err
		}
		n += HeaderLen
		p.h, p.in, p.started = h, true, false
		p.left, p.pad = int(h.ContentLength), int(h.PaddingLength)
	}
	f := Fragment{Type: p.h.Type, RequestID: p.h.RequestID, Start: !p.started}
	rest := b[n:]
	switch {
	case p.left == 0:
	case !p.h.Type.Stream():
		if len(rest) < p.left {
			return Fragment{}, n, ErrNeedMore
		}
		f.Content = rest[:p.left:p.left]
	case len(rest) == 0:
		return Fragment{}, n, ErrNeedMore
	default:
		k := min(len(rest), p.left)
		f.Content = rest[:k:k]
	}
	n += len(f.Content)
	p.left -= len(f.Content)
	p.started = true
	if p.left == 0 {
		f.End, p.in = true, false
	}
	return f, n, nil
}

// Boundary reports whether p is between records: after the last record's
// padding, before the next header.
func (p *Parser) Boundary() bool { return !p.in && p.pad == 0 }
