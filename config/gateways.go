package config

// The gateway backends: PHP and other FastCGI applications, uWSGI servers,
// CGI scripts, and the files an application may hand back to gatehouse.
// See docs/gateways.md.

// Upstream is a named group of application servers (php-fpm pools, uWSGI
// sockets), shared by the routes that pass to it: one pool of connections,
// with its limits, balanced round robin.
type Upstream struct {
	// Name is what routes give as pass. Required, unique.
	Name string `toml:"name"`
	// Addrs lists the servers: "host:port" or "unix:/path". Required.
	Addrs []string `toml:"addrs"`
	// MaxConns bounds the connections to each address. Default 32. For
	// php-fpm, at most pm.max_children: a kept connection holds a child.
	MaxConns int `toml:"max_conns"`
	// MaxIdle bounds the idle connections kept per address. Default
	// max_conns; -1 keeps none.
	MaxIdle int `toml:"max_idle"`
	// IdleTimeout closes a connection unused this long. Default "60s".
	IdleTimeout *Duration `toml:"idle_timeout"`
	// DialTimeout bounds a connect; then 504. Default "5s".
	DialTimeout *Duration `toml:"dial_timeout"`
	// QueueTimeout bounds the wait for a free connection when every
	// address is at max_conns; then 503 with Retry-After. Default "10s".
	QueueTimeout *Duration `toml:"queue_timeout"`
	// MaxQueue bounds the requests waiting; beyond it, 503 at once.
	// Default 0: no bound but queue_timeout.
	MaxQueue int `toml:"max_queue"`
	// DownFor is how long an address whose connect failed is skipped while
	// another is up. Default "10s".
	DownFor *Duration `toml:"down_for"`

	Line int `toml:"-"`
}

// PHP serves a PHP site through php-fpm as nginx's usual setup does: a path
// naming a .php script runs it, other files are sent as files (never
// executed), and paths naming nothing reach the front controller.
type PHP struct {
	// Root is the document root. Required.
	Root string `toml:"root"`
	// Pass is php-fpm: an [[upstream]] name or an address ("unix:/path",
	// "host:port"). Default "unix:/run/php/php-fpm.sock" (Debian's).
	Pass string `toml:"pass"`
	// Index is the script run for a directory. Default "index.php".
	Index string `toml:"index"`
	// Fallback is the script run for a path naming no file (the front
	// controller). Default: index; "-": such paths are 404.
	Fallback string `toml:"fallback"`
	// Params are extra FastCGI variables, such as PHP_VALUE.
	Params map[string]string `toml:"params"`
	// KeepConn keeps connections to php-fpm open between requests
	// (FCGI_KEEP_CONN), which saves a connect per request. Default false,
	// as nginx's fastcgi_keep_conn: a kept connection holds a php-fpm child,
	// so turn it on only with an [[upstream]] whose max_conns is at most
	// pm.max_children.
	KeepConn bool `toml:"keep_conn"`
	// ReadTimeout bounds each wait for php-fpm's output; then 504.
	// Default "60s".
	ReadTimeout *Duration `toml:"read_timeout"`
	// WriteTimeout bounds each write to php-fpm. Default "60s".
	WriteTimeout *Duration `toml:"write_timeout"`
	// Timeout bounds a whole request, from dispatch to php-fpm to the end
	// of its response; then 504 (php-fpm's child is released when the
	// connection closes). Default "60s"; "0s": none.
	Timeout *Duration `toml:"timeout"`
	// CacheControl is sent with the files that are not scripts. Default:
	// none.
	CacheControl string `toml:"cache_control"`
}

