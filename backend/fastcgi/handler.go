package fastcgi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/internal/spool"
	"gatehouse/proto/cgienv"
	"gatehouse/proto/fcgi"
	"gatehouse/upstream"
	"gatehouse/web"
	"gatehouse/web/webcgi"
)

// Handler serves requests through a FastCGI application. It is safe for
// concurrent use.
type Handler struct {
	cfg      Config
	pool     *upstream.Pool
	ownPool  bool
	root     *os.Root // PHP mode: the document root, for confined lookups
	rootDir  string   // absolute
	prefix   string   // the mount point without its final slash: "" for "/"
	index    string
	fallback string // relative to Root, checked; "" for none
	log      *slog.Logger
	spool    *spool.Spooler   // bodies of unknown length
	failures *webcgi.Failures // the failed requests' log, rate-limited
}

var _ web.Handler = (*Handler)(nil)

// New returns a handler for cfg.
func New(cfg Config) (*Handler, error) {
	h := &Handler{cfg: cfg, pool: cfg.Pool, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/"
	}
	if !strings.HasPrefix(cfg.Prefix, "/") || strings.ContainsAny(cfg.Prefix, "%?#") {
		return nil, fmt.Errorf("fastcgi: prefix %q: want a plain path starting with /", cfg.Prefix)
	}
	h.prefix = strings.TrimSuffix(cfg.Prefix, "/")
	h.index = cfg.Index
	if h.index == "" {
		h.index = DefaultIndex
	}
	if !validName(h.index) || strings.Contains(h.index, "/") {
		return nil, fmt.Errorf("fastcgi: index %q: want a file name", h.index)
	}
	switch cfg.Fallback {
	case "-":
	case "":
		h.fallback = h.index
	default:
		if !validName(cfg.Fallback) {
			return nil, fmt.Errorf("fastcgi: fallback %q: want a path relative to the root, without dot segments", cfg.Fallback)
		}
		h.fallback = cfg.Fallback
	}
	if cfg.Root != "" {
		dir, err := filepath.Abs(cfg.Root)
		if err != nil {
			return nil, fmt.Errorf("fastcgi: root: %w", err)
		}
		h.rootDir = dir
	}
	if cfg.PHP {
		if h.rootDir == "" {
			return nil, errors.New("fastcgi: PHP mode needs a root directory")
		}
		root, err := os.OpenRoot(h.rootDir)
		if err != nil {
			return nil, fmt.Errorf("fastcgi: root: %w", err)
		}
		h.root = root
	}
	for _, kv := range cfg.Params {
		if err := checkParam(kv[0], kv[1]); err != nil {
			h.closeRoot()
			return nil, err
		}
	}
	if h.pool == nil {
		p, err := upstream.New(cfg.Upstream)
		if err != nil {
			h.closeRoot()
			return nil, fmt.Errorf("fastcgi: %w", err)
		}
		h.pool, h.ownPool = p, true
	}
	if cfg.ServerSoftware == "" {
		cfg.ServerSoftware = DefaultServerSoftware
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxHeadBytes <= 0 {
		cfg.MaxHeadBytes = DefaultMaxHeadBytes
	}
	if cfg.MaxSpoolBytes == 0 {
		cfg.MaxSpoolBytes = DefaultMaxSpoolBytes
	}
	h.cfg = cfg
	h.spool = &spool.Spooler{Memory: spoolMem, Dir: cfg.SpoolDir, Pattern: "gatehouse-body-*"}
	h.failures = &webcgi.Failures{Limiter: lograte.Limiter{Logger: h.log}, Msg: "fastcgi request failed"}
	return h, nil
}

// validName reports a relative slash-separated path without empty, dot or
// dot-dot segments and without control characters.
func validName(p string) bool {
	if p == "" || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return false
	}
	return !path.IsAbs(p) && path.Clean(p) == p && p != "." && !strings.HasPrefix(p, "../") && p != ".."
}

func (h *Handler) closeRoot() {
	if h.root != nil {
		h.root.Close()
	}
}

// Close releases the root directory and, when New built it, the pool.
func (h *Handler) Close() error {
	h.closeRoot()
	if h.ownPool {
		return h.pool.Close()
	}
	return nil
}

// ServeHTTP runs the request through the application. Its failures are
// logged here, rate-limited (webcgi.Failures), not by the server per request.
func (h *Handler) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	return h.failures.Check(r, h.serve(w, r), "upstream", h.pool.String())
}

