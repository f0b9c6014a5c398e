package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// idleDialers is how many connections are set up at once: enough to be quick,
// few enough to stay well inside the listen backlog.
const idleDialers = 64

// measureIdle opens sc.Idle keep-alive connections to the server, completes one
// request on each, leaves them all idle for cfg.idleWait and reads the server's
// resident memory. The connections are closed before returning.
func measureIdle(cfg *config, sc scenario, srv *proc, port int) sample {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	conns := make([]net.Conn, sc.Idle)
	defer func() {
		for _, c := range conns {
			if c != nil {
				// Reset rather than close gracefully: 10,000 client sockets per
				// run would otherwise sit in TIME_WAIT for a minute each.
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}
		}
	}()

	var (
		next     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(60 * time.Second)
	for range idleDialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				c, err := openIdle(addr, sc.Path, deadline)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("connection %d: %w", i, err) })
					// Stop handing out work: the run has failed.
					next.Store(int64(len(conns)))
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return sample{Failure: firstErr.Error()}
	}

	time.Sleep(cfg.idleWait)
	if srv.Exited() {
		return sample{Failure: "server exited while holding idle connections"}
	}
	kb, err := rssKB(srv.Pid())
	if err != nil {
		return sample{Failure: err.Error()}
	}
	fds, _ := openFDs(srv.Pid())
	smp := sample{RSSMB: float64(kb) / 1024, FDs: fds}
	// A server that dropped idle connections would look cheaper than it is.
	if fds < sc.Idle {
		smp.Failure = fmt.Sprintf("server holds only %d descriptors for %d connections (RSS %.1f MB)", fds, sc.Idle, smp.RSSMB)
	}
	return smp
}

// openIdle connects, completes one request for path and returns the
// connection, now idle.
func openIdle(addr, path string, deadline time.Time) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		return nil, err
	}
	c.SetDeadline(deadline)
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	// A small reader: the response is about 130 bytes and the reader is dropped
	// once it has been read.
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	c.SetDeadline(time.Time{})
	return c, nil
}
