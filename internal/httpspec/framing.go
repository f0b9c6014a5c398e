package httpspec

import "strings"

// framingFields frame a message or belong to one connection: only the
// server that sends a message may set them. A rule or an option that
// changed one would let a client, the server and a backend disagree on
// where a message ends, which is how requests are smuggled.
var framingFields = []string{"content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade"}

// IsFramingField reports whether name (in any case) is one of them.
func IsFramingField(name string) bool {
	for _, f := range framingFields {
		if strings.EqualFold(name, f) {
			return true
		}
	}
	return false
}
