// Command fasthttp is the fasthttp plaintext responder of the benchmark.
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"

	"gatehouse/bench/internal/rlimit"
)

var hello = []byte("Hello, World!")

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	if err := rlimit.RaiseNoFile(); err != nil {
		log.Fatalf("fasthttp: raise fd limit: %v", err)
	}

	h := func(ctx *fasthttp.RequestCtx) {
		// fasthttp's default is "text/plain; charset=utf-8"; the plain value keeps
		// every responder's answer the same size.
		ctx.Response.Header.SetContentType("text/plain")
		ctx.Response.SetBody(hello)
	}
	// Default settings apart from the name: fasthttp adds Server, Date and
	// Content-Length itself.
	srv := &fasthttp.Server{Handler: h, Name: "fasthttp"}
	log.Fatal(srv.ListenAndServe(*addr))
}
