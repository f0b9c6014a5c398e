// Command nethttp-tls is net/http serving a directory over TLS, HTTP/2 and
// HTTP/1.1 by ALPN, with its defaults: the bound of what Go's own TLS and
// HTTP/2 cost, beside gatehouse (which hands HTTP/2 to the same server) and
// nginx.
package main

import (
	"flag"
	"log"
	"net/http"

	"gatehouse/bench/internal/rlimit"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "listen address")
	root := flag.String("root", ".", "directory to serve")
	cert := flag.String("cert", "", "certificate (PEM)")
	key := flag.String("key", "", "private key (PEM)")
	flag.Parse()
	if err := rlimit.RaiseNoFile(); err != nil {
		log.Fatalf("nethttp-tls: raise fd limit: %v", err)
	}
	srv := &http.Server{Addr: *addr, Handler: http.FileServer(http.Dir(*root))}
	log.Fatal(srv.ListenAndServeTLS(*cert, *key))
}
