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
	maxCachedFiles       = 1024 // open descriptors held for files over smallFile
)

// fileCache remembers what serving a file needs: its validators and header
// values and, for a file of at most smallFile bytes, its contents. A hit answers
// without opening, stat-ing or reading anything. An entry is trusted for
// Config.CacheValid; after that one stat (through the same confinement as the
// original open) revalidates it: same inode, size and modification time, or the
// entry is dropped and the request takes the full path. Like nginx's
// open_file_cache with open_file_cache_valid, a file changed in place may be
// served from the cache for up to CacheValid after the change.
//
// A file over smallFile keeps an open descriptor in its entry, so a hit does not
// open or close anything either: SendFile reads at explicit offsets, so requests
// share it. The entry counts its users; the descriptor is closed when the entry
// has left the cache and its last user is done.
type fileCache struct {
	valid    time.Duration
	maxBytes int64
	maxFiles int

	mu    sync.RWMutex
	m     map[string]*cacheEntry
	bytes int64
	files int // entries holding a descriptor
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
	clen    string   // Content-Length
	data    []byte   // the contents when size <= smallFile, else nil
	f       *os.File // an open descriptor when size > smallFile, else nil
	refs    atomic.Int32
	checked atomic.Int64
}

// acquire takes a use of e's descriptor; it fails once e has been dropped.
func (e *cacheEntry) acquire() bool {
	for {
		r := e.refs.Load()
		if r == 0 {
			return false
		}
		if e.refs.CompareAndSwap(r, r+1) {
			return true
		}
	}
}

// release ends a use of e's descriptor (or the cache's own hold on it).
func (e *cacheEntry) release() {
	if e.f != nil && e.refs.Add(-1) == 0 {
		e.f.Close()
	}
}

func newFileCache(valid time.Duration, maxBytes int64) *fileCache {
	return &fileCache{valid: valid, maxBytes: maxBytes, maxFiles: maxCachedFiles, m: map[string]*cacheEntry{}}
}

// get returns the entry for key, revalidating it when it is older than valid.
// An entry with a descriptor comes acquired: the caller releases it.
func (c *fileCache) get(h *Handler, key []byte, now time.Time) *cacheEntry {
	c.mu.RLock()
	e := c.m[string(key)] // no copy for a lookup
	c.mu.RUnlock()
	if e == nil {
		return nil
	}
	if now.UnixNano()-e.checked.Load() > int64(c.valid) {
		fi, err := h.stat(e.rel)
		if err != nil || !e.same(fi) {
			c.remove(string(key), e)
			return nil
		}
		e.checked.Store(now.UnixNano())
	}
	if e.f != nil && !e.acquire() {
		return nil // dropped meanwhile
	}
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
	} else {
		// A descriptor of the cache's own: the request's f is closed when the
		// request ends. The dup shares f's open file, so it is the same file
		// that was checked and confined, with no new lookup by name.
		fd, err := syscall.Dup(int(f.Fd()))
		if err != nil {
			return
		}
		syscall.CloseOnExec(fd)
		e.f = os.NewFile(uintptr(fd), rel)
		e.refs.Store(1) // the cache's hold
	}
	e.checked.Store(now.UnixNano())
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.m[string(key)]; old != nil {
		c.drop(string(key), old)
	}
	// Over a bound, drop arbitrary entries (map order): a cache that is full
	// is being walked by something, and any choice serves it as well.
	for k, old := range c.m {
		if c.bytes+int64(len(e.data)) <= c.maxBytes && len(c.m) < maxCacheEntries &&
			(e.f == nil || c.files < c.maxFiles) {
			break
		}
		c.drop(k, old)
	}
	c.m[string(key)] = e
	c.bytes += int64(len(e.data))
	if e.f != nil {
		c.files++
	}
}

func (c *fileCache) remove(key string, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key] == e {
		c.drop(key, e)
	}
}

// drop takes e out of the map; c.mu is held.
func (c *fileCache) drop(key string, e *cacheEntry) {
	delete(c.m, key)
	c.bytes -= int64(len(e.data))
	if e.f != nil {
		c.files--
		e.release() // the cache's hold; the last user closes it
	}
}

// close drops every entry, for Handler.Close.
func (c *fileCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		c.drop(k, e)
	}
}
