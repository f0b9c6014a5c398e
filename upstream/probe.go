package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"gatehouse/proto/http1"
)

// probe checks a once, on a connection of its own (dialed as the traffic's
// are, to the same resolved address), within hc.Timeout. It returns why a is
// not healthy, or nil.
func (p *Pool) probe(ctx context.Context, hc *HealthCheck, a *address) error {
	ctx, cancel := context.WithTimeout(ctx, hc.Timeout)
	defer cancel()
	var nc net.Conn
	var err error
	if a.network == "unix" && p.cfg.Dial == nil {
		nc, err = dialUnix(a.unix)
	} else {
		nc, err = p.cfg.dial()(ctx, a.network, a.addr)
	}
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	// The timeout, and Close cutting the probe short, reach a read or write
	// under way through the connection's deadline.
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if hc.Kind == "tcp" {
		return probeTCP(nc, hc)
	}
	host := hc.Host
	switch {
	case host != "":
	case a.network == "unix":
		host = "localhost"
	default:
		host = a.from
	}
	return probeHTTP(nc, hc, host)
}

// probeTCP sends hc.Send and waits for hc.Expect. With neither, the connect
// was the check: a server that accepts and closes at once is up.
func probeTCP(c net.Conn, hc *HealthCheck) error {
	if hc.Send != "" {
		if _, err := io.WriteString(c, hc.Send); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	if hc.Expect == "" {
		return nil
	}
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf[:min(len(buf), MaxCheckBody-len(got))])
		got = append(got, buf[:n]...)
		if bytes.Contains(got, []byte(hc.Expect)) {
			return nil
		}
		if err == nil && len(got) >= MaxCheckBody {
			err = fmt.Errorf("not within %d bytes", MaxCheckBody)
		}
		if err != nil {
			return fmt.Errorf("expected %q, got %q: %w", hc.Expect, clip(got), err)
		}
	}
}

// probeHTTP asks for hc.Path and checks the response's status and, for
// hc.ExpectBody, its body. The response is read with the parser the HTTP
// gateway uses, as strictly: a malformed head fails the check.
func probeHTTP(c net.Conn, hc *HealthCheck, host string) error {
	req := "GET " + hc.Path + " HTTP/1.1\r\nHost: " + host +
		"\r\nUser-Agent: gatehouse-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	buf := make([]byte, 0, 4096)
	var rp http1.ResponseParser
	var resp http1.Response
	for {
		n, err := rp.Parse(buf, &resp)
		if err == http1.ErrNeedMore {
			if buf, err = readMore(c, buf); err != nil {
				return fmt.Errorf("response head: %w", err)
			}
			continue
		}
		if err != nil {
			return err
		}
		if resp.Status >= 200 {
			buf = buf[n:]
			break
		}
		if resp.Status == 101 {
			return errors.New("101 Switching Protocols to a request that asked for no upgrade")
		}
		// An interim response (100, 103): the final one follows.
		buf = buf[:copy(buf, buf[n:])]
		rp.Reset()
	}
	if !hc.status.Match(resp.Status) {
		return fmt.Errorf("status %d, want %s", resp.Status, hc.status)
	}
	if hc.body == nil {
		return nil
	}
	body, err := readBody(c, &resp, buf)
	if err != nil {
		return fmt.Errorf("response body: %w", err)
	}
	if !hc.body.Match(body) {
		return fmt.Errorf("body %q does not match %q", clip(body), hc.ExpectBody)
	}
	return nil
}

// readMore reads what c has into buf's spare capacity, growing it when full.
// The bytes already in buf stay where they are, as ResponseParser needs. A
// read of nothing before the end is io.ErrUnexpectedEOF.
func readMore(c net.Conn, buf []byte) ([]byte, error) {
	if len(buf) == cap(buf) {
		buf = slices.Grow(buf, max(len(buf), 4096))
	}
	n, err := c.Read(buf[len(buf):cap(buf)])
	buf = buf[:len(buf)+n]
	if n > 0 {
		return buf, nil
	}
	if err == io.EOF || err == nil {
		err = io.ErrUnexpectedEOF
	}
	return buf, err
}

// readBody returns the first MaxCheckBody bytes of resp's body, of which
// rest, read with the head, is the start.
func readBody(c net.Conn, resp *http1.Response, rest []byte) ([]byte, error) {
	switch resp.Framing(false) {
	case http1.FramingNone:
		return nil, nil
	case http1.FramingLength:
		want := int(min(resp.ContentLength, MaxCheckBody))
		body := rest[:min(len(rest), want)]
		for len(body) < want {
			var err error
			if body, err = readMore(c, body); err != nil {
				return nil, err
			}
			body = body[:min(len(body), want)]
		}
		return body, nil
	case http1.FramingClose:
		body := rest[:min(len(rest), MaxCheckBody)]
		for len(body) < MaxCheckBody {
			var err error
			body, err = readMore(c, body)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				break // the end of the body
			}
			if err != nil {
				return nil, err
			}
		}
		return body[:min(len(body), MaxCheckBody)], nil
	}
	var d http1.ChunkedDecoder
	var body []byte
	raw, off := rest, 0 // raw[off:] is not decoded yet
	for len(body) < MaxCheckBody {
		n, data, err := d.Decode(raw[off:], MaxCheckBody-len(body))
		body = append(body, data...)
		off += n
		switch err {
		case nil:
		case io.EOF:
			return body, nil
		case http1.ErrNeedMore:
			raw, off = raw[:copy(raw, raw[off:])], 0
			if raw, err = readMore(c, raw); err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
	}
	return body, nil
}

// clip shortens what a failed check saw, for its error.
func clip(b []byte) string {
	const n = 64
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return strings.ToValidUTF8(string(b), "?")
}
