package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/proto/http1"
	"gatehouse/upstream"
	"gatehouse/upstream/relay"
	"gatehouse/web"
)

// tunnel runs an upgraded connection (research §4.5): the upstream's 101
// must name the protocol the client asked for, else it is refused (502) and
// nothing is switched; then the client gets the 101 and the bytes go both
// ways until each side has finished, one side fails, the tunnel is idle
// for TunnelIdle, or the handler closes.
func (x *exchange) tunnel(uc *upstream.Conn, rd *relay.Reader, resp *http1.Response, s *sender) error {
	h, r := x.h, x.r
	up := uc.Upstream()
	var got []byte
	for _, f := range resp.Fields {
		if len(f.Name) == len("upgrade") && http1.EqualFold(f.Name, "upgrade") {
			got, _ = http1.NextElement(f.Value)
			break
		}
	}
	if i := bytes.IndexByte(got, '/'); i >= 0 {
		got = got[:i]
	}
	if len(got) != len(x.upgrade) || !http1.EqualFold(got, x.upgrade) {
		uc.Fail()
		err := &web.Error{Status: 502, Err: fmt.Errorf("proxy: upstream switched to protocol %q when %q was asked", got, x.upgrade)}
		return h.failures.Warn(err, up+"\x00switch", "proxy upstream switched to another protocol than the one asked",
			"upstream", up, "asked", x.upgrade, "got", string(got), "target", string(r.Target()))
	}
	if err := s.wait(uc, nil); err != nil {
		uc.Release(false)
		return &web.Error{Status: 502, Err: fmt.Errorf("proxy: upgrade: %w", err)}
	}
	client, err := x.w.Upgrade()
	if err != nil {
		uc.Release(false)
		return err
	}
	defer client.Close()
	defer uc.Release(false) // closed with the tunnel: never pooled

	// The 101 as the upstream sent it, less what describes its own
	// connection, and the bytes it sent after it.
	b := append(x.head[:0], "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"...)
	for _, f := range resp.Fields {
		if http1.HopByHop(f.Name) && !http1.EqualFold(f.Name, "upgrade") || dropResponseField(f.Name) ||
			http1.EqualFold(f.Name, "content-length") {
			continue
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, rd.Buffered()...)
	x.head = b
	client.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
	if _, err := client.Write(b); err != nil {
		return web.Logged(fmt.Errorf("proxy: upgrade: write to client: %w", err))
	}
	uc.SetDeadline(time.Time{})
	client.SetDeadline(time.Time{})

	t := &tunnel{client: client, upstream: uc.Conn, idle: h.cfg.TunnelIdle, write: h.cfg.WriteTimeout}
	if !h.track(t) {
		return nil // the handler is closing
	}
	defer h.untrack(t)
	t.run()
	return nil
}

func (h *Handler) track(t *tunnel) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.tunnels[t] = struct{}{}
	return true
}

func (h *Handler) untrack(t *tunnel) {
	h.mu.Lock()
	delete(h.tunnels, t)
	h.mu.Unlock()
}

// Tunnels returns the number of open tunnels.
func (h *Handler) Tunnels() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.tunnels)
}

// tunnel copies bytes both ways between two connections.
type tunnel struct {
	client, upstream net.Conn
	idle             time.Duration // 0: no idle limit
	write            time.Duration // bound on each write: a side that stops reading
	last             atomic.Int64  // unix nanoseconds of the last byte either way
	closeOnce        sync.Once
}

func (t *tunnel) close() {
	t.closeOnce.Do(func() {
		t.client.Close()
		t.upstream.Close()
	})
}

// run copies until both directions have ended.
func (t *tunnel) run() {
	t.last.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		t.pipe(t.upstream, t.client)
		close(done)
	}()
	t.pipe(t.client, t.upstream)
	<-done
}

// closeWriter is a connection that can end its sending side alone.
type closeWriter interface{ CloseWrite() error }

// pipe copies src to dst. At src's end, dst's sending side is closed
// (half-close: the other direction may go on, as a WebSocket's closing
// handshake does); on any failure the whole tunnel is closed.
func (t *tunnel) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		if t.idle > 0 {
			src.SetReadDeadline(time.Now().Add(t.idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
			t.last.Store(time.Now().UnixNano())
			dst.SetWriteDeadline(time.Now().Add(t.write))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				t.close()
				return
			}
		}
		if err == nil {
			continue
		}
		if t.idle > 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			// Idle this way; the tunnel is idle only if the other way is too.
			if time.Since(time.Unix(0, t.last.Load())) < t.idle {
				continue
			}
		}
		if err == io.EOF {
			if cw, ok := dst.(closeWriter); ok && cw.CloseWrite() == nil {
				return
			}
		}
		t.close()
		return
	}
}
