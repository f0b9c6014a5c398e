package testutil

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// VerifyNoLeaks runs the tests and then fails the run if goroutines started by the
// tests are still alive after a grace period. Use it from TestMain:
//
//	func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
func VerifyNoLeaks(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitForLeaks(5 * time.Second); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "leaked goroutines (%d):\n\n%s\n", len(leaked), strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// waitForLeaks polls until only expected goroutines are left or the grace period
// ends, and returns the stacks of the unexpected ones.
func waitForLeaks(grace time.Duration) []string {
	deadline := time.Now().Add(grace)
	for {
		leaked := unexpectedGoroutines()
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func unexpectedGoroutines() []string {
	buf := make([]byte, 2<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		lines := strings.SplitN(g, "\n", 2)
		if len(lines) < 2 {
			continue
		}
		stack := lines[1]
		if isExpected(stack) {
			continue
		}
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// isExpected reports goroutines the runtime and the testing package keep.
func isExpected(stack string) bool {
	first := strings.TrimSpace(strings.SplitN(stack, "\n", 2)[0])
	switch {
	case stack == "":
		return true
	case strings.Contains(stack, "testutil.unexpectedGoroutines"),
		strings.Contains(stack, "testing.(*M).Run"),
		strings.Contains(stack, "testing.(*T).Run"),
		strings.Contains(stack, "testing.tRunner"),
		strings.Contains(stack, "testing.runTests"),
		strings.Contains(stack, "testing.(*F)."),
		strings.Contains(stack, "os/signal.signal_recv"),
		strings.Contains(stack, "os/signal.loop"),
		strings.Contains(stack, "runtime.ensureSigM"),
		strings.Contains(stack, "runtime/trace."),
		strings.HasPrefix(first, "runtime.goexit"):
		return true
	}
	return false
}
