package fastcgi

import (
	"log/slog"
	"time"

	"gatehouse/upstream"
)

// Defaults for Config.
const (
	DefaultIndex          = "index.php"
	DefaultReadTimeout    = 60 * time.Second
	DefaultWriteTimeout   = 60 * time.Second
	DefaultTimeout        = 60 * time.Second
	DefaultMaxHeadBytes   = 32 << 10
	DefaultMaxSpoolBytes  = 128 << 20 // the HTTP server's default body limit
	DefaultServerSoftware = "gatehouse"
)

// Config describes one FastCGI application. A zero field means its default.
type Config struct {
	// Pool is the connection pool to the application's servers. Routes that
	// reach the same php-fpm should share one (its MaxConns is then the
	// bound for them all). nil: New builds a pool from Upstream, and Close
	// closes it.
	Pool *upstream.Pool
	// Upstream configures the pool New builds when Pool is nil: Addrs such
	// as "unix:/run/php/php8.2-fpm.sock" or "127.0.0.1:9000". With kept
	// connections set Upstream.MaxConns to at most php-fpm's
	// pm.max_children: each kept connection occupies a child.
	Upstream upstream.Config

	// Prefix is the URL path the handler is mounted at, such as "/blog/".
	// SCRIPT_NAME starts with it (without its final slash), and in PHP mode
	// the path below it names files under Root. Default "/".
	Prefix string
	// Root is the document root: DOCUMENT_ROOT, and in PHP mode the
	// directory scripts are looked up in. Required in PHP mode; optional
	// otherwise (DOCUMENT_ROOT is then not sent).
	Root string

	// PHP turns on script resolution (see the package documentation): the
	// request path names a script under Root, which must exist, and
	// SCRIPT_FILENAME, SCRIPT_NAME and PATH_INFO follow from it. Default
	// false: every request goes to the one application, SCRIPT_NAME is the
	// mount point and PATH_INFO the rest of the path.
	PHP bool
	// Index is the script run for a directory, in PHP mode. Default
	// "index.php".
	Index string
	// Fallback is the script, relative to Root, run for a path that names
	// no file (a front controller, as nginx's try_files $uri $uri/
	// /index.php?$query_string), in PHP mode. Default: Index. "-" turns the
	// fallback off: such paths are 404.
	Fallback string
	// Script is SCRIPT_FILENAME when PHP is false. Default "": not sent.
	Script string

	// Params are extra variables, sent after the standard ones, which they
	// may override (php-fpm keeps the last value of a name), such as
	// {"PHP_VALUE", "upload_max_filesize=64M"}. Default none.
	Params [][2]string
	// ServerSoftware is SERVER_SOFTWARE. Default "gatehouse".
	ServerSoftware string

	// ReadTimeout bounds each wait for the application's output: for the
	// response head, then between reads of the body (time without progress,
	// as nginx's fastcgi_read_timeout). Default 60 s. On expiry the
	// connection is closed (which aborts the script), and the answer is 504
	// if nothing was sent yet.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write of the request to the application.
	// Default 60 s; expiry is treated as ReadTimeout's.
	WriteTimeout time.Duration
	// Timeout bounds the whole exchange, from the request's first byte to
	// the response's last, so that nothing waits on the application
	// forever, whatever progress it makes. Default 60 s, as the CGI
	// gateway's (and nginx's fastcgi_read_timeout, which bounds only each
	// wait); negative: none (a script may then stream as long as it makes
	// progress). On expiry: as ReadTimeout's.
	Timeout time.Duration

	// MaxHeadBytes bounds the response head the application writes before
	// its body (RFC 3875 §6). Default 32 KiB; beyond it, 502.
	MaxHeadBytes int
	// MaxSpoolBytes bounds a request body of unknown length (chunked), which
	// is spooled before it is sent, because PHP needs CONTENT_LENGTH to read
	// a body at all. Bodies up to 64 KiB stay in memory, longer ones go to
	// an unlinked temporary file. Default 128 MiB; beyond it, 413. Negative:
	// bodies of unknown length are refused with 411 Length Required.
	MaxSpoolBytes int64
	// SpoolDir is the directory for spooled bodies. Default os.TempDir().
	SpoolDir string

	// NoKeepConn closes the connection after each request instead of asking
	// the application to keep it open (FCGI_KEEP_CONN, spec §5.1). Default
	// false: connections are kept and reused.
	NoKeepConn bool

	// Logger receives the application's FCGI_STDERR lines, one log line
	// each, with the request. nil: slog.Default().
	Logger *slog.Logger
}
