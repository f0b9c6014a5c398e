package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reported.
type wrkResult struct {
	Requests int64   // "N requests in ..."
	RPS      float64 // "Requests/sec:"
	// Socket errors by kind, and responses with a status outside 2xx/3xx. wrk
	// prints these lines only when something is nonzero.
	Connect, Read, Write, Timeout int64
	Non2xx                        int64
}

// Errors is the total of everything wrk counted as an error.
func (r wrkResult) Errors() int64 {
	return r.Connect + r.Read + r.Write + r.Timeout + r.Non2xx
}

// ErrorText describes the nonzero error counts, or returns "".
func (r wrkResult) ErrorText() string {
	var parts []string
	for _, e := range []struct {
		name string
		n    int64
	}{{"connect", r.Connect}, {"read", r.Read}, {"write", r.Write}, {"timeout", r.Timeout}, {"non-2xx/3xx", r.Non2xx}} {
		if e.n != 0 {
			parts = append(parts, fmt.Sprintf("%s %d", e.name, e.n))
		}
	}
	return strings.Join(parts, ", ")
}

var (
	reRequests = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	reRPS      = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	reSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := reRequests.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no request count in wrk output:\n%s", out)
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	m = reRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	r.RPS, _ = strconv.ParseFloat(m[1], 64)
	if m = reSocket.FindStringSubmatch(out); m != nil {
		r.Connect, _ = strconv.ParseInt(m[1], 10, 64)
		r.Read, _ = strconv.ParseInt(m[2], 10, 64)
		r.Write, _ = strconv.ParseInt(m[3], 10, 64)
		r.Timeout, _ = strconv.ParseInt(m[4], 10, 64)
	}
	if m = reNon2xx.FindStringSubmatch(out); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

// wrkSeconds renders d for wrk's -d, which takes a number with a unit.
func wrkSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// runWrk runs one wrk load, pinned to the client CPU with a single thread, and
// returns what it reported. The run is bounded: wrk gets its duration plus a
// margin, then is killed.
func runWrk(cfg *config, sc scenario, port int, d time.Duration, fields []string) (wrkResult, error) {
	if sc.H2 {
		return runH2load(cfg, sc, port, d)
	}
	args := []string{cfg.wrk,
		"-t1", "-c" + strconv.Itoa(sc.Conns), "-d" + wrkSeconds(d)}
	if sc.Pipeline > 0 {
		args = append(args, "-s", cfg.luaPath)
	}
	if sc.Script != "" {
		args = append(args, "-s", filepath.Join(cfg.dir, sc.Script))
	}
	for _, f := range fields {
		args = append(args, "-H", f)
	}
	if sc.Close {
		args = append(args, "-H", "Connection: close")
	}
	if sc.Gzip {
		args = append(args, "-H", "Accept-Encoding: gzip")
	}
	scheme := "http"
	if sc.TLS {
		scheme = "https"
	}
	args = append(args, fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, port, sc.Path))
	if sc.Pipeline > 0 {
		args = append(args, "--", strconv.Itoa(sc.Pipeline))
	}
	cmd := pinned(cfg, cfg.clientCPU, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	p, err := children.start(cmd)
	if err != nil {
		return wrkResult{}, fmt.Errorf("start wrk: %w", err)
	}
	select {
	case <-p.done:
	case <-time.After(d + 30*time.Second):
		p.stop()
		return wrkResult{}, fmt.Errorf("wrk did not finish within %v of its %v run", 30*time.Second, d)
	}
	if p.err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v\n%s", p.err, out.String())
	}
	return parseWrk(out.String())
}
