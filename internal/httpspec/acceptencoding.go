package httpspec

// MaxCodings is how many content codings an AcceptEncoding weighs.
const MaxCodings = 4

// MaxAcceptElements bounds the elements read of Accept-Encoding lines: a
// client has no use for more, and a request with thousands would cost CPU on
// every response. The rest are ignored.
const MaxAcceptElements = 32

// AcceptEncoding is what a request's Accept-Encoding field lines say of the
// content codings a server can send: their qvalues (§12.4.2) in thousandths,
// or -1 where the field names nothing.
type AcceptEncoding struct {
	Coding   [MaxCodings]int // by the codings' index in the names parsed with
	Identity int
	Star     int
	Present  bool // the field is there (an empty one says "no coding")
	elems    int  // elements read so far
}

// NewAcceptEncoding returns the weights of a request without the field.
func NewAcceptEncoding() AcceptEncoding {
	a := AcceptEncoding{Identity: -1, Star: -1}
	for i := range a.Coding {
		a.Coding[i] = -1
	}
	return a
}

// Parse reads one Accept-Encoding field line (RFC 9110 §12.5.3) for the
// codings names (tokens, at most MaxCodings); a request's lines are read one
// after the other, into the same AcceptEncoding:
//
//	Accept-Encoding = #( codings [ weight ] )
//	codings         = content-coding / "identity" / "*"
//	weight          = OWS ";" OWS "q=" qvalue
//
// Names are case-insensitive (§8.4.1), and "x-gzip" is "gzip" (§8.4.1.3). An
// element that does not parse (a bad qvalue, a parameter other than q) is
// skipped, so it makes no coding acceptable; a coding named twice gets its
// lower weight: refusing is what a client that says both most likely means.
// Elements past MaxAcceptElements are ignored. It does not allocate.
func (a *AcceptEncoding) Parse(line []byte, names []string) {
	a.Present = true
	for len(line) > 0 && a.elems < MaxAcceptElements {
		var elem []byte
		elem, line, _ = cut(line, ',')
		name, params, hasParams := cut(elem, ';')
		name = TrimOWS(name)
		if len(name) == 0 {
			continue
		}
		a.elems++
		q := 1000
		if hasParams {
			p := TrimOWS(params)
			if len(p) < 2 || p[0]|0x20 != 'q' || p[1] != '=' {
				continue
			}
			var ok bool
			if q, ok = ParseQValue(p[2:]); !ok {
				continue
			}
		}
		var slot *int
		switch {
		case len(name) == 1 && name[0] == '*':
			slot = &a.Star
		case equalFold(name, "identity"):
			slot = &a.Identity
		default:
			if equalFold(name, "x-gzip") {
				name = name[2:]
			}
			for i, c := range names {
				if equalFold(name, c) {
					slot = &a.Coding[i]
				}
			}
		}
		if slot != nil && (*slot < 0 || q < *slot) {
			*slot = q
		}
	}
}

// ChooseCoding returns the coding to send among order (indexes into the
// names a was parsed with, in the server's order of preference), or false
// for the unencoded representation. Per §12.5.3: a listed coding is
// acceptable unless its qvalue is 0, "*" gives its weight to codings not
// listed, the highest qvalue wins and ties go to the order of preference.
// The unencoded representation competes when the client weighs it
// ("identity", or "*" without it), and wins only with a higher weight.
//
// Deliberate choices: no Accept-Encoding field at all gets the unencoded
// representation (§12.5.3 would allow any coding, but clients that send no
// field, scripts and curl without --compressed, expect the bytes as they
// are); and when identity is refused and no coding is acceptable, the
// unencoded representation all the same rather than 406 (§12.5.3 says only
// that it SHOULD be sent "unless the identity coding is indicated as
// unacceptable", and a usable answer beats an error page).
func ChooseCoding[C ~uint8 | ~int](a *AcceptEncoding, order []C) (C, bool) {
	if !a.Present {
		return 0, false
	}
	var best C
	bestQ := 0
	for _, c := range order {
		q := a.Coding[c]
		if q < 0 {
			q = max(a.Star, 0)
		}
		if q > bestQ {
			best, bestQ = c, q
		}
	}
	if bestQ == 0 {
		return 0, false
	}
	identity := a.Identity
	if identity < 0 {
		identity = a.Star
	}
	if identity > bestQ {
		return 0, false
	}
	return best, true
}

func cut(b []byte, sep byte) (before, after []byte, found bool) {
	for i, c := range b {
		if c == sep {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

// TrimOWS removes optional whitespace (§5.6.3: spaces and tabs) around s.
func TrimOWS[T string | []byte](s T) T {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// equalFold compares b with the lower-case ASCII token s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
