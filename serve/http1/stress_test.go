package http1_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	shttp "gatehouse/serve/http1"
	"gatehouse/web"
)

// openFDs counts the process's open descriptors.
func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// expectNoFDLeak fails if, after the test's cleanups, more descriptors are open
// than before it (polling briefly: closes on the loops are asynchronous).
func expectNoFDLeak(t *testing.T) {
	before := openFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := openFDs(t)
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d descriptors open after the test, %d before", n, before)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// waitConns waits until the server has no connection open.
func waitConns(t *testing.T, ts *testServer) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ts.eng.Conns() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open", ts.eng.Conns())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// raiseFDLimit lifts the soft (and, as root, the hard) limit on descriptors to
// at least n, and returns the soft limit in force.
func raiseFDLimit(n uint64) uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	if l.Cur >= n {
		return l.Cur
	}
	want := l
	want.Cur = max(n, l.Cur)
	want.Max = max(n, l.Max)
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
		want.Cur, want.Max = l.Max, l.Max // not root: up to the hard limit
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want)
	}
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}

// 10,000 keep-alive connections open at once, each making requests, with no
// error. The clients run in a child process (this test binary again), so that
// only the server's ends count against this process's descriptor limit.
func TestManyConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections")
	}
	const conns, rounds = 10000, 3
	if limit := raiseFDLimit(conns + 1000); limit < conns+1000 {
		t.Skipf("descriptor limit %d is under %d", limit, conns+1000)
	}
	forEachEngine(t, func(t *testing.T, e string) {
		expectNoFDLeak(t)
		ts := startServer(t, e, hello, shttp.Config{})
		cmd := exec.Command(os.Args[0], "-test.run=^TestManyConnectionsClient$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("GATEHOUSE_MANY_CONNS=%s %d %d", ts.addr, conns, rounds))
		cmd.Stderr = os.Stderr
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Wait()
		defer stdin.Close()
		report := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if line := sc.Text(); strings.HasPrefix(line, "clients: ") {
					report <- line
				}
			}
			close(report)
			io.Copy(io.Discard, stdout)
		}()
		select {
		case line, ok := <-report:
			if !ok || !strings.Contains(line, " ok ") {
				t.Fatalf("client process: %q", line)
			}
			t.Logf("%s: %s", e, line)
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			t.Fatal("client process did not report within 60 s")
		}
		if n := ts.eng.Conns(); n != conns {
			t.Fatalf("server has %d connections, want %d", n, conns)
		}
		stdin.Close() // the clients close their connections and exit
		if err := cmd.Wait(); err != nil {
			t.Fatalf("client process: %v", err)
		}
		waitConns(t, ts)
	})
}

// TestManyConnectionsClient is the client process of TestManyConnections: it
// opens the connections, makes the requests on all of them at once, reports,
// and holds them open until its standard input closes.
func TestManyConnectionsClient(t *testing.T) {
	spec := os.Getenv("GATEHOUSE_MANY_CONNS")
	if spec == "" {
		t.Skip("the client process of TestManyConnections")
	}
	var addr string
	var conns, rounds int
	fmt.Sscanf(spec, "%s %d %d", &addr, &conns, &rounds)
	raiseFDLimit(uint64(conns + 1000))
	start := time.Now()
	cs := make([]net.Conn, conns)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	// Dial in parallel but not all at once: the accept queue is finite.
	sem := make(chan struct{}, 256)
	for i := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				fail(err)
				return
			}
			cs[i] = c
		}()
	}
	wg.Wait()
	dialed := time.Since(start)
	req := []byte("GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
	var release sync.WaitGroup
	release.Add(1)
	for _, c := range cs {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			release.Wait() // every connection open, then all at once
			c.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReaderSize(c, 512)
			for range rounds {
				if _, err := c.Write(req); err != nil {
					fail(err)
					return
				}
				if err := readHello(br); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	release.Done()
	wg.Wait()
	verdict := "ok"
	if failed.Load() > 0 {
		verdict = fmt.Sprintf("FAILED (%d: %v)", failed.Load(), firstErr.Load())
	}
	fmt.Printf("clients: %s %d connections dialed in %v, %d requests in %v\n", verdict, conns,
		dialed.Round(time.Millisecond), conns*rounds, (time.Since(start) - dialed).Round(time.Millisecond))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}

// readHello reads one response of the hello handler.
func readHello(br *bufio.Reader) error {
	length := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			fmt.Sscanf(string(v), "%d", &length)
		}
	}
	if length != len("Hello, World!") {
		return fmt.Errorf("Content-Length %d", length)
	}
	_, err := br.Discard(length)
	return err
}

