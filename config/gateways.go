package config

// The gateway backends: PHP and other FastCGI applications, uWSGI servers,
// CGI scripts, and the files an application may hand back to gatehouse.
// See docs/gateways.md.

// Upstream is a named group of application servers (php-fpm pools, uWSGI
// sockets), shared by the routes that pass to it: one pool of connections,
// with its limits, its balancing policy and its health checks.
type Upstream struct {
	// Name is what routes give as pass. Required, unique.
	Name string `toml:"name"`
	// Addrs lists the servers: "host:port" or "unix:/path". Required. A
	// host name is resolved at start (and on reload), each of its
	// addresses a server.
	Addrs []string `toml:"addrs"`
	// Balance is the balancing policy: "round_robin" (smooth weighted, the
	// default), "least_conn", "ip_hash", "first", "random", "random_two".
	Balance string `toml:"balance"`
	// Weights gives addresses a weight other than 1, keyed by the address
	// as addrs writes it: weights = { "10.0.1.12:9000" = 3 }. From 1 to
	// 1000.
	Weights map[string]int `toml:"weights"`
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
	// MaxFails failures within fail_timeout (failed connects, and
	// exchanges a gateway counts as failed) mark an address down, as
	// nginx's max_fails. Default 1; 0: never (only health checks do).
	MaxFails *int `toml:"max_fails"`
	// FailTimeout is the window in which max_fails failures are counted,
	// and how long the address is then skipped while another is up; then
	// one request is let through. Default "10s".
	FailTimeout *Duration `toml:"fail_timeout"`
	// DownFor is fail_timeout's older name.
	DownFor *Duration `toml:"down_for"`
	// Kind is the protocol the servers speak: "http", "https" (HTTP over
	// TLS, the certificate verified), "fastcgi" or "uwsgi". Default "": any,
	// as the routes that pass to it say.
	Kind string `toml:"kind"`
	// TLSCA is a PEM file of the certificates that sign an https
	// upstream's (a private CA). Default: the system's roots.
	TLSCA string `toml:"tls_ca"`
	// TLSServerName is the name an https upstream's certificate must
	// carry, and the SNI sent. Default: the host of each address.
	TLSServerName string `toml:"tls_server_name"`
	// Health checks each address on an interval. Default: none.
	Health *UpstreamHealth `toml:"health"`

	Line int `toml:"-"`
}

// Proxy passes requests to HTTP upstream servers (a reverse proxy, as
// nginx's proxy_pass).
type Proxy struct {
	// Pass is the upstream: "http://host:port", "https://host:port",
	// "unix:/path", "host:port", or the name of an [[upstream]]. Required.
	Pass string `toml:"pass"`
	// Host is the Host field sent. Default: the client's.
	Host string `toml:"host"`
	// Forwarded adds RFC 7239's Forwarded field; Via adds Via.
	Forwarded bool `toml:"forwarded"`
	Via       bool `toml:"via"`
	// Upgrade lists the protocols clients may switch to (WebSocket).
	// Default ["websocket"]; [] for none; never "h2c".
	Upgrade []string `toml:"upgrade"`
	// ReadTimeout bounds each read from the upstream. Default "60s".
	ReadTimeout *Duration `toml:"read_timeout"`
	// WriteTimeout bounds each write to it. Default "60s".
	WriteTimeout *Duration `toml:"write_timeout"`
	// TunnelIdle closes a WebSocket idle both ways this long. Default: none.
	TunnelIdle *Duration `toml:"tunnel_idle"`
	// MaxResponseHeader bounds a response head; larger: 502. Default "64KiB".
	MaxResponseHeader *Size `toml:"max_response_header"`
	// Retries is how often a failed request may go to another upstream.
	// Default 1; 0: never.
	Retries *int `toml:"retries"`
	// RetryWindow bounds the time retries may start in. Default "5s".
	RetryWindow *Duration `toml:"retry_window"`
}

// UpstreamHealth is the active health check of an [[upstream]]: an HTTP
// request or a TCP connect to each address, every interval.
type UpstreamHealth struct {
	// Kind is "http" or "tcp". Required.
	Kind string `toml:"kind"`
	// Path is the HTTP check's target. Default "/".
	Path string `toml:"path"`
	// Host is the HTTP check's Host field. Default: the address as addrs
	// writes it ("localhost" for a Unix socket).
	Host string `toml:"host"`
	// ExpectStatus is a good answer's status: "200" or a class, "2xx".
	// Default "2xx".
	ExpectStatus string `toml:"expect_status"`
	// ExpectBody is a regular expression (RE2) the first 64KiB of a good
	// answer's body match. Default: any body.
	ExpectBody string `toml:"expect_body"`
	// Send is written by the TCP check once connected. Default: nothing.
	Send string `toml:"send"`
	// Expect must arrive for the TCP check to pass (a banner, or the
	// answer to send). Default: the connect is enough.
	Expect string `toml:"expect"`
	// Interval between rounds of checks, give or take a tenth. Default
	// "10s".
	Interval *Duration `toml:"interval"`
	// Timeout bounds one check. Default "2s".
	Timeout *Duration `toml:"timeout"`
	// Rise good checks in a row bring a down address up. Default 2.
	Rise int `toml:"rise"`
	// Fall failed checks in a row take an up address down. Default 3.
	Fall int `toml:"fall"`
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
