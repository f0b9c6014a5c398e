package fcgi

// Writers append records to a buffer; the caller writes the buffer to the
// connection. Every record is padded to a multiple of 8 bytes, as §3.3
// recommends ("for more efficient processing").

var zeros [8]byte

// Padding returns the padding that brings a record with n content bytes to a
// multiple of 8 bytes.
func Padding(n int) int { return -n & 7 }

// AppendHeader appends the header of a record of type t for request id with
// n content bytes (n <= MaxContent) and the padding Padding(n) gives. The
// caller appends the content, then Padding(n) bytes (AppendPadding).
func AppendHeader(dst []byte, t Type, id uint16, n int) []byte {
	return Header{Version: Version1, Type: t, RequestID: id, ContentLength: uint16(n), PaddingLength: uint8(Padding(n))}.Append(dst)
}

// AppendPadding appends the padding for a record with n content bytes.
func AppendPadding(dst []byte, n int) []byte { return append(dst, zeros[:Padding(n)]...) }

// AppendRecord appends content as records of type t, split into records of at
// most MaxContent bytes. Empty content appends one empty record, which for a
// stream type ends the stream (§3.3); a non-empty content does not, so a
// stream written in several calls ends with a call with no content.
func AppendRecord(dst []byte, t Type, id uint16, content []byte) []byte {
	for {
		n := min(len(content), MaxContent)
		dst = AppendHeader(dst, t, id, n)
		dst = append(dst, content[:n]...)
		dst = AppendPadding(dst, n)
		content = content[n:]
		if len(content) == 0 {
			return dst
		}
	}
}

// AppendBeginRequest appends a BEGIN_REQUEST record (§5.1) for role with
// flags (FlagKeepConn or 0).
func AppendBeginRequest(dst []byte, id uint16, role uint16, flags uint8) []byte {
	dst = AppendHeader(dst, TypeBeginRequest, id, 8)
	return append(dst, byte(role>>8), byte(role), flags, 0, 0, 0, 0, 0)
}

// AppendAbortRequest appends an ABORT_REQUEST record (§5.4).
func AppendAbortRequest(dst []byte, id uint16) []byte {
	return AppendHeader(dst, TypeAbortRequest, id, 0)
}

// AppendEndRequest appends an END_REQUEST record (§5.5).
func AppendEndRequest(dst []byte, id uint16, appStatus uint32, protocolStatus uint8) []byte {
	dst = AppendHeader(dst, TypeEndRequest, id, 8)
	return append(dst, byte(appStatus>>24), byte(appStatus>>16), byte(appStatus>>8), byte(appStatus),
		protocolStatus, 0, 0, 0)
}

// AppendUnknownType appends an UNKNOWN_TYPE record (§4.2) naming t.
func AppendUnknownType(dst []byte, t Type) []byte {
	dst = AppendHeader(dst, TypeUnknownType, NullRequestID, 8)
	return append(dst, byte(t), 0, 0, 0, 0, 0, 0, 0)
}

// AppendGetValues appends a GET_VALUES record (§4.1) asking for names, each
// with an empty value. The names must fit one record (they are a few short
// constants such as VarMaxConns).
func AppendGetValues(dst []byte, names ...string) []byte {
	var content []byte
	for _, n := range names {
		content, _ = AppendPair(content, n, "")
	}
	return AppendRecord(dst, TypeGetValues, NullRequestID, content)
}

// EndRequest is the body of an END_REQUEST record (§5.5).
type EndRequest struct {
	AppStatus      uint32
	ProtocolStatus uint8
}

// ParseEndRequest reads an END_REQUEST body, the whole content of the record.
func ParseEndRequest(content []byte) (EndRequest, error) {
	if len(content) < 8 {
		return EndRequest{}, newError("short END_REQUEST body")
	}
	return EndRequest{
		AppStatus:      uint32(content[0])<<24 | uint32(content[1])<<16 | uint32(content[2])<<8 | uint32(content[3]),
		ProtocolStatus: content[4],
	}, nil
}

// BeginRequest is the body of a BEGIN_REQUEST record (§5.1).
type BeginRequest struct {
	Role  uint16
	Flags uint8
}

// ParseBeginRequest reads a BEGIN_REQUEST body, the whole content of the record.
func ParseBeginRequest(content []byte) (BeginRequest, error) {
	if len(content) < 8 {
		return BeginRequest{}, newError("short BEGIN_REQUEST body")
	}
	return BeginRequest{Role: uint16(content[0])<<8 | uint16(content[1]), Flags: content[2]}, nil
}
