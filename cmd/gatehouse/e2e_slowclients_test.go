package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Slow clients must not hold application workers. The shape of the attack:
// as many slow uploaders as there are workers plus one (a body trickled a
// byte at a time, within every timeout), and as many readers of a large
// response that read nothing; meanwhile every ordinary request must still be
// answered in under a second. Without request buffering the uploaders alone,
// and without response buffering the readers alone, hold every worker: the
// control runs show the test can fail, and that each half of the buffering
// stops its half of the attack.

const (
	attackFor = 2 * time.Second
	quickFor  = time.Second
)

// slowCases are the runs of each backend: both attacks against the default
// configuration, then each attack with its half of the buffering off.
var slowCases = []struct {
	name               string
	flags              []string
	uploaders, readers bool
	starving           bool
}{
	{"buffered", nil, true, true, false},
	{"uploaders without request buffering", []string{"--request-buffering=false"}, true, false, true},
	{"readers without response buffering", []string{"--response-buffering=false"}, false, true, true},
}

// attack runs the slow clients against addr until stop is closed.
type attack struct {
	addr           string
	upload, large  string // paths: a body reader, a large response
	n              int    // clients of each kind
	stop           chan struct{}
	wg             sync.WaitGroup
	uploadDeclared int
}

func startAttack(t *testing.T, addr, upload, large string, n int, uploaders, readers bool) *attack {
	a := &attack{addr: addr, upload: upload, large: large, n: n, stop: make(chan struct{}), uploadDeclared: 200_000}
	for range n {
		if uploaders {
			a.wg.Add(1)
			go a.slowUploader(t)
		}
		if readers {
			a.wg.Add(1)
			go a.slowReader(t)
		}
	}
	t.Cleanup(a.end)
	return a
}

func (a *attack) end() {
	select {
	case <-a.stop:
	default:
		close(a.stop)
	}
	a.wg.Wait()
}

// slowUploader declares a body, sends its first 100 KB (more than a gateway
// reads before it takes a connection) and then a byte every 100 ms.
func (a *attack) slowUploader(t *testing.T) {
	defer a.wg.Done()
	c, err := net.Dial("tcp", a.addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", a.upload, a.uploadDeclared)
	const first = 100_000
	if _, err := c.Write(bytes.Repeat([]byte("a"), first)); err != nil {
		return
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range a.uploadDeclared - first - 1 { // never the last byte
		select {
		case <-a.stop:
			return
		case <-tick.C:
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
		}
	}
}

// slowReader asks for the large response and reads none of it, with a small
// receive buffer so that the server's writes stop after a few kilobytes.
func (a *attack) slowReader(t *testing.T) {
	defer a.wg.Done()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return nil
	}}
	c, err := d.Dial("tcp", a.addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", a.large)
	<-a.stop
}

// probe sends ordinary requests for the length of the attack and returns the
// slowest answer's time, or the first failure.
func probe(t *testing.T, url, want string) (time.Duration, error) {
	t.Helper()
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var slowest time.Duration
	end := time.Now().Add(attackFor)
	time.Sleep(300 * time.Millisecond) // the slow clients reach their workers first
	for n := 0; time.Now().Before(end) || n < 5; n++ {
		start := time.Now()
		resp, err := client.Get(url)
		if err != nil {
			return time.Since(start), err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		slowest = max(slowest, took)
		if resp.StatusCode != 200 || string(body) != want {
			return took, fmt.Errorf("status %d, body %.40q", resp.StatusCode, body)
		}
		if took > quickFor {
			return took, fmt.Errorf("answered in %v", took)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return slowest, nil
}

func TestSlowClientsWSGI(t *testing.T) {
	app := testdataDir(t, "wsgi")
	for _, c := range slowCases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--wsgi", "slowclients:app", "--chdir", app, "--workers", "2",
				"--python", "/usr/bin/python3", "--queue-timeout", "2s", "--access-log", "off"}, c.flags...)
			p := start(t, args...)
			a := startAttack(t, p.addr, "/upload", "/big", 3, c.uploaders, c.readers)
			took, err := probe(t, "http://"+p.addr+"/", "hello\n")
			a.end()
			checkStarving(t, c.starving, took, err)
			if !c.starving {
				// The slow clients' requests themselves still work.
				out, _, cerr := curl(t, "--data-binary", "0123456789", "http://"+p.addr+"/upload")
				if cerr != nil || out != "got 10\n" {
					t.Errorf("upload after the attack: %v %q", cerr, out)
				}
			}
		})
	}
}

func TestSlowClientsPHP(t *testing.T) {
	root := testdataDir(t, "php")
	for _, c := range slowCases {
		t.Run(c.name, func(t *testing.T) {
			sock := startPHPFPM(t) // two children
			args := append([]string{"--php", root, "--fastcgi-pass", sock, "--access-log", "off"}, c.flags...)
			p := start(t, args...)
			a := startAttack(t, p.addr, "/info.php", "/big.php", 3, c.uploaders, c.readers)
			took, err := probe(t, "http://"+p.addr+"/index.php?x", "front /index.php?x\n")
			a.end()
			checkStarving(t, c.starving, took, err)
		})
	}
}

func checkStarving(t *testing.T, starving bool, took time.Duration, err error) {
	t.Helper()
	switch {
	case !starving && err != nil:
		t.Fatalf("an ordinary request during the attack: %v (after %v)", err, took)
	case starving && err == nil:
		t.Fatalf("unbuffered, the attack held no worker (slowest ordinary request %v): the test does not test", took)
	}
	t.Logf("slowest ordinary request %v (%v)", took, err)
}

func TestSlowClientsUWSGI(t *testing.T) {
	for _, c := range slowCases {
		t.Run(c.name, func(t *testing.T) {
			sock := startUWSGIServer(t) // two processes
			args := append([]string{"--uwsgi-pass", sock, "--access-log", "off"}, c.flags...)
			p := start(t, args...)
			a := startAttack(t, p.addr, "/echo", "/big", 3, c.uploaders, c.readers)
			took, err := probe(t, "http://"+p.addr+"/", "hello from uwsgi")
			a.end()
			checkStarving(t, c.starving, took, err)
		})
	}
}
