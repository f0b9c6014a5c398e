// Package testserve runs a handler behind gatehouse's real HTTP/1.1 server
// for tests of the packages above it (backends, middleware, adapters).
package testserve

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"gatehouse/engine"
	"gatehouse/engine/epoll"
	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// HTTP serves h with cfg on a fresh 127.0.0.1 port, on the goroutine engine,
// and returns the address ("127.0.0.1:PORT"). cfg.Logger nil: logs are
// dropped. The server shuts down (5 s grace) when the test ends.
func HTTP(t testing.TB, h web.Handler, cfg shttp.Config) string {
	t.Helper()
	return HTTPOn(t, "goroutine", h, cfg)
}

// Engines lists the connection engines a test that depends on how writes
// wait should run on: "goroutine", and "epoll" where it is supported.
func Engines() []string {
	if epoll.Supported {
		return []string{"goroutine", "epoll"}
	}
	return []string{"goroutine"}
}

// HTTPOn is HTTP on the named engine (see Engines).
func HTTPOn(t testing.TB, engineName string, h web.Handler, cfg shttp.Config) string {
	t.Helper()
	return HTTPAt(t, "127.0.0.1:0", engineName, h, cfg)
}

// HTTPAt is HTTPOn on a given address, such as the port a peer under test
// connects to.
func HTTPAt(t testing.TB, addr, engineName string, h web.Handler, cfg shttp.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var srv interface {
		Serve(net.Listener) error
		Shutdown(context.Context) error
	}
	switch engineName {
	case "goroutine":
		srv = &engine.Server{Handler: shttp.New(h, cfg), Logger: cfg.Logger}
	case "epoll":
		srv = &epoll.Server{Handler: shttp.New(h, cfg), Logger: cfg.Logger}
	default:
		t.Fatalf("testserve: unknown engine %q", engineName)
	}
	done := make(chan struct{})
	go func() { srv.Serve(l); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return l.Addr().String()
}
