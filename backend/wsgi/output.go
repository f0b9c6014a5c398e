package wsgi

import (
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"syscall"
)

// What a worker writes is logged at the level of the event it belongs to,
// so that --log-level warn, which keeps the ERROR line announcing a failure,
// keeps what explains it too:
//
//   - stdout (print) at INFO: what an application says of its own accord;
//   - stderr and wsgi.errors at WARN: where Python's logging and warnings
//     go, and what an application means as trouble;
//   - a Python traceback in either at ERROR, from "Traceback (most recent
//     call last):" to its exception line, chained tracebacks included;
//   - everything a worker writes once its stacks are being dumped (a
//     request over its timeout) at ERROR, the dump being the reason for
//     the ERROR line before it.

// stream is where a line came from.
type stream uint8

const (
	streamStdout stream = iota
	streamStderr
	streamErrors // wsgi.errors
)

// traceState follows a stream line by line to find its tracebacks. The zero
// value is outside one.
type traceState uint8

const (
	traceOutside traceState = iota
	traceInside             // the frames: indented lines
	traceAfter              // the exception line has come; a chained traceback may follow
)

// level returns the level of line, which came from s, and moves the state
// on.
func (t *traceState) level(s stream, line string) slog.Level {
	base := slog.LevelWarn
	if s == streamStdout {
		base = slog.LevelInfo
	}
	switch {
	case strings.HasPrefix(line, "Traceback (most recent call last):"):
		*t = traceInside
		return slog.LevelError
	case *t == traceInside:
		if !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "\t") {
			*t = traceAfter // the exception line ends the frames
		}
		return slog.LevelError
	case *t == traceAfter:
		// Between chained tracebacks (PEP 3134): a blank line and one of
		// two sentences, then the next "Traceback".
		if line == "" || strings.HasPrefix(line, "During handling of the above exception") ||
			strings.HasPrefix(line, "The above exception was the direct cause") {
			return slog.LevelError
		}
		*t = traceOutside
	}
	return base
}

// exitStatus says how a worker process ended, from its Wait error:
// "killed by signal 9 (killed)", "exit status 1", "exit status 0" for nil.
func exitStatus(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
		}
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exit status 0"
}
