package cgi

import (
	"bytes"
	"log/slog"
)

// maxStderrLine bounds one logged line; a longer one is logged in pieces.
const maxStderrLine = 4 << 10

// stderrLog logs a script's standard error, one log record per line, with the
// script's name, so that lines from scripts running at once stay apart.
// os/exec copies into it from one goroutine.
type stderrLog struct {
	log    *slog.Logger
	script string
	buf    []byte
}

func (s *stderrLog) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.buf = append(s.buf, p...)
			for len(s.buf) >= maxStderrLine {
				s.emit(s.buf[:maxStderrLine])
				s.buf = append(s.buf[:0], s.buf[maxStderrLine:]...)
			}
			break
		}
		s.buf = append(s.buf, p[:i]...)
		for len(s.buf) > maxStderrLine {
			s.emit(s.buf[:maxStderrLine])
			s.buf = append(s.buf[:0], s.buf[maxStderrLine:]...)
		}
		s.emit(s.buf)
		s.buf = s.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// flush logs an unterminated last line.
func (s *stderrLog) flush() {
	if len(s.buf) > 0 {
		s.emit(s.buf)
		s.buf = s.buf[:0]
	}
}

func (s *stderrLog) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte("\r"))
	s.log.Warn("cgi stderr", "script", s.script, "line", string(line))
}
