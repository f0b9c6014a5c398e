package xsendfile

import (
	"bytes"
	"net/url"
	"sync"
)

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func urlUnescape(s string) (string, error) { return url.PathUnescape(s) }

func mustUnescape(p string) string {
	s, err := url.PathUnescape(p)
	if err != nil {
		panic(err)
	}
	return s
}
