// Package accesslog writes one line per finished exchange, in nginx's "combined"
// format, as JSON, or in a format of the configuration's own (ParseLayout). It is plugged into the server (web.AccessLogger) rather than
// wrapping handlers, so it also records requests refused before any handler ran
// and the status of error pages rendered after a handler returned.
package accesslog

import (
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"gatehouse/middleware/requestid"
	"gatehouse/web"
)

// Format selects the line format.
type Format int

const (
	// Combined is nginx's and Apache's combined log format:
	//   remote - user [time] "request" status bytes "referer" "user-agent"
	Combined Format = iota
	// JSON writes one JSON object per line.
	JSON
	// Custom writes Options.Layout, a format of the configuration's own
	// (nginx's log_format; see ParseLayout).
	Custom
)

// ParseFormat turns "combined" or "json" into a Format.
func ParseFormat(s string) (Format, bool) {
	switch s {
	case "combined", "":
		return Combined, true
	case "json":
		return JSON, true
	}
	return 0, false
}

// Options configure a Logger.
type Options struct {
	Format Format
	// Layout is the format of Custom.
	Layout *Layout
	// Buffer is how many bytes to collect before writing. 0 writes every line
	// at once. Default for New: 0.
	Buffer int
	// FlushEvery bounds how long a buffered line may wait. Default 1 s.
	FlushEvery time.Duration
}

// Logger writes access-log lines to w. It is safe for concurrent use. Close it to
// write what is buffered and stop its flusher.
type Logger struct {
	opt  Options
	mu   sync.Mutex
	w    io.Writer
	buf  []byte
	line []byte
	stop chan struct{}
	done chan struct{}
}

var _ web.AccessLogger = (*Logger)(nil)

// New returns a Logger writing to w.
func New(w io.Writer, opt Options) *Logger {
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = time.Second
	}
	l := &Logger{opt: opt, w: w}
	if opt.Buffer > 0 {
		l.buf = make([]byte, 0, opt.Buffer)
		l.stop, l.done = make(chan struct{}), make(chan struct{})
		go l.flusher()
	}
	return l
}

func (l *Logger) flusher() {
	defer close(l.done)
	t := time.NewTicker(l.opt.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.Flush()
		case <-l.stop:
			return
		}
	}
}

// Flush writes buffered lines.
func (l *Logger) Flush() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked()
}

func (l *Logger) flushLocked() error {
	if len(l.buf) == 0 {
		return nil
	}
	_, err := l.w.Write(l.buf)
	l.buf = l.buf[:0]
	return err
}

// Close flushes and stops the flusher.
func (l *Logger) Close() error {
	if l.stop != nil {
		select {
		case <-l.stop:
		default:
			close(l.stop)
			<-l.done
		}
	}
	return l.Flush()
}

// LogAccess implements web.AccessLogger.
func (l *Logger) LogAccess(e *web.AccessEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.opt.Format == JSON:
		l.line = appendJSON(l.line[:0], e)
	case l.opt.Format == Custom && l.opt.Layout != nil:
		l.line = l.opt.Layout.appendLine(l.line[:0], e)
	default:
		l.line = appendCombined(l.line[:0], e)
	}
	if l.opt.Buffer <= 0 {
		l.w.Write(l.line)
		return
	}
	if len(l.buf)+len(l.line) > cap(l.buf) {
		l.flushLocked()
	}
	if len(l.line) > cap(l.buf) {
		l.w.Write(l.line)
		return
	}
	l.buf = append(l.buf, l.line...)
}

func appendRemote(dst []byte, e *web.AccessEntry) []byte {
	if !e.Remote.IsValid() {
		return append(dst, "unix:"...)
	}
	return e.Remote.Addr().AppendTo(dst)
}

func appendCombined(dst []byte, e *web.AccessEntry) []byte {
	dst = appendRemote(dst, e)
	dst = append(dst, " - - ["...)
	dst = e.Start.AppendFormat(dst, "02/Jan/2006:15:04:05 -0700")
	dst = append(dst, "] \""...)
	if r := e.Request; r != nil {
		dst = append(dst, r.Method()...)
		dst = append(dst, ' ')
		dst = appendEscaped(dst, r.Target())
		dst = append(dst, ' ')
		dst = append(dst, r.Proto()...)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, "\" "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.BodyBytes, 10)
	dst = append(dst, " \""...)
	dst = appendField(dst, e.Request, "Referer")
	dst = append(dst, "\" \""...)
	dst = appendField(dst, e.Request, "User-Agent")
	return append(dst, "\"\n"...)
}

func appendField(dst []byte, r *web.Request, name string) []byte {
	if r == nil {
		return append(dst, '-')
	}
	v := r.Header.Peek(name)
	if len(v) == 0 {
		return append(dst, '-')
	}
	return appendEscaped(dst, v)
}

// appendEscaped writes b as nginx does in log strings: '"', '\' and bytes outside
// printable ASCII become \xHH, so a client cannot forge log lines.
func appendEscaped(dst, b []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			dst = append(dst, '\\', 'x', hex[c>>4], hex[c&15])
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

func appendJSON(dst []byte, e *web.AccessEntry) []byte {
	dst = append(dst, `{"time":"`...)
	dst = e.Start.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, `","remote":"`...)
	dst = appendRemote(dst, e)
	dst = append(dst, '"')
	if r := e.Request; r != nil {
		dst = append(dst, `,"method":`...)
		dst = appendJSONString(dst, []byte(r.Method()))
		dst = append(dst, `,"uri":`...)
		dst = appendJSONString(dst, r.Target())
		dst = append(dst, `,"proto":"`...)
		dst = append(dst, r.Proto()...)
		dst = append(dst, `","host":`...)
		dst = appendJSONString(dst, r.Host())
		dst = append(dst, `,"referer":`...)
		dst = appendJSONString(dst, r.Header.Peek("Referer"))
		dst = append(dst, `,"user_agent":`...)
		dst = appendJSONString(dst, r.Header.Peek("User-Agent"))
		if id := requestid.Get(r); id != "" {
			dst = append(dst, `,"request_id":"`...)
			dst = append(dst, id...) // checked: nothing to escape
			dst = append(dst, '"')
		}
	}
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, `,"bytes":`...)
	dst = strconv.AppendInt(dst, e.BodyBytes, 10)
	dst = append(dst, `,"duration_ms":`...)
	dst = strconv.AppendFloat(dst, float64(e.Duration.Microseconds())/1000, 'f', 3, 64)
	return append(dst, "}\n"...)
}

// appendJSONString writes b as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, b[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
