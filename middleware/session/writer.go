package session

import (
	"bytes"
	"log/slog"
	"os"

	"gatehouse/web"
)

// writer applies the backend's session fields and saves the session when
// the response's head is about to go out: the Set-Cookie must be in it, and
// a store that fails must still be able to turn the response into a 503.
type writer struct {
	web.WriterWrapper
	m    *Manager
	s    *Session
	r    *web.Request
	done bool  // commit ran
	err  error // commit's failure: nothing of the response was sent
	vary bool  // the backend saw session values: its response depends on the cookie
}

// commit reads and removes the backend's X-Session-* fields, saves the
// session and sets its cookie. On failure nothing is written: the handler
// sees a failed write and the middleware returns the error.
func (w *writer) commit() error {
	if w.done {
		return w.err
	}
	w.done = true
	h := w.ResponseWriter.Header()
	w.apply(h)
	sc, err := w.m.Save(w.r, w.s)
	if err != nil {
		w.err = err
		return err
	}
	if w.vary && !varies(h) {
		// The backend built this response from one user's session: a
		// shared cache must not hand it to another (Vary: Cookie).
		h.Add("Vary", "Cookie")
	}
	if sc != "" {
		h.Add("Set-Cookie", sc)
		// A response that sets a session cookie is for one client only.
		if !h.Has("Cache-Control") {
			h.Set("Cache-Control", "private, no-store")
		}
	}
	return nil
}

// apply carries out the backend's session fields and removes every
// X-Session-* field, in any spelling, from the response.
func (w *writer) apply(h *web.Header) {
	has := false
	for i := 0; i < h.Len(); i++ {
		if isSessionField(h.At(i).Name) {
			has = true
			break
		}
	}
	if !has {
		return
	}
	s, m := w.s, w.m
	renewed := false
	for i := 0; i < h.Len(); i++ {
		f := h.At(i)
		switch {
		case equalFold(f.Name, FieldSet):
			name, val, ok := ParseSet(f.Value)
			if !ok || !m.passes(string(name)) {
				m.failure.Log(slog.LevelWarn, FieldSet, "session: backend field refused", "field", FieldSet, "value", string(f.Value),
					"target", string(w.r.Target()), "reason", "malformed, or a value the configuration does not pass")
				continue
			}
			s.Set(string(name), string(val)) // renews by itself for a RenewOn value
		case equalFold(f.Name, FieldDelete):
			name := string(bytes.ToLower(trim(f.Value)))
			if !m.passes(name) {
				m.failure.Log(slog.LevelWarn, FieldDelete, "session: backend field refused", "field", FieldDelete, "value", string(f.Value),
					"target", string(w.r.Target()), "reason", "a value the configuration does not pass")
				continue
			}
			s.Delete(name)
		case equalFold(f.Name, FieldRenew):
			renewed = true
		case equalFold(f.Name, FieldDestroy):
			s.Destroy()
		}
	}
	if renewed {
		s.Renew()
	}
	for i := 0; i < h.Len(); {
		if n := h.At(i).Name; isSessionField(n) {
			h.Del(string(n)) // every field of that name, in any case
			continue
		}
		i++
	}
}

func (m *Manager) passes(name string) bool {
	for _, p := range m.pass {
		if p.name == name {
			return true
		}
	}
	return false
}

// isSessionField: X-Session-*, in any case, with '_' or '-'.
func isSessionField(name []byte) bool {
	const p = "x-session-"
	if len(name) <= len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		if c != p[i] {
			return false
		}
	}
	return true
}

func equalFold(b []byte, s string) bool {
	return len(b) == len(s) && bytes.EqualFold(b, []byte(s))
}

func (w *writer) WriteHeader(code int) {
	if w.commit() == nil {
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *writer) Write(p []byte) (int, error) {
	if err := w.commit(); err != nil {
		return 0, err
	}
	return w.ResponseWriter.Write(p)
}

func (w *writer) WriteString(s string) (int, error) {
	if err := w.commit(); err != nil {
		return 0, err
	}
	return w.ResponseWriter.WriteString(s)
}

func (w *writer) Flush() error {
	if err := w.commit(); err != nil {
		return err
	}
	return w.ResponseWriter.Flush()
}

func (w *writer) SendFile(f *os.File, offset, count int64) error {
	if err := w.commit(); err != nil {
		return err
	}
	return w.ResponseWriter.SendFile(f, offset, count)
}

// varies reports whether the response's Vary already names Cookie (or *).
func varies(h *web.Header) bool {
	for v := range h.Values("Vary") {
		for _, part := range bytes.Split(v, []byte(",")) {
			if p := trim(part); equalFold(p, "Cookie") || string(p) == "*" {
				return true
			}
		}
	}
	return false
}