// A client that reads slowly gets its whole response, and holds up no one else.
func TestSlowReader(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		expectNoFDLeak(t)
		big := bytes.Repeat([]byte("0123456789abcdef"), 4<<16) // 4 MiB
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			if r.Path() == "/big" {
				for off := 0; off < len(big); off += 32 << 10 {
					if _, err := w.Write(big[off : off+32<<10]); err != nil {
						return err
					}
				}
				return nil
			}
			return hello(w, r)
		})
		ts := startServer(t, e, h, shttp.Config{})
		// A small receive buffer, set before connecting so the window matches.
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		}}
		nc, err := d.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		slow := &client{t: t, conn: nc, br: bufio.NewReader(nc)}
		slow.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
		got := make(chan []byte, 1)
		go func() {
			slow.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
			var all []byte
			buf := make([]byte, 64<<10)
			for {
				n, err := slow.conn.Read(buf)
				all = append(all, buf[:n]...)
				if err != nil || bytes.HasSuffix(all, []byte("\r\n0\r\n\r\n")) {
					got <- all
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		// Meanwhile other clients are answered at once.
		for range 20 {
			start := time.Now()
			if r := exchange(t, ts.addr, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET"); r.body != "Hello, World!" {
				t.Fatalf("%q", r.body)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("a fast request took %v beside a slow reader", d)
			}
		}
		all := <-got
		i := bytes.Index(all, []byte("\r\n\r\n"))
		if i < 0 {
			t.Fatal("no head")
		}
		body := all[i+4:]
		// Chunked: strip the framing to compare.
		var plain []byte
		br := bufio.NewReader(bytes.NewReader(body))
		for {
			var n int
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("framing: %v after %d bytes", err, len(plain))
			}
			fmt.Sscanf(line, "%x", &n)
			if n == 0 {
				break
			}
			chunk := make([]byte, n+2)
			if _, err := io.ReadFull(br, chunk); err != nil {
				t.Fatal(err)
			}
			plain = append(plain, chunk[:n]...)
		}
		if !bytes.Equal(plain, big) {
			t.Fatalf("body %d bytes, differs", len(plain))
		}
	})
}