func (h *Handler) serve(w web.ResponseWriter, r *web.Request) error {
	raw := r.RoutePath() // cleaned by the router: slashes merged, no dot segments
	rawKey, ok := bytes.CutPrefix(raw, []byte(h.prefix))
	if !ok || len(rawKey) > 0 && rawKey[0] != '/' {
		return web.ErrNotFound // "/blogX" is not under "/blog/"
	}
	cr := webcgi.Request(r)
	cr.Path = raw
	mount := cgienv.Mount{
		ScriptName:     h.prefix,
		DocumentRoot:   h.rootDir,
		ScriptFilename: h.cfg.Script,
		ServerSoftware: h.cfg.ServerSoftware,
		Extra:          h.cfg.Params,
	}
	var over override
	if h.cfg.PHP {
		key := ""
		if len(rawKey) > 0 {
			var err error
			// cgienv decodes the same way for PATH_INFO: refusing CR, LF and
			// other control bytes here keeps CVE-2019-11043 inputs away from
			// php-fpm, and the lookup below sees the path PHP will see.
			if key, err = cgienv.Unescape(rawKey); err != nil {
				return errBadPath
			}
		}
		t, err := h.resolve(key, h.prefix, r.RawQuery())
		if err != nil {
			return err
		}
		if t.location != "" {
			w.Header().Set("Location", t.location)
			w.WriteHeader(301)
			return nil
		}
		mount.ScriptFilename = filepath.Join(h.rootDir, filepath.FromSlash(t.file))
		if t.internal {
			// As nginx's index and try_files ... /index.php?$query_string:
			// the script runs as itself, REQUEST_URI and QUERY_STRING stay
			// the request's, and there is no PATH_INFO (nor PATH_TRANSLATED).
			over = override{active: true, scriptName: h.prefix + t.scriptName}
		} else {
			mount.ScriptName = h.prefix + t.scriptName
		}
	}

	src, length, cleanup, err := h.body(r)
	if err != nil {
		return err
	}
	defer cleanup()
	if r.ContentLength() < 0 {
		cr.BodyLength = length // a chunked body, spooled to learn its length
	}

	ex := getExchange()
	defer putExchange(ex)
	var flags uint8 = fcgi.FlagKeepConn
	if h.cfg.NoKeepConn {
		flags = 0
	}
	ex.out = fcgi.AppendBeginRequest(ex.out[:0], requestID, fcgi.RoleResponder, flags)
	ex.pairs = ex.pairs[:0]
	var perr error
	set := func(name, value string) {
		name, value, keep := over.apply(name, value)
		if keep && perr == nil {
			ex.pairs, perr = fcgi.AppendPair(ex.pairs, name, value)
		}
	}
	if err := cgienv.Build(cr, &mount, set); err != nil {
		if errors.Is(err, cgienv.ErrPath) {
			return errBadPath
		}
		return &web.Error{Status: 404, Err: err}
	}
	if perr != nil {
		return &web.Error{Status: 400, Err: perr}
	}
	ex.out = fcgi.AppendRecord(ex.out, fcgi.TypeParams, requestID, ex.pairs)
	ex.out = fcgi.AppendRecord(ex.out, fcgi.TypeParams, requestID, nil)

	// The first write carries the request and up to firstBody bytes of its
	// body: it can be sent again when a kept connection turns out dead.
	ex.bodyLeft = length
	ex.src = src
	if err := ex.appendStdin(firstBody); err != nil {
		return err
	}
	ctx := r.Context()
	want := upstream.Want{Key: h.pool.KeyFor(r.RemoteAddr().Addr())} // for ip_hash
	for attempt := 0; ; attempt++ {
		want.Fresh = attempt > 0 // a retry: on a new connection
		var c *upstream.Conn
		c, err = h.pool.GetWant(ctx, want)
		if err != nil {
			return err
		}
		upstream.Connected(r)
		err = h.exchange(ex, w, r, c)
		if err == errRetry && attempt == 0 {
			continue
		}
		if err == errRetry {
			err = &web.Error{Status: 502, Err: fmt.Errorf("fastcgi: %s closed the connection before answering", c.Upstream())}
		}
		return err
	}
}

// requestID is the id of every request: a connection carries one request at
// a time (FCGI_MPXS_CONNS is not used), so ids need not differ.
const requestID = 1

// firstBody is how much of the body goes with the first write (a multiple
// of 8 below 65535, so one padless record).
const firstBody = 65528

