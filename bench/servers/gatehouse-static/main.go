// Command gatehouse-static is the gatehouse static-file responder of the
// benchmark: a configuration with one site and one static route, built and run
// by the server package exactly as gatehouse serve --config would, so routing
// and the file cache (on by default) are measured with the backend.
package main

import (
	"context"
	"flag"
	"io"
	"log"

	"gatehouse/config"
	"gatehouse/server"

	"gatehouse/bench/internal/rlimit"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	root := flag.String("root", "", "directory to serve")
	flag.Parse()
	if *root == "" {
		log.Fatal("gatehouse-static: -root is required")
	}
	if err := rlimit.RaiseNoFile(); err != nil {
		log.Fatalf("gatehouse-static: raise fd limit: %v", err)
	}
	cfg := &config.Config{
		AccessLog: config.AccessLog{Path: "off"}, // as nginx's access_log off
		Listen:    []config.Listen{{Addr: *addr}},
		Site:      []config.Site{{Route: []config.Route{{Path: "/", Static: &config.Static{Root: *root}}}}},
	}
	built, err := server.Build(cfg, server.BuildOptions{Stderr: io.Discard})
	if err != nil {
		log.Fatalf("gatehouse-static: %v", err)
	}
	srv, err := server.New(built.Config)
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.Run(context.Background()))
}