// FastCGI passes every request under the route to one FastCGI application
// (a Responder): SCRIPT_NAME is the route's path when it is a prefix (without
// its final slash), PATH_INFO the rest; an exact route is mounted at the root
// (SCRIPT_NAME "", PATH_INFO the whole path).
type FastCGI struct {
	// Pass is the application: an [[upstream]] name or an address.
	// Required.
	Pass string `toml:"pass"`
	// Script is SCRIPT_FILENAME. Default: not sent.
	Script string `toml:"script"`
	// Root is DOCUMENT_ROOT. Default: not sent.
	Root string `toml:"root"`
	// Params are extra variables.
	Params map[string]string `toml:"params"`
	// KeepConn asks the application to keep connections open between
	// requests (FCGI_KEEP_CONN), as php's keep_conn.
	KeepConn     bool      `toml:"keep_conn"`
	ReadTimeout  *Duration `toml:"read_timeout"`  // default "60s"
	WriteTimeout *Duration `toml:"write_timeout"` // default "60s"
	Timeout      *Duration `toml:"timeout"`       // default "60s"; "0s": none
}

// UWSGI passes requests to a uWSGI server (uwsgi --socket) over the uwsgi
// protocol, as nginx's uwsgi_pass.
type UWSGI struct {
	// Pass is the server: an [[upstream]] name or an address. Required.
	Pass string `toml:"pass"`
	// Modifier1 and Modifier2 are the packet's type (nginx's
	// uwsgi_modifier1/2). Default 0: a WSGI request.
	Modifier1 int `toml:"modifier1"`
	Modifier2 int `toml:"modifier2"`
	// Params are extra variables.
	Params map[string]string `toml:"params"`
	// MaxVarsSize bounds the variables sent; a request over it is 431.
	// Default and ceiling 64KiB-1, the protocol's; set it to uWSGI's
	// --buffer-size (4096 by default) to answer 431 where uWSGI would fail.
	MaxVarsSize  *Size     `toml:"max_vars_size"`
	ReadTimeout  *Duration `toml:"read_timeout"`  // default "60s"
	WriteTimeout *Duration `toml:"write_timeout"` // default "60s"
}

// CGI runs CGI/1.1 scripts (RFC 3875) from a directory, or one script for
// every path under the route, one process per request.
type CGI struct {
	// Root is the directory of scripts. Required, unless Script is set.
	Root string `toml:"root"`
	// Script is one executable serving every path under the route, as
	// Apache's ScriptAlias: SCRIPT_NAME is the route's path without its
	// final "/", PATH_INFO the rest ("/usr/lib/cgit/cgit.cgi" at
	// "/git/"). Instead of root.
	Script string `toml:"script"`
	// WorkDir is the scripts' working directory. Default: the script's.
	WorkDir string `toml:"workdir"`
	// Env lists gatehouse's own environment variables passed to scripts.
	// Default ["PATH"].
	Env []string `toml:"env"`
	// Params are extra variables (REDIRECT_STATUS for php-cgi, say).
	Params map[string]string `toml:"params"`
	// Timeout bounds a request; then the script's process group is killed
	// and the client gets 504. Default "60s"; "0s": none.
	Timeout *Duration `toml:"timeout"`
	// MaxHeaderBytes bounds the head a script prints; beyond it, 502.
	// Default 32KiB.
	MaxHeaderBytes *Size `toml:"max_header_bytes"`
	// NPH runs scripts named nph-* as non-parsed-header scripts.
	NPH bool `toml:"nph"`
}

// XSendfile lets the route's application answer with X-Sendfile: /abs/path;
// the file, which must be under Dir, is sent by gatehouse.
type XSendfile struct {
	Dir string `toml:"dir"` // required
	// Keep lists the application's fields kept on the file's response.
	// Default Content-Disposition, Cache-Control, Expires, Set-Cookie,
	// Content-Language.
	Keep []string `toml:"keep"`
}

// XAccel lets the route's application answer with X-Accel-Redirect:
// /prefix/name; the file Dir/name is sent by gatehouse.
type XAccel struct {
	Prefix string   `toml:"prefix"` // required: "/protected/"
	Dir    string   `toml:"dir"`    // required
	Keep   []string `toml:"keep"`
}