// override replaces SCRIPT_NAME and empties PATH_INFO for a script that
// runs as itself (a directory's index, the fallback), and drops
// PATH_TRANSLATED, which would name a file that is not there.
type override struct {
	active     bool
	scriptName string
}

func (o override) apply(name, value string) (string, string, bool) {
	if !o.active {
		return name, value, true
	}
	switch name {
	case "SCRIPT_NAME":
		return name, o.scriptName, true
	case "PATH_INFO":
		return name, "", true
	case "PATH_TRANSLATED":
		return name, value, false
	}
	return name, value, true
}

// exchange holds the buffers of one request, pooled.
type exchange struct {
	out      []byte // the first write
	pairs    []byte
	src      io.Reader // the body after what out holds
	bodyLeft int64     // body bytes not yet in out
	bodyDone bool      // out ends the STDIN stream
	rbuf     []byte
	head     fcgi.Head
	headBuf  []byte
	stderr   []byte
}

var exchanges = sync.Pool{New: func() any {
	return &exchange{out: make([]byte, 0, 16<<10), rbuf: make([]byte, 32<<10)}
}}

func getExchange() *exchange { return exchanges.Get().(*exchange) }

func putExchange(ex *exchange) {
	if cap(ex.out) > 256<<10 || cap(ex.headBuf) > 64<<10 {
		return // an outsized request: let it go rather than pin its buffers
	}
	ex.src = nil
	ex.head.Reset()
	ex.headBuf, ex.stderr = ex.headBuf[:0], ex.stderr[:0]
	exchanges.Put(ex)
}

// appendStdin reads up to max body bytes into out as one STDIN record, and
// ends the stream when the body is done.
func (ex *exchange) appendStdin(max int) error {
	ex.bodyDone = false
	if n := int(min(ex.bodyLeft, int64(max))); n > 0 {
		pos := len(ex.out)
		ex.out = fcgi.AppendHeader(ex.out, fcgi.TypeStdin, requestID, n)
		ex.out = append(ex.out, make([]byte, n)...)
		if _, err := io.ReadFull(ex.src, ex.out[pos+fcgi.HeaderLen:]); err != nil {
			return bodyError(err)
		}
		ex.out = fcgi.AppendPadding(ex.out, n)
		ex.bodyLeft -= int64(n)
	}
	if ex.bodyLeft == 0 {
		ex.out = fcgi.AppendRecord(ex.out, fcgi.TypeStdin, requestID, nil)
		ex.bodyDone = true
	}
	return nil
}

// bodyError is the error for a request body that could not be read: the
// server's own (408, 413, 400 for a body cut short) when it says so.
func bodyError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &web.Error{Status: 400, Err: fmt.Errorf("fastcgi: request body shorter than its length: %w", err)}
	}
	var we *web.Error
	if errors.As(err, &we) {
		return err
	}
	return fmt.Errorf("fastcgi: read request body: %w", err)
}

// deadline returns the deadline for the next wait of d, bounded by the
// exchange's own.
func deadline(d time.Duration, end time.Time) time.Time {
	t := time.Now().Add(d)
	if !end.IsZero() && end.Before(t) {
		return end
	}
	return t
}

// errRetry says the exchange failed on a reused connection before anything
// of it was lost: try once more on a fresh connection.
var errRetry = errors.New("fastcgi: retry on a fresh connection")

// ParamError reports an extra parameter that cannot be sent (Config.Params).
type ParamError struct {
	Name   string
	Reason string // "is not a variable name", ...
}

func (e *ParamError) Error() string { return fmt.Sprintf("fastcgi: parameter %q %s", e.Name, e.Reason) }

// checkParam checks an extra parameter: a name of visible characters other
// than '=', and a value without NUL or CR. A value may hold line feeds:
// php-fpm reads PHP_VALUE and PHP_ADMIN_VALUE as settings one per line
// ("upload_max_filesize=64M\npost_max_size=64M"); FastCGI frames every
// value by its length, so a line feed ends nothing.
func checkParam(name, value string) error {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c == '=' || c >= 0x7f {
			return &ParamError{name, "is not a variable name"}
		}
	}
	if name == "" {
		return &ParamError{name, "is not a variable name"}
	}
	if strings.ContainsAny(value, "\x00\r") {
		return &ParamError{name, "has a NUL or a carriage return in its value"}
	}
	return nil
}
