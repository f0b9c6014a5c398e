package static

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of the file cache; see Config.
const (
	DefaultCacheValid    = time.Second
	DefaultCacheMaxBytes = 64 << 20
	maxCacheEntries      = 16384
)

// fileCache remembers what serving a file needs: its validators and header
// values and, for a file of at most smallFile bytes, its contents. A hit answers
// without opening, stat-ing or reading anything. An entry is trusted for
// Config.CacheValid; after that one stat (through the same confinement as the
// original open) revalidates it: same inode, size and modification time, or the
// entry is dropped and the request takes the full path. Like nginx's
// open_file_cache with open_file_cache_valid, a file changed in place may be
// served from the cache for up to CacheValid after the change.
type fileCache struct {
	valid    time.Duration
	maxBytes int64

	mu    sync.RWMutex
	m     map[string]*cacheEntry
	bytes int64
}

type cacheEntry struct {
	rel     string // path under the root, as opened
	size    int64
	mtime   int64 // nanoseconds
	ino     uint64
	dev     uint64
	val     validators
	lastMod string // Last-Modified, formatted once
	ctype   string
	clen    string // Content-Length
	data    []byte // the contents when size <= smallFile, else nil
	checked atomic.Int64
}

func newFileCache(valid time.Duration, maxBytes int64) *fileCache {
	return &fileCache{valid: valid, maxBytes: maxBytes, m: map[string]*cacheEntry{}}
}

// get returns the entry for key, revalidating it when it is older than valid.
func (c *fileCache) get(h *Handler, key []byte, now time.Time) *cacheEntry {
	c.mu.RLock()
	e := c.m[string(key)] // no copy for a lookup
	c.mu.RUnlock()
	if e == nil {
		return nil
	}
	if now.UnixNano()-e.checked.Load() <= int64(c.valid) {
		return e
	}
	fi, err := h.stat(e.rel)
	if err != nil || !e.same(fi) {
		c.remove(string(key), e)
		return nil
	}
	e.checked.Store(now.UnixNano())
	return e
}

func (e *cacheEntry) same(fi os.FileInfo) bool {
	if !fi.Mode().IsRegular() || fi.Size() != e.size || fi.ModTime().UnixNano() != e.mtime {
		return false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino == e.ino && uint64(st.Dev) == e.dev
	}
	return true
}

// put records an entry for key from an open regular file.
func (c *fileCache) put(key []byte, rel string, f *os.File, fi os.FileInfo, val validators, ctype string, now time.Time) {
	e := &cacheEntry{
		rel: rel, size: fi.Size(), mtime: fi.ModTime().UnixNano(), val: val,
		lastMod: val.modTime.Format(timeFormat), ctype: ctype, clen: strconv.FormatInt(fi.Size(), 10),
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		e.ino, e.dev = st.Ino, uint64(st.Dev)
	}
	if e.size <= smallFile {
		data := make([]byte, e.size)
		if n, _ := f.ReadAt(data, 0); n != len(data) {
			return // the file shrank under us: do not remember it
		}
		e.data = data
	}
	e.checked.Store(now.UnixNano())
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[string(key)]; old != nil {
		c.bytes -= int64(len(old.data))
	}
	// Over a bound, drop arbitrary entries (map order): a cache that is full
	// is being walked by something, and any choice serves it as well.
	for k, old := range c.m {
		if c.bytes+int64(len(e.data)) <= c.maxBytes && len(c.m) < maxCacheEntries {
			break
		}
		delete(c.m, k)
		c.bytes -= int64(len(old.data))
	}
	c.m[string(key)] = e
	c.bytes += int64(len(e.data))
}

func (c *fileCache) remove(key string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key] == e {
		delete(c.m, key)
		c.bytes -= int64(len(e.data))
	}
}
