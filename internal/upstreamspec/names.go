package upstreamspec

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Policies are the balancing policies by the names the configuration gives
// them; the first is the default.
var Policies = []string{"round_robin", "least_conn", "ip_hash", "first", "random", "random_two"}

// IsPolicy reports whether name is one of Policies.
func IsPolicy(name string) bool { return slices.Contains(Policies, name) }

// CheckKinds are the kinds of active health check: "http" asks for a path
// and looks at the answer, "tcp" connects (and may send and expect bytes).
var CheckKinds = []string{"http", "tcp"}

// IsCheckKind reports whether kind is one of CheckKinds.
func IsCheckKind(kind string) bool { return slices.Contains(CheckKinds, kind) }

// ValidPath reports whether s can be an HTTP health check's request target,
// sent as it is: origin-form, starting with "/", without spaces, control
// bytes or bytes above 0x7e (RFC 9112 §3.2.1; RFC 3986 has them
// percent-encoded), so that it can never end the request line early.
func ValidPath(s string) bool {
	if !strings.HasPrefix(s, "/") {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// MaxWeight bounds an address's weight. A weight says how many requests an
// address takes for one to an address of weight 1; beyond a thousand, the
// others take almost nothing and an address would be better left out.
const MaxWeight = 1000

// MaxCheckBytes is how much a health check reads of an answer: the body an
// HTTP check matches against its regular expression, the bytes a TCP check
// looks for its expected ones in. So it also bounds the expected bytes.
const MaxCheckBytes = 64 << 10

// MaxRiseFall bounds an active check's rise and fall counts: beyond it, an
// address takes too many intervals to change state to be of use.
const MaxRiseFall = 100

// Status is the status an HTTP check expects: one code (200) or a class of
// codes (2xx).
type Status struct {
	Code  int // 100-599; 0 for a class
	Class int // 1-5 for a class ("2xx"); 0 for a code
}

// ErrStatus: the expected status is neither a code nor a class.
var ErrStatus = errors.New("not a status code (\"200\") or class (\"2xx\")")

// ParseStatus reads an expected status: "200" (one code, 100 to 599) or
// "2xx" (a class, 1xx to 5xx).
func ParseStatus(s string) (Status, error) {
	if len(s) != 3 {
		return Status{}, ErrStatus
	}
	if s[1] == 'x' && s[2] == 'x' {
		if s[0] < '1' || s[0] > '5' {
			return Status{}, ErrStatus
		}
		return Status{Class: int(s[0] - '0')}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return Status{}, ErrStatus
	}
	return Status{Code: n}, nil
}

// Match reports whether code is the expected status.
func (s Status) Match(code int) bool {
	if s.Class != 0 {
		return code/100 == s.Class
	}
	return code == s.Code
}

// String writes s as ParseStatus reads it.
func (s Status) String() string {
	if s.Class != 0 {
		return strconv.Itoa(s.Class) + "xx"
	}
	return strconv.Itoa(s.Code)
}
