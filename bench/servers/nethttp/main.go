// Command nethttp is the net/http plaintext responder of the benchmark.
package main

import (
	"flag"
	"log"
	"net/http"

	"gatehouse/bench/internal/rlimit"
)

var hello = []byte("Hello, World!")

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	if err := rlimit.RaiseNoFile(); err != nil {
		log.Fatalf("nethttp: raise fd limit: %v", err)
	}

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Header fields set by direct map assignment: the keys are already in
		// canonical form, so Set's canonicalisation would only cost time.
		hdr := w.Header()
		hdr["Content-Type"] = []string{"text/plain"}
		hdr["Server"] = []string{"nethttp"}
		// net/http adds Date and Content-Length itself.
		w.Write(hello)
	})
	srv := &http.Server{Addr: *addr, Handler: h}
	log.Fatal(srv.ListenAndServe())
}
