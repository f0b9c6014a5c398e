package tlsconf

import (
	"context"
	"errors"
	"os"
	"time"
)

// Reload reads the certificates again and serves them from the next
// handshake on; connections already made keep theirs. If any certificate
// cannot be served, nothing changes: the old ones keep serving, and the
// error (a *CertError, naming the file and the reason) is logged and
// returned.
func (cs *Certs) Reload() error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return cs.reload()
}

func (cs *Certs) reload() error {
	s, err := load(&cs.cfg)
	cs.stamps = stampFiles(&cs.cfg)
	if err != nil {
		file, reason := "", err.Error()
		var ce *CertError
		if errors.As(err, &ce) {
			file, reason = ce.File, ce.Err.Error()
		}
		cs.log.Warn("tls: certificates not reloaded; the old ones keep serving",
			"listener", cs.cfg.Name, "file", file, "err", reason)
		return err
	}
	cs.cur.Store(s)
	first := s.info[0].NotAfter
	for _, c := range s.info[1:] {
		if c.NotAfter.Before(first) {
			first = c.NotAfter
		}
	}
	cs.log.Info("tls: certificates reloaded", "listener", cs.cfg.Name, "certificates", len(s.info),
		"first_expiry", first.UTC().Format(time.RFC3339))
	return nil
}

// stamp is what a file looked like when it was last read. A change of
// file (a renewal written beside it and renamed over it; certbot pointing
// a symbolic link at a new file, which Stat follows), of modification time
// or of size means it was replaced or rewritten.
type stamp struct{ fi os.FileInfo } // nil: the file could not be read

func (s stamp) same(o stamp) bool {
	if s.fi == nil || o.fi == nil {
		return s.fi == nil && o.fi == nil
	}
	return os.SameFile(s.fi, o.fi) && s.fi.ModTime().Equal(o.fi.ModTime()) && s.fi.Size() == o.fi.Size()
}

func stampFiles(c *Config) []stamp {
	var files []string
	for _, p := range c.Certs {
		files = append(files, p.Cert, p.Key)
	}
	if p := c.Default; p != nil {
		files = append(files, p.Cert, p.Key)
	}
	out := make([]stamp, len(files))
	for i, f := range files {
		if fi, err := os.Stat(f); err == nil {
			out[i] = stamp{fi}
		}
	}
	return out
}

// ReloadIfChanged reloads when a file changed since it was last read (see
// stamp), and reports whether it tried. A failed
// reload is not tried again until a file changes again: a renewal written
// in two steps (the certificate, then the key) fails at the first and
// succeeds at the second.
func (cs *Certs) ReloadIfChanged() (bool, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	now := stampFiles(&cs.cfg)
	changed := false
	for i := range now {
		changed = changed || !now[i].same(cs.stamps[i])
	}
	if !changed {
		return false, nil
	}
	return true, cs.reload()
}

// Watch calls ReloadIfChanged every interval until ctx ends: for systems
// that replace certificate files without telling gatehouse (SIGHUP does it
// at once).
func (cs *Certs) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			cs.ReloadIfChanged()
		}
	}
}
