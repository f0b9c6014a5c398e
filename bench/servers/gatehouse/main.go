// Command gatehouse is the gatehouse plaintext responder of the benchmark.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"gatehouse/engine"
	"gatehouse/engine/epoll"
	"gatehouse/listen"
	"gatehouse/middleware/csrf"
	"gatehouse/middleware/session"
	shttp "gatehouse/serve/http1"
	"gatehouse/store"
	"gatehouse/web"

	"gatehouse/bench/internal/rlimit"
)

var hello = []byte("Hello, World!")

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	eng := flag.String("engine", "epoll", "connection engine: epoll or goroutine")
	accept := flag.String("accept", "shared", "epoll engine: shared (one listening socket for all loops) or reuseport (one per loop)")
	stats := flag.Bool("stats", false, "epoll engine: on SIGTERM or SIGINT, print the connections each loop accepted")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until SIGTERM or SIGINT")
	csrfOn := flag.Bool("csrf", false, "put middleware/csrf's layer 1 (Sec-Fetch-Site and Origin) in front of the responder")
	sessions := flag.String("session", "", "put middleware/session in front of the responder, its sessions in `STORE`: memory or a Redis URL; GET /login starts one")
	flag.Parse()
	if *cpuprofile != "" {
		stop := profile(*cpuprofile)
		defer stop()
	}
	if err := rlimit.RaiseNoFile(); err != nil {
		log.Fatalf("gatehouse: raise fd limit: %v", err)
	}

	var h web.Handler = web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(hello)
		return nil
	})
	if *csrfOn {
		p, err := csrf.New(csrf.Config{})
		if err != nil {
			log.Fatal(err)
		}
		h = p.Wrap(h)
	}
	if *sessions != "" {
		h = withSessions(*sessions, h)
	}
	// The zero Config means every default; the Server field defaults to "gatehouse".
	app := shttp.New(h, shttp.Config{})

	if *accept != "shared" && *accept != "reuseport" {
		fmt.Fprintf(os.Stderr, "gatehouse: unknown -accept %q (want shared or reuseport)\n", *accept)
		os.Exit(2)
	}
	l, err := listen.Listen(context.Background(), listen.Config{Addr: *addr, ReusePort: *accept == "reuseport"})
	if err != nil {
		log.Fatal(err)
	}
	switch *eng {
	case "goroutine":
		srv := &engine.Server{Handler: app}
		log.Fatal(srv.Serve(l))
	case "epoll":
		srv := &epoll.Server{Handler: app, ReusePort: *accept == "reuseport"}
		if *stats {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
			go func() { <-sig; fmt.Fprintf(os.Stderr, "accepted per loop: %v\n", srv.Accepted()); os.Exit(0) }()
		}
		log.Fatal(srv.Serve(l))
	default:
		fmt.Fprintf(os.Stderr, "gatehouse: unknown -engine %q (want epoll or goroutine)\n", *eng)
		os.Exit(2)
	}
}

// profile starts a CPU profile and stops it (and exits) on SIGTERM or SIGINT.
func profile(path string) func() {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	stop := func() { pprof.StopCPUProfile(); f.Close() }
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; stop(); os.Exit(0) }()
	return stop
}

// withSessions loads a session for every request before next, from a
// memory store or Redis; GET /login starts one with a user, which the
// benchmark then sends the cookie of with every request.
func withSessions(where string, next web.Handler) web.Handler {
	var st store.Store
	if where == "memory" {
		st = store.NewMemory(store.MemoryConfig{})
	} else {
		rs, err := store.NewRedis(store.RedisConfig{URL: where})
		if err != nil {
			log.Fatal(err)
		}
		st = rs
	}
	m, err := session.New(session.Config{Store: st, Pass: []string{"user"}})
	if err != nil {
		log.Fatal(err)
	}
	return m.Wrap(web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		if string(r.RawPath()) == "/login" {
			if err := session.From(r).Set("user", "bench"); err != nil {
				return err
			}
		}
		return next.ServeHTTP(w, r)
	}))
}
