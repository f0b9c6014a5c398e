package webcgi

import (
	"context"
	"errors"
	"log/slog"

	"gatehouse/internal/lograte"
	"gatehouse/web"
)

// Failures logs the failed requests of one gateway (one per backend, so one
// per php-fpm, uWSGI or upstream it passes to) through a rate limiter: the
// first failure of a kind at once, then at most one line per interval with
// how many more there were. An application that is down fails every request
// the same way, and a line per request would only bury the first one.
type Failures struct {
	lograte.Limiter
	// Msg is the line's message, such as "fastcgi request failed".
	Msg string
}

// Check logs err when it is the gateway's failure (status 500 or more, the
// client still there, not logged yet) and returns it marked web.Logged, so
// the server does not log it again per request; any other error is returned
// unchanged. The kind is the error's text (the cause, with the backend's
// address). args describe the backend.
func (f *Failures) Check(r *web.Request, err error, args ...any) error {
	if err == nil || web.IsLogged(err) {
		return err
	}
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		return err // the client left: the server logs it (499)
	}
	status := web.StatusOf(err)
	if status < 500 {
		return err // the request's own fault, answered and logged as such
	}
	f.Log(slog.LevelError, err.Error(), f.Msg, append(args, "status", status,
		"method", r.Method(), "target", string(r.Target()), "err", err)...)
	return web.Logged(err)
}

// Warn logs one line of the gateway's about a failure, through the same
// limiter (its kind: msg and key), and returns err marked web.Logged.
func (f *Failures) Warn(err error, key, msg string, args ...any) error {
	f.Log(slog.LevelWarn, key, msg, args...)
	return web.Logged(err)
}
