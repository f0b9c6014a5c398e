package cgi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"gatehouse/internal/lograte"
	"gatehouse/internal/rawio"
	"gatehouse/proto/cgienv"
	"gatehouse/proto/http1"
	"gatehouse/upstream"
	"gatehouse/web"
	"gatehouse/web/webcgi"
)

// Defaults for Config.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultMaxHeaderBytes = 32 << 10  // as the HTTP server's request head limit
	DefaultMaxBodyBytes   = 128 << 20 // as the HTTP server's body limit
	DefaultServerSoftware = "gatehouse"
)

// maxLocalRedirects bounds a chain of local redirects (a script redirecting to
// itself would otherwise loop forever).
const maxLocalRedirects = 10

// waitDelay is how long, after a script exits, its output pipes may stay open
// (held by a child it left behind) before they are closed under it.
const waitDelay = time.Second

// Config describes one CGI directory, or one script.
type Config struct {
	// Root is the directory holding the scripts. Required unless Script is
	// set. Only files under it run; symlinks that lead out of it do not
	// exist.
	Root string
	// Script is one executable that serves every path under Prefix, as
	// Apache's ScriptAlias /app /path/to/app.cgi: SCRIPT_NAME is the prefix
	// (without its final '/'), PATH_INFO the rest of the path, so a program
	// such as cgit needs no file of its own to know its mount point. With
	// Script, Root is not used.
	Script string
	// Prefix is the URL path the directory is mounted at, such as
	// "/cgi-bin/": "/cgi-bin/app.py/x" runs Root/app.py with PATH_INFO "/x".
	// Default "/".
	Prefix string
	// WorkDir is the scripts' working directory. Default "": the directory
	// holding the script (RFC 3875 §7.2).
	WorkDir string
	// Env lists the names of gatehouse's own environment variables passed to
	// scripts, read once at New. nil means ["PATH"]; an empty, non-nil list
	// passes none. They are set after the CGI variables: a request can never
	// override them.
	Env []string
	// Params are extra variables set after the CGI ones (they may override
	// them), such as {"REDIRECT_STATUS", "200"} for php-cgi. Default none.
	Params [][2]string
	// Timeout bounds a whole request: running the script and relaying its
	// output. Default 60 s; negative: none. On expiry the script's process
	// group is killed and the client gets 504 (or a cut response, if the
	// head was sent).
	Timeout time.Duration
	// MaxHeaderBytes bounds the response head a script prints, in bytes.
	// Default 32 KiB. A script that prints more without ending its head is
	// killed and the client gets 502.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request body of unknown length (chunked), which
	// is spooled to a temporary file before the script starts (it needs
	// CONTENT_LENGTH). Default 128 MiB; over it: 413. Bodies of known length
	// are streamed and bounded by the HTTP server's own limit.
	MaxBodyBytes int64
	// SpoolDir is where such bodies are spooled. Default "": os.TempDir().
	SpoolDir string
	// NPH runs scripts whose names start with "nph-" as non-parsed-header
	// scripts (RFC 3875 §5): their output, a whole HTTP response, goes to the
	// client as it is, and the connection closes after it. Default false: they
	// run as ordinary scripts. The script then owns the response's framing
	// and safety; only the HTTP server can run them (not the uwsgi server).
	NPH bool
	// LocalRedirect serves a script's local redirect (RFC 3875 §6.2.2: a
	// Location that is a path): the path is served by this handler as a GET,
	// with the request's fields but no body. Usually the site's router.
	// Default nil: the client is sent a 302 to the path instead.
	LocalRedirect web.Handler
	// ServerSoftware is SERVER_SOFTWARE. Default "gatehouse".
	ServerSoftware string
	// Logger receives scripts' standard error (one record per line, with the
	// script) and a line per failed script. nil means slog.Default().
	Logger *slog.Logger
}

// Handler runs the CGI scripts of one Config.
type Handler struct {
	cfg      Config
	root     string           // absolute, symlinks resolved
	script   string           // Config.Script, absolute; "" for a directory
	mount    string           // Prefix without its trailing '/'
	env      []string         // NAME=value from gatehouse's environment
	failures *webcgi.Failures // the failed requests' log, rate-limited
}

var _ web.Handler = (*Handler)(nil)

