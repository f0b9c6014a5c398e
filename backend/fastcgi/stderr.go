package fastcgi

import (
	"bytes"

	"gatehouse/upstream"
	"gatehouse/web"
)

// maxStderrLine bounds one logged line; a longer one is logged in pieces.
const maxStderrLine = 4 << 10

// stderr logs the application's FCGI_STDERR output, one log line per line it
// wrote, with the request it belongs to.
func (h *Handler) stderr(ex *exchange, r *web.Request, c *upstream.Conn, p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			i = len(p)
		}
		take := min(i, maxStderrLine-len(ex.stderr))
		ex.stderr = append(ex.stderr, p[:take]...)
		p = p[take:]
		if len(p) > 0 && p[0] == '\n' {
			p = p[1:]
			h.stderrFlush(ex, r, c)
		} else if len(ex.stderr) == maxStderrLine {
			h.stderrFlush(ex, r, c)
		}
	}
}

// stderrFlush logs the line gathered so far, if any.
func (h *Handler) stderrFlush(ex *exchange, r *web.Request, c *upstream.Conn) {
	line := bytes.TrimRight(ex.stderr, "\r")
	ex.stderr = ex.stderr[:0]
	if len(line) == 0 {
		return
	}
	h.log.Warn("fastcgi stderr", "upstream", c.Upstream(), "method", r.Method(),
		"target", string(r.Target()), "line", string(line))
}