// A client that sends its body slowly gets it echoed whole; a client gone in the
// middle of a body, or resetting in the middle of a response, leaves nothing behind.
func TestSlowAndVanishingClients(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		expectNoFDLeak(t)
		handlerErr := make(chan error, 10)
		big := bytes.Repeat([]byte("x"), 8<<20)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			switch r.Path() {
			case "/echo":
				return echo(w, r)
			case "/upload":
				_, err := io.Copy(io.Discard, r.Body())
				handlerErr <- err
				return err
			case "/big":
				_, err := w.Write(big)
				handlerErr <- err
				return err
			}
			return hello(w, r)
		})
		ts := startServer(t, e, h, shttp.Config{})

		t.Run("slow writer", func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n")
			for i := range 10 {
				time.Sleep(10 * time.Millisecond)
				c.send(strings.Repeat(fmt.Sprint(i), 10))
			}
			r := c.read("POST")
			if r.StatusCode != 200 || len(r.body) != 100 || r.body[99] != '9' {
				t.Fatalf("%d %q", r.StatusCode, r.body)
			}
		})
		t.Run("gone mid-body", func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("y", 5000))
			time.Sleep(20 * time.Millisecond)
			c.conn.Close()
			if err := <-handlerErr; err == nil {
				t.Fatal("the handler read a whole body from a client that left")
			}
			waitConns(t, ts)
		})
		t.Run("reset mid-response", func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
			buf := make([]byte, 1000)
			io.ReadFull(c.conn, buf)
			c.conn.(*net.TCPConn).SetLinger(0) // close sends RST
			c.conn.Close()
			if err := <-handlerErr; err == nil {
				t.Fatal("8 MiB written to a reset connection without error")
			}
			waitConns(t, ts)
		})
		t.Run("half-close after a request", func(t *testing.T) {
			c := dial(t, ts.addr)
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			c.conn.(*net.TCPConn).CloseWrite()
			if r := c.read("GET"); r.body != "Hello, World!" {
				t.Fatalf("%q", r.body)
			}
			c.expectClosed()
		})
	})
}

// Bursts of pipelined requests on many connections at once are answered in order.
func TestPipelinedBursts(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		expectNoFDLeak(t)
		ts := startServer(t, e, echo, shttp.Config{})
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for k := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", ts.addr)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				var burst bytes.Buffer
				for i := range 100 {
					fmt.Fprintf(&burst, "GET /%d/%d HTTP/1.1\r\nHost: a\r\n\r\n", k, i)
				}
				go c.Write(burst.Bytes())
				br := bufio.NewReader(c)
				for i := range 100 {
					want := fmt.Sprintf("X-Path: /%d/%d\r\n", k, i)
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							errs <- fmt.Errorf("conn %d response %d: %v", k, i, err)
							return
						}
						if line == "\r\n" {
							errs <- fmt.Errorf("conn %d response %d: no %q", k, i, want)
							return
						}
						if strings.HasPrefix(line, "X-Path: ") {
							if line != want {
								errs <- fmt.Errorf("conn %d response %d: %q", k, i, line)
								return
							}
							break
						}
					}
					for { // the rest of the head; no body
						line, err := br.ReadString('\n')
						if err != nil || line == "\r\n" {
							break
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// A handler that blocks for a second holds up no other connection: a fast
// client's 99th percentile stays under 10 ms meanwhile.
func TestBlockingHandlerDoesNotStall(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e string) {
		entered := make(chan struct{}, 8)
		h := web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
			if r.Path() == "/block" {
				entered <- struct{}{}
				time.Sleep(time.Second) // a Python worker, php-fpm, an upstream
			}
			return hello(w, r)
		})
		ts := startServer(t, e, h, shttp.Config{})
		blocked := make(chan error, 4)
		for range 4 {
			go func() {
				c, err := net.Dial("tcp", ts.addr)
				if err != nil {
					blocked <- err
					return
				}
				defer c.Close()
				c.Write([]byte("GET /block HTTP/1.1\r\nHost: a\r\n\r\n"))
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				_, err = bufio.NewReader(c).ReadString('\n')
				blocked <- err
			}()
		}
		for range 4 {
			<-entered
		}
		c := dial(t, ts.addr)
		var lat []time.Duration
		end := time.Now().Add(800 * time.Millisecond)
		for time.Now().Before(end) {
			start := time.Now()
			c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			if r := c.read("GET"); r.body != "Hello, World!" {
				t.Fatalf("%q", r.body)
			}
			lat = append(lat, time.Since(start))
		}
		for range 4 {
			if err := <-blocked; err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(lat)
		p99 := lat[len(lat)*99/100]
		t.Logf("%s: %d requests beside 4 blocked handlers, p50 %v, p99 %v", e, len(lat), lat[len(lat)/2], p99)
		if p99 > 10*time.Millisecond {
			t.Fatalf("p99 %v beside blocked handlers", p99)
		}
	})
}