// New checks cfg.Root and returns a handler for it.
func New(cfg Config) (*Handler, error) {
	var root, single string
	switch {
	case cfg.Script != "":
		abs, err := filepath.Abs(cfg.Script)
		if err != nil {
			return nil, fmt.Errorf("cgi: %w", err)
		}
		fi, err := os.Stat(abs)
		switch {
		case err != nil:
			return nil, fmt.Errorf("cgi: %w", err)
		case !fi.Mode().IsRegular():
			return nil, fmt.Errorf("cgi: %s is not a file: %w", cfg.Script, ErrNotScript)
		case fi.Mode().Perm()&0o111 == 0:
			return nil, fmt.Errorf("cgi: %s is not executable: %w", cfg.Script, ErrNotScript)
		}
		single = abs
	case cfg.Root == "":
		return nil, errors.New("cgi: no root directory")
	default:
		abs, err := filepath.Abs(cfg.Root)
		if err != nil {
			return nil, fmt.Errorf("cgi: %w", err)
		}
		if root, err = filepath.EvalSymlinks(abs); err != nil {
			return nil, fmt.Errorf("cgi: %w", err)
		}
		if fi, err := os.Stat(root); err != nil {
			return nil, fmt.Errorf("cgi: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("cgi: %s is not a directory", root)
		}
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/"
	}
	if cfg.Prefix[0] != '/' {
		return nil, fmt.Errorf("cgi: prefix %q does not start with '/'", cfg.Prefix)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ServerSoftware == "" {
		cfg.ServerSoftware = DefaultServerSoftware
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	names := cfg.Env
	if names == nil {
		names = []string{"PATH"}
	}
	h := &Handler{cfg: cfg, root: root, script: single, mount: strings.TrimSuffix(cfg.Prefix, "/")}
	h.failures = &webcgi.Failures{Limiter: lograte.Limiter{Logger: cfg.Logger}, Msg: "cgi request failed"}
	for _, name := range names {
		if v, ok := os.LookupEnv(name); ok {
			h.env = append(h.env, name+"="+v)
		}
	}
	return h, nil
}

var (
	errTimeout     = &web.Error{Status: 504, Err: errors.New("cgi: script did not finish in time")}
	errNoHead      = &web.Error{Status: 502, Err: errors.New("cgi: script ended without a response head")}
	errLocalLoop   = &web.Error{Status: 500, Err: errors.New("cgi: too many local redirects")}
	errBadLocation = &web.Error{Status: 502, Err: errors.New("cgi: local Location with a space or control character")}
	errNoUpgrade   = &web.Error{Status: 502, Err: errors.New("cgi: nph script on a connection that cannot be taken over")}
)

// ServeHTTP resolves the script the path names and runs it.
func (h *Handler) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	if h.script != "" {
		return h.failures.Check(r, h.serve(w, r), "script", h.script)
	}
	return h.failures.Check(r, h.serve(w, r), "root", h.root)
}

// ErrNotScript reports a Config.Script that is not an executable file.
var ErrNotScript = errors.New("not a script")

// serve is ServeHTTP but for the failures' log.
func (h *Handler) serve(w web.ResponseWriter, r *web.Request) error {
	rel, ok := bytes.CutPrefix(r.RoutePath(), []byte(h.mount))
	if h.script != "" && ok && len(rel) == 0 {
		rel = []byte("/") // the mount point itself: PATH_INFO "/"
	}
	if !ok || len(rel) == 0 || rel[0] != '/' {
		return web.ErrNotFound // "/cgi-binX" is not under "/cgi-bin/"
	}
	if h.script != "" {
		// One script for every path: all of rel is PATH_INFO, checked as
		// a directory's paths are (no dot segments, encoded '/', control
		// bytes), since the script may well map it onto files.
		segs, dirForm, err := splitPath(string(rel))
		if err != nil {
			return err
		}
		return h.run(w, r, &script{file: h.script, segs: segs, dirForm: dirForm})
	}
	s, err := h.resolve(string(rel))
	if err != nil {
		return err
	}
	return h.run(w, r, s)
}

// environ builds the script's environment: the CGI variables, Params, then the
// allowed variables of gatehouse's own environment.
func (h *Handler) environ(r *web.Request, s *script, length int64) ([]string, error) {
	cr := webcgi.Request(r)
	// The path the variables are split from is rebuilt from the checked
	// segments, so that SCRIPT_NAME is a prefix of it whatever the request's
	// spelling ("//" merged, unreserved escapes decoded).
	var p strings.Builder
	p.WriteString(h.mount)
	for _, seg := range s.segs {
		p.WriteByte('/')
		p.WriteString(url.PathEscape(seg))
	}
	if s.dirForm || len(s.segs) == 0 {
		p.WriteByte('/')
	}
	cr.Path = []byte(p.String())
	if r.ContentLength() < 0 {
		cr.BodyLength = length // a chunked body, spooled to learn its length
	}
	m := cgienv.Mount{
		ScriptName:     s.name(h.mount),
		ScriptFilename: s.file,
		ServerSoftware: h.cfg.ServerSoftware,
		Extra:          h.cfg.Params,
	}
	env := make([]string, 0, 32+len(h.env))
	err := cgienv.Build(cr, &m, func(name, value string) {
		if strings.IndexByte(value, 0) < 0 { // an environment string cannot hold NUL
			env = append(env, name+"="+value)
		}
	})
	switch {
	case errors.Is(err, cgienv.ErrPath):
		return nil, &web.Error{Status: 400, Err: err}
	case err != nil:
		return nil, &web.Error{Status: 404, Err: err}
	}
	return append(env, h.env...), nil
}

// proc is one running script.
type proc struct {
	h        *Handler
	cmd      *exec.Cmd
	name     string // SCRIPT_NAME, for the log
	stdout   *os.File
	raw      syscall.RawConn // stdout's, for reads that do not wait
	stderr   *stderrLog
	timedOut atomic.Bool
	killed   atomic.Bool // by us: its timeout, its client gone, or its response abandoned
	waited   bool
}

// kill ends the script's whole process group: a script's children (a shell
// pipeline, a background job) must not outlive a request that was abandoned.
func (p *proc) kill() {
	p.killed.Store(true)
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// wait reaps the script and logs how it ended, if badly.
func (p *proc) wait() {
	if p.waited {
		return
	}
	p.waited = true
	err := p.cmd.Wait()
	p.stderr.flush()
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
	case errors.As(err, &ee) && p.killed.Load(): // ended by kill: the reason is logged where it was decided
	case errors.As(err, &ee):
		status := ee.ProcessState.String()
		p.h.failures.Log(slog.LevelWarn, p.name+"\x00"+status, "cgi script failed", "script", p.name, "status", status)
	default:
		p.h.failures.Log(slog.LevelWarn, p.name, "cgi script wait failed", "script", p.name, "err", err)
	}
}

// run starts the script, feeds it the body and relays its response.
//
// The body is written to the script's stdin before its output is read, on the
// handler's goroutine: the request body and the response writer are not safe
// to use from two goroutines at once. A script that prints more than a pipe
// holds (64 KiB on Linux) before reading its input therefore blocks until the
// timeout, as with Apache's mod_cgi; scripts read their input first.
func (h *Handler) run(w web.ResponseWriter, r *web.Request, s *script) error {
	ctx := r.Context()
	if h.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.Timeout)
		defer cancel()
	}

	// stdin: nothing, a pipe fed from the body, or the spooled body.
	var stdin, feed *os.File
	length := r.ContentLength()
	switch {
	case length < 0:
		f, n, err := spool(r.Body(), h.cfg.SpoolDir, h.cfg.MaxBodyBytes)
		if err != nil {
			return err
		}
		defer f.Close()
		stdin, length = f, n
	case length > 0:
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		defer pw.Close()
		stdin, feed = pr, pw
	}
	env, err := h.environ(r, s, length)
	if err != nil {
		if feed != nil {
			stdin.Close()
		}
		return err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer outR.Close()

	name := s.name(h.mount)
	p := &proc{h: h, name: name, stdout: outR, stderr: &stderrLog{log: h.cfg.Logger, script: name}}
	cmd := exec.Command(s.file)
	cmd.Env = env
	cmd.Dir = h.cfg.WorkDir
	if cmd.Dir == "" {
		cmd.Dir = filepath.Dir(s.file)
	}
	if stdin != nil {
		cmd.Stdin = stdin
	}
	cmd.Stdout, cmd.Stderr = outW, p.stderr
	// Its own process group, so that a kill reaches the children it starts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = waitDelay
	p.cmd = cmd
	err = cmd.Start()
	outW.Close()
	if feed != nil {
		stdin.Close() // the script's end
	}
	if err != nil {
		if errors.Is(err, fs.ErrPermission) { // EACCES: not executable for this user
			return &web.Error{Status: 403, Err: err}
		}
		return &web.Error{Status: 502, Err: fmt.Errorf("cgi: start %s: %w", name, err)}
	}
	upstream.Connected(r) // the script started: a CGI request's connect
	stop := context.AfterFunc(ctx, func() {
		if ctx.Err() == context.DeadlineExceeded {
			p.timedOut.Store(true)
		}
		p.kill()
		now := time.Now()
		outR.SetReadDeadline(now) // a child that escaped the group may hold the pipe
		if feed != nil {
			feed.SetWriteDeadline(now)
		}
	})
	defer func() {
		stop()
		if !p.waited {
			p.kill()
			p.wait()
		}
	}()

	if feed != nil {
		if err := feedBody(feed, r.Body(), length); err != nil {
			return err
		}
		feed.Close()
	}
	w.WatchClient() // a client that leaves kills the script
	if s.nph() && h.cfg.NPH {
		return h.relayNPH(ctx, w, p)
	}
	return h.relay(ctx, w, r, p)
}

// feedBody copies the request body to the script's stdin. A script that stops
// reading (it exits, or closes stdin) ends the copy without an error: its
// response decides. An error reading the body is the client's and is returned.
func feedBody(stdin *os.File, body io.Reader, n int64) error {
	buf := make([]byte, 32<<10)
	for n > 0 {
		k, err := body.Read(buf[:min(int64(len(buf)), n)])
		if k > 0 {
			n -= int64(k)
			if _, werr := stdin.Write(buf[:k]); werr != nil {
				return nil
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var errNotReady = rawio.ErrNotReady

// readReady reads what the script has printed, without waiting: errNotReady
// when there is nothing yet. At the end of the output it returns io.EOF.
func (p *proc) readReady(buf []byte) (int, error) {
	if p.raw == nil {
		rc, err := p.stdout.SyscallConn()
		if err != nil {
			return 0, errNotReady
		}
		p.raw = rc
	}
	return rawio.ReadNoWait(p.raw, buf)
}

// outcome maps a failed read of the script's output to the request's fate.
func (p *proc) outcome(ctx context.Context, err error) error {
	switch {
	case p.timedOut.Load() || ctx.Err() == context.DeadlineExceeded:
		return errTimeout
	case ctx.Err() != nil:
		return fmt.Errorf("cgi: %s: client went away: %w", p.name, ctx.Err())
	}
	return err
}

// relay reads the response head, then answers: a local redirect, a client
// redirect, or the document, whose body streams to the client as the script
// prints it.
func (h *Handler) relay(ctx context.Context, w web.ResponseWriter, r *web.Request, p *proc) error {
	buf := make([]byte, 0, 16<<10)
	var hd head
	var n int
	for {
		var err error
		n, err = parseHead(buf, h.cfg.MaxHeaderBytes, &hd)
		if err == nil {
			break
		}
		if err != errNeedMore {
			p.kill()
			return h.failures.Warn(err, p.name+"\x00"+err.Error(), "cgi script sent a bad response head",
				"script", p.name, "target", string(r.Target()), "err", err)
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
		k, rerr := p.stdout.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+k]
		if k == 0 && rerr != nil {
			if rerr == io.EOF {
				p.wait()
				if err := p.outcome(ctx, nil); err != nil {
					return err // killed: its timeout, or its client left
				}
				return h.failures.Warn(errNoHead, p.name, "cgi script ended without a response head",
					"script", p.name, "target", string(r.Target()), "output", len(buf))
			}
			return p.outcome(ctx, rerr)
		}
	}
	body := buf[n:]

	if hd.hasLocation && isLocalPath(hd.location) && (hd.status == 0 || hd.status == 200) {
		if !validTarget(hd.location) {
			p.kill()
			return errBadLocation
		}
		// A local redirect has no body of its own (§6.2.2): let the script
		// finish, dropping what it prints, then serve the path.
		if _, err := io.Copy(io.Discard, p.stdout); err != nil {
			return p.outcome(ctx, err)
		}
		p.wait()
		if err := p.outcome(ctx, nil); err != nil {
			return err
		}
		return h.localRedirect(w, r, hd.location)
	}

	hdr := w.Header()
	if hd.hasType {
		hdr.AddBytes(contentTypeName, hd.contentType)
	}
	status := hd.status
	if hd.hasLocation {
		// A client redirect (§6.2.3, §6.2.4): 302 unless the script chose.
		hdr.AddBytes(locationName, hd.location)
		if status == 0 {
			status = 302
		}
	}
	if status == 0 {
		status = 200
	}
	for _, f := range hd.fields {
		if http1.HopByHop(f.name) {
			continue
		}
		if http1.EqualFold(f.name, "content-length") {
			if _, ok := http1.ParseContentLength(f.value); !ok {
				continue
			}
		}
		hdr.AddBytes(f.name, f.value)
	}
	w.WriteHeader(status)
	if len(body) > 0 {
		if _, err := w.Write(body); err != nil {
			p.kill()
			return err
		}
	}
	// Stream the rest as the script prints it: whenever it has nothing more
	// ready, what it printed so far goes out. A script that prints all at
	// once and exits is answered with a Content-Length; one that reports
	// progress is seen doing it.
	buf = buf[:cap(buf)]
	for {
		k, err := p.readReady(buf)
		if err == errNotReady {
			if werr := w.Flush(); werr != nil {
				p.kill()
				return werr
			}
			k, err = p.stdout.Read(buf)
		}
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				p.kill()
				return werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return p.outcome(ctx, err)
		}
	}
	p.wait()
	return p.outcome(ctx, nil)
}

var (
	contentTypeName = []byte("Content-Type")
	locationName    = []byte("Location")
)

// isLocalPath reports a local-pathquery (RFC 3875 §6.3.2): an absolute path.
// "//host/x" is a network-path reference to another host, not a local path.
func isLocalPath(loc []byte) bool {
	return len(loc) > 0 && loc[0] == '/' && (len(loc) == 1 || loc[1] != '/')
}

// validTarget reports whether a local path can be a request-target: visible
// ASCII or obs-text only.
func validTarget(t []byte) bool {
	for _, c := range t {
		if c <= 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

type redirectDepth struct{}

// localRedirect serves loc, a local path, as a GET (RFC 3875 §6.2.2): the
// request's fields go with it, its body does not ("any message-body attached
// to the request ... may not be available to the resource that is the target
// of the redirect", §6.3.2).
func (h *Handler) localRedirect(w web.ResponseWriter, r *web.Request, loc []byte) error {
	if h.cfg.LocalRedirect == nil {
		w.Header().Set("Location", string(loc))
		w.WriteHeader(302)
		return nil
	}
	depth, _ := r.Context().Value(redirectDepth{}).(int)
	if depth >= maxLocalRedirects {
		return errLocalLoop
	}
	ctx := context.WithValue(r.Context(), redirectDepth{}, depth+1)
	target := bytes.Clone(loc)
	if i := bytes.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	path, query := target, []byte(nil)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i+1:]
	}
	head := web.Head{Method: web.MethodGet, Target: target, Path: path, Query: query, Host: r.Host(),
		Scheme: r.Scheme(), ProtoMajor: 1, ProtoMinor: 1, ContentLength: 0}
	switch {
	case r.ProtoAtLeast(2, 0):
		head.ProtoMajor, head.ProtoMinor = 2, 0
	case !r.ProtoAtLeast(1, 1):
		head.ProtoMinor = 0
	}
	var nr web.Request
	nr.Init(head, web.Conn{Remote: r.RemoteAddr(), Local: r.LocalAddr(), TLS: r.TLS(), Ctx: ctx}, web.NoBody)
	for name, value := range r.Header.All() {
		if len(name) > 8 && http1.EqualFold(name[:8], "content-") || http1.EqualFold(name, "transfer-encoding") {
			continue // they describe the body, which stays behind
		}
		nr.Header.AppendView(name, value)
	}
	nr.SetErrorPages(r.ErrorPages())
	return h.cfg.LocalRedirect.ServeHTTP(w, &nr)
}

// relayNPH hands the connection to a non-parsed-header script: its output is
// the whole response (RFC 3875 §5.2), copied as it is until the script ends.
func (h *Handler) relayNPH(ctx context.Context, w web.ResponseWriter, p *proc) error {
	conn, err := w.Upgrade()
	if err != nil {
		p.kill()
		return errNoUpgrade
	}
	defer conn.Close()
	if d, ok := ctx.Deadline(); ok {
		conn.SetWriteDeadline(d)
	}
	if _, err := io.Copy(conn, p.stdout); err != nil {
		p.kill()
		h.cfg.Logger.Info("cgi nph output cut", "script", p.name, "err", p.outcome(ctx, err))
		return nil // the connection is ours and gone; nothing can be answered
	}
	p.wait()
	return nil
}
