package fcgi

// Name-value pairs (spec §3.4) carry PARAMS and GET_VALUES(_RESULT): a name
// length, a value length, then the bytes. A length below 128 takes one byte; a
// longer one takes four, the high bit of the first set, leaving 31 bits.

// MaxPairLen is the longest name or value a pair can carry (§3.4: 31 bits).
const MaxPairLen = 1<<31 - 1

// PairLen returns how many bytes AppendPair uses for a name and a value of
// these lengths.
func PairLen(nameLen, valueLen int) int {
	n := nameLen + valueLen + 2
	if nameLen > 127 {
		n += 3
	}
	if valueLen > 127 {
		n += 3
	}
	return n
}

// AppendPair appends one pair. It returns dst unchanged and ErrTooLong when
// name or value is longer than MaxPairLen.
func AppendPair(dst []byte, name, value string) ([]byte, error) {
	if tooLong(len(name)) || tooLong(len(value)) {
		return dst, ErrTooLong
	}
	dst = appendLen(dst, len(name))
	dst = appendLen(dst, len(value))
	dst = append(dst, name...)
	return append(dst, value...), nil
}

func tooLong(n int) bool { return uint64(n) > MaxPairLen }

func appendLen(dst []byte, n int) []byte {
	if n < 128 {
		return append(dst, byte(n))
	}
	return append(dst, byte(n>>24)|0x80, byte(n>>16), byte(n>>8), byte(n))
}

// ParsePair reads the pair at the start of b and returns views of its name
// and value and the bytes it takes. It returns ErrNeedMore when b ends inside
// the pair; at the end of a stream that is ErrPairs.
func ParsePair(b []byte) (name, value []byte, n int, err error) {
	nl, i, ok := readLen(b, 0)
	if !ok {
		return nil, nil, 0, ErrNeedMore
	}
	vl, i, ok := readLen(b, i)
	if !ok {
		return nil, nil, 0, ErrNeedMore
	}
	// Lengths are below 2^31 each, so the sum cannot overflow 64 bits; it may
	// exceed int on 32-bit platforms, so compare before converting.
	if uint64(len(b)-i) < nl+vl {
		return nil, nil, 0, ErrNeedMore
	}
	ne := i + int(nl)
	ve := ne + int(vl)
	return b[i:ne:ne], b[ne:ve:ve], ve, nil
}

// readLen reads a 1- or 4-byte length at b[i:].
func readLen(b []byte, i int) (uint64, int, bool) {
	if i >= len(b) {
		return 0, i, false
	}
	if b[i] < 0x80 {
		return uint64(b[i]), i + 1, true
	}
	if len(b)-i < 4 {
		return 0, i, false
	}
	n := uint64(b[i]&0x7f)<<24 | uint64(b[i+1])<<16 | uint64(b[i+2])<<8 | uint64(b[i+3])
	return n, i + 4, true
}

// Pairs calls yield for every pair in b, a whole PARAMS or GET_VALUES
// content, until yield returns false. It returns ErrPairs when b ends inside
// a pair.
func Pairs(b []byte, yield func(name, value []byte) bool) error {
	for len(b) > 0 {
		name, value, n, err := ParsePair(b)
		if err != nil {
			return ErrPairs
		}
		if !yield(name, value) {
			return nil
		}
		b = b[n:]
	}
	return nil
}
