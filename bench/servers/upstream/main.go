// Command upstream is the application behind the proxies of the benchmark's
// proxy scenarios: a minimal HTTP/1.1 server on a Unix socket that answers
// GET /13 with the 13 bytes of hello.txt and GET /64k with the 65,536 bytes
// of 64k.bin (both read from -root at start-up), with Content-Type,
// Content-Length and Date, and keeps connections alive. One goroutine per
// connection: it reads a request head (and discards a body of a declared
// length), then writes the prepared response in one write. Anything else is
// 404; a head it cannot read closes the connection.
//
// It is deliberately small, so that what the benchmark compares is the
// proxies in front of it, not the application.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"gatehouse/bench/internal/rlimit"
)

// routes maps a request target to the file whose bytes answer it.
var routes = map[string]string{"/13": "hello.txt", "/64k": "64k.bin"}

// responses are the whole answers, head and body, by target; rebuilt every
// second for the Date field.
var responses atomic.Pointer[map[string][]byte]

const notFound = "HTTP/1.1 404 Not Found\r\nServer: upstream\r\nContent-Length: 0\r\n\r\n"

func main() {
	sock := flag.String("unix", "", "Unix socket to listen on (created, mode 0666)")
	root := flag.String("root", "", "directory holding hello.txt and 64k.bin")
	flag.Parse()
	if *sock == "" || *root == "" {
		log.Fatal("upstream: -unix and -root are required")
	}
	if err := rlimit.RaiseNoFile(); err != nil {
		log.Fatalf("upstream: raise fd limit: %v", err)
	}
	bodies := map[string][]byte{}
	for target, name := range routes {
		b, err := os.ReadFile(filepath.Join(*root, name))
		if err != nil {
			log.Fatalf("upstream: %v", err)
		}
		bodies[target] = b
	}
	build := func() {
		date := time.Now().UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT")
		m := map[string][]byte{}
		for target, body := range bodies {
			head := fmt.Sprintf("HTTP/1.1 200 OK\r\nServer: upstream\r\nDate: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
				date, contentType(target), len(body))
			m[target] = append([]byte(head), body...)
		}
		responses.Store(&m)
	}
	build()
	go func() {
		for range time.Tick(time.Second) {
			build()
		}
	}()

	os.Remove(*sock)
	ln, err := net.Listen("unix", *sock)
	if err != nil {
		log.Fatalf("upstream: %v", err)
	}
	// nginx's workers, running as nobody, connect to it too.
	if err := os.Chmod(*sock, 0o666); err != nil {
		log.Fatalf("upstream: %v", err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatalf("upstream: accept: %v", err)
		}
		go serve(c)
	}
}

func contentType(target string) string {
	if target == "/13" {
		return "text/plain"
	}
	return "application/octet-stream"
}

var errBadHead = errors.New("bad request head")

// serve answers the requests of one connection until it closes, the client
// asks to close it, or a head cannot be read.
func serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 4096)
	for {
		target, length, closing, err := readHead(br)
		if err != nil {
			return
		}
		if length > 0 {
			if _, err := io.CopyN(io.Discard, br, length); err != nil {
				return
			}
		}
		resp, ok := (*responses.Load())[target]
		if !ok {
			resp = []byte(notFound)
		}
		if _, err := c.Write(resp); err != nil || closing {
			return
		}
	}
}

// readHead reads one request head and returns its target, its body's
// Content-Length and whether it asks to close the connection.
func readHead(br *bufio.Reader) (target string, length int64, closing bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return "", 0, false, err
	}
	f := bytes.Fields(line)
	if len(f) != 3 {
		return "", 0, false, errBadHead
	}
	target = string(f[1])
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return "", 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return target, length, closing, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return "", 0, false, errBadHead
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return "", 0, false, errBadHead
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return "", 0, false, errBadHead // not needed here: GETs only
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.Contains(bytes.ToLower(value), []byte("close"))
		}
	}
}
