package server_test

import (
	"context"
	"os/signal"
	"syscall"

	"gatehouse/listen"
	"gatehouse/server"
	"gatehouse/web"
)

// A native handler on gatehouse, served until SIGINT or SIGTERM, then shut down
// gracefully.
func Example() {
	hello := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if r.Method() != web.MethodGet && r.Method() != web.MethodHead {
			return web.MethodNotAllowed("GET, HEAD")
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err := w.WriteString("hello from gatehouse\n")
		return err
	})
	srv, err := server.New(server.Config{
		Endpoints: []server.Endpoint{
			{Listen: listen.Config{Addr: "127.0.0.1:8000"}},
			{Listen: listen.Config{Addr: "unix:/tmp/hello.sock", Mode: 0o660}},
		},
		Handler: hello,
	})
	if err != nil {
		panic(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		panic(err)
	}
}
