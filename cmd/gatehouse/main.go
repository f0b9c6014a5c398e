// Command gatehouse is an HTTP server and application gateway in one binary.
//
//	gatehouse serve --demo                     serve the built-in demo site
//	gatehouse serve --http :8000 --static /=./public
//	gatehouse version
//
// Run "gatehouse help" or "gatehouse serve --help" for everything else.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"gatehouse/config"
)

func main() {
	err := Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	code := exitCode(err)
	if code != 0 {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
	}
	os.Exit(code)
}

// usageError is a mistake in the command line: exit status 2, as flag does.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func exitCode(err error) int {
	var ue *usageError
	var cf *checkFailed
	var ps config.Problems
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue), errors.As(err, &cf), errors.As(err, &ps):
		return 2
	default:
		return 1
	}
}
