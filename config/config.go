// Package config is the schema of gatehouse's configuration file (TOML) and its
// loader. Load reads a file and returns every problem it finds, each with its file,
// line and a hint; unknown keys are problems. Checks that need the filesystem or
// other packages (does a static root exist?) are made by the server package,
// which reports them at the same positions.
//
// The command line's flags build the same Config (see cmd/gatehouse), so a flag
// and its file equivalent mean the same thing.
package config

// Config is the whole file. Every field documents its default; docs/config.md
// documents every key with an example.
type Config struct {
	Server    Server    `toml:"server"`
	Log       Log       `toml:"log"`
	AccessLog AccessLog `toml:"access_log"`
	HTTP      HTTP      `toml:"http"`
	HTTP2     HTTP2     `toml:"http2"`
	Listen    []Listen  `toml:"listen"`
	Site      []Site    `toml:"site"`
	// Upstream names groups of application servers that routes share
	// (pass = "name"): one connection pool, balanced, for them all.
	Upstream []Upstream `toml:"upstream"`
	// ACME configures certificates from an ACME CA, for listeners with
	// tls.acme.
	ACME ACME `toml:"acme"`
	// RequestID gives every request an ID (headers.go). Absent: none.
	RequestID *RequestID `toml:"request_id"`

	// File is the path the configuration was read from ("" for flags).
	File string `toml:"-"`

	loc *locator // key paths to lines; nil for a Config built in code
}

// Server holds process-wide settings.
type Server struct {
	// Engine runs connections: "epoll" (event loops; the default on Linux) or
	// "goroutine" (one goroutine per connection; the default elsewhere).
	Engine string `toml:"engine"`
	// Accept is how the epoll engine's loops take connections from a TCP
	// listener: "shared" (one socket for all loops; the default) or
	// "reuseport" (a socket per loop, SO_REUSEPORT).
	Accept string `toml:"accept"`
	// Grace bounds how long in-flight requests may finish on shutdown.
	// Default 30s; "0s" waits as long as it takes.
	Grace *Duration `toml:"grace"`
	// MaxConns refuses connections beyond this many open ones. Default 0: no limit.
	MaxConns int `toml:"max_conns"`
}

// Log configures the error and lifecycle log (stderr).
type Log struct {
	Level  string `toml:"level"`  // debug, info (default), warn, error
	Format string `toml:"format"` // text (default) or json
	// Path is a file to append to instead of stderr, reopened on SIGUSR1
	// (logrotate). Default "-": stderr.
	Path string `toml:"path"`
}

// AccessLog configures the access log.
type AccessLog struct {
	// Path is a file to append to, "-" for stderr (default) or "off".
	Path string `toml:"path"`
	// Format is "combined" (default), "json", or the name of one of
	// Formats.
	Format string `toml:"format"`
	// Formats names formats of the configuration's own, nginx's
	// log_format: "$remote_addr [$time_local] \"$request\" $status
	// $request_time $upstream_response_time $request_id".
	Formats map[string]string `toml:"formats"`
	// Buffer collects this many bytes before writing (flushed every second).
	// Default 0: every line is written at once.
	Buffer *Size `toml:"buffer"`
}

// HTTP holds the HTTP/1.1 limits and timeouts; nil means the default.
type HTTP struct {
	MaxRequestLine     *Size     `toml:"max_request_line"`      // 8KiB; longer: 414
	MaxHeaderBytes     *Size     `toml:"max_header_bytes"`      // 32KiB; larger: 431
	MaxFieldBytes      *Size     `toml:"max_field_bytes"`       // 8KiB; longer: 431
	MaxFields          *int      `toml:"max_fields"`            // 100; more: 431
	MaxBody            *Size     `toml:"max_body"`              // 128MiB; larger: 413
	ReadHeaderTimeout  *Duration `toml:"read_header_timeout"`   // 10s; then 408
	BodyTimeout        *Duration `toml:"body_timeout"`          // 60s between body reads; then 408
	WriteTimeout       *Duration `toml:"write_timeout"`         // 60s between writes; then close
	IdleTimeout        *Duration `toml:"idle_timeout"`          // 75s keep-alive wait
	MaxRequestsPerConn *int      `toml:"max_requests_per_conn"` // 0: unlimited
	ServerName         *string   `toml:"server_name"`           // "gatehouse"; "-" sends none

	// Buffering between clients and applications (see Route's
	// RequestBuffering and ResponseBuffering).
	BodyBuffer     *Size  `toml:"body_buffer"`     // 16KiB of a request body in memory; the rest in a file
	ResponseBuffer *Size  `toml:"response_buffer"` // 64KiB of a response in memory; the rest in a file
	MaxTempFile    *Size  `toml:"max_temp_file"`   // 1GiB of a response in its file; then writes wait; "0": no file
	TempDir        string `toml:"temp_dir"`        // for request bodies and responses; default the system's

	// TrustedProxies are the peers whose X-Forwarded-For and
	// X-Forwarded-Proto are believed: addresses, CIDR ranges,
	// "private_ranges", "unix". From any other peer those fields (and
	// X-Forwarded-Host, X-Real-IP, Forwarded) are removed. Default: none.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// HTTP2 holds the HTTP/2 limits (TLS listeners by ALPN, h2c listeners); the
// header bytes, idle, write and body limits are [http]'s, as for HTTP/1.1.
type HTTP2 struct {
	// MaxConcurrentStreams bounds the streams (so the handlers) one
	// connection has at once. Default 250.
	MaxConcurrentStreams *int `toml:"max_concurrent_streams"`
	// MaxFrameSize is the largest frame accepted. Default "1MiB"; from
	// "16KiB" to 16 MiB - 1.
	MaxFrameSize *Size `toml:"max_frame_size"`
}

// Listen is one listening socket.
type Listen struct {
	// Addr is "host:port", ":port", "[::1]:port" or "unix:/path". Required.
	Addr string `toml:"addr"`
	// Mode of a Unix socket, in octal. Default "0660".
	Mode string `toml:"mode"`
	// Owner of a Unix socket: "user", "user:group" or ":group". Default: the
	// process's own.
	Owner string `toml:"owner"`
	// Protocol spoken on the socket: "http" (default) or "uwsgi", the
	// protocol of nginx's uwsgi_pass (as uWSGI's --socket), with the same
	// sites and routes.
	Protocol string `toml:"protocol"`
	// Allow lists the TCP peers a uwsgi listener serves, as address
	// prefixes ("10.0.0.0/8") or addresses. Default: loopback only. Peers
	// on a Unix socket are always served (the socket's mode guards them).
	Allow []string `toml:"allow"`
	// TLS terminates TLS on an HTTP listener, with these certificates.
	// Absent: plain HTTP.
	TLS *TLS `toml:"tls"`
	// RedirectHTTPS makes a plain HTTP listener answer every request with a
	// 308 redirect to the same host and target on the first TLS listener
	// (its port, unless 443), except /.well-known/acme-challenge/ (404).
	// Default false: the listener serves the sites.
	RedirectHTTPS bool `toml:"redirect_https"`
	// H2C serves HTTP/2 without TLS, beside HTTP/1.1, to clients that start
	// with its preface (prior knowledge: gRPC, curl --http2-prior-knowledge,
	// h2load); "Upgrade: h2c" is never honoured. Plain HTTP listeners only.
	// Default false.
	H2C bool `toml:"h2c"`
	// ProxyProtocol takes connections from load balancers only (HAProxy's
	// send-proxy, a cloud load balancer), each starting with a PROXY
	// protocol header, v1 or v2, that names the client; others are
	// refused. HTTP listeners only. Default false.
	ProxyProtocol bool `toml:"proxy_protocol"`
	// ProxyFrom lists the load balancers, as addresses or prefixes.
	// Default: loopback only.
	ProxyFrom []string `toml:"proxy_from"`
	// ProxyTimeout bounds the wait for the header. Default "5s".
	ProxyTimeout *Duration `toml:"proxy_timeout"`

	Line int `toml:"-"` // where it is defined
}

// Site is a virtual host: the requests whose Host it names.
type Site struct {
	// Hosts are exact names ("example.com") or wildcards ("*.example.com",
	// which matches any name ending in ".example.com"). Ports are ignored.
	// A site without hosts is the default site.
	Hosts []string `toml:"hosts"`
	// Default makes this site answer requests for hosts no site names. At most
	// one site is the default; without one, such requests get 421.
	Default bool `toml:"default"`
	// ErrorPages maps a status ("404") to an HTML file sent instead of the
	// built-in text page.
	ErrorPages map[string]string `toml:"error_pages"`
	// Route lists the site's routes; the longest matching path wins.
	Route []Route `toml:"route"`
	// HSTS is the Strict-Transport-Security field (RFC 6797) the site
	// sends on every response over https, never over plain http:
	// "max-age=31536000", with "; includeSubDomains" and "; preload" if
	// wanted. Default: none.
	HSTS string `toml:"hsts"`
	// Session gives every request of the site a session (see Session).
	Session *Session `toml:"session"`
	// CSRF refuses cross-site request forgery on every route of the site
	// (see CSRF).
	CSRF *CSRF `toml:"csrf"`
	// Headers are the site's header rules (headers.go).
	Headers *Headers `toml:"headers"`

	Line int `toml:"-"`
}

// Route sends the requests for one path to one backend. Exactly one of the
// backend keys (static, redirect, respond, demo, wsgi, php, fastcgi, uwsgi,
// cgi) is set.
type Route struct {
	// Path ending in "/" matches every path under it (and the path without the
	// slash); any other path matches exactly. Required.
	Path string `toml:"path"`
	// Methods, when set, restricts the route: others get 405 with Allow. GET
	// implies HEAD; OPTIONS is answered with Allow.
	Methods []string `toml:"methods"`

	Static   *Static   `toml:"static"`
	Redirect *Redirect `toml:"redirect"`
	Respond  *Respond  `toml:"respond"`
	Demo     bool      `toml:"demo"`
	WSGI     *WSGI     `toml:"wsgi"`
	PHP      *PHP      `toml:"php"`
	FastCGI  *FastCGI  `toml:"fastcgi"`
	UWSGI    *UWSGI    `toml:"uwsgi"`
	CGI      *CGI      `toml:"cgi"`
	Proxy    *Proxy    `toml:"proxy"`

	// RequestBuffering reads a request body to its end (memory, then a
	// temporary file) before an application backend (wsgi, php, fastcgi,
	// uwsgi, cgi) is given the request, so a slow uploader holds no worker.
	// Default true; false streams the body to the application as it comes
	// (uploads reach it at once, but a slow client holds a worker).
	RequestBuffering *bool `toml:"request_buffering"`
	// ResponseBuffering takes an application's response as fast as it is
	// written (memory, then a temporary file), so a slow reader holds no
	// worker; flushed blocks still go out at once. Default true; false
	// passes the response through, and the application waits for the
	// client. Server-Sent Events and X-Accel-Buffering: no always pass.
	ResponseBuffering *bool `toml:"response_buffering"`

	// XSendfile and XAccel let an application backend (php, fastcgi, uwsgi,
	// cgi, wsgi) answer with a file that gatehouse sends itself.
	XSendfile *XSendfile `toml:"x_sendfile"`
	XAccel    *XAccel    `toml:"x_accel"`

	// Session and CSRF, for a route whose site has none.
	Session *Session `toml:"session"`
	CSRF    *CSRF    `toml:"csrf"`
	// Compress compresses the route's responses (compress.go). Absent: off.
	Compress *Compress `toml:"compress"`
	// Headers are the route's header rules (headers.go), inside its site's.
	Headers *Headers `toml:"headers"`
	// Limits bound the route's requests more tightly than [http] does.
	Limits *Limits `toml:"limits"`

	Line int `toml:"-"`
}

// WSGI runs a Python WSGI application (PEP 3333) in worker processes that
// gatehouse starts and supervises. See docs/wsgi.md.
type WSGI struct {
	// App is "module:callable" ("module" alone means module:application).
	// Required.
	App string `toml:"app"`
	// Python is the interpreter. Default: the venv's bin/python, else
	// "python3" from PATH.
	Python string `toml:"python"`
	// Venv is a virtual environment whose interpreter runs the workers.
	Venv string `toml:"venv"`
	// Chdir is the workers' working directory, first on sys.path. Default:
	// gatehouse's own.
	Chdir string `toml:"chdir"`
	// Env adds variables to the workers' environment.
	Env map[string]string `toml:"env"`
	// Workers is the number of processes. Default: the number of CPUs.
	Workers int `toml:"workers"`
	// Threads is the number of requests a worker serves at once. Default 1.
	Threads int `toml:"threads"`
	// MaxRequests recycles a worker after this many requests, plus a random
	// jitter of up to MaxRequestsJitter. Default 0: never.
	MaxRequests       int `toml:"max_requests"`
	MaxRequestsJitter int `toml:"max_requests_jitter"`
	// MaxRSS recycles a worker whose resident memory exceeds it. Default: none.
	MaxRSS *Size `toml:"max_rss"`
	// Timeout bounds a request from dispatch to the end of its response: 504,
	// the worker's Python stacks logged, the worker replaced. Default "30s";
	// "0s": none.
	Timeout *Duration `toml:"timeout"`
	// QueueTimeout bounds the wait for a free worker; then 503. Default "10s".
	QueueTimeout *Duration `toml:"queue_timeout"`
	// StartTimeout bounds a worker's start, the application's import included.
	// Default "60s".
	StartTimeout *Duration `toml:"start_timeout"`
	// GracefulTimeout bounds how long a retiring worker may finish its
	// requests. Default "30s".
	GracefulTimeout *Duration `toml:"graceful_timeout"`
	// StatsInterval logs a line of worker states this often. Default: never.
	StatsInterval *Duration `toml:"stats_interval"`
	// WorkerQueue is how many requests may wait in a busy worker thread
	// behind the one it runs, when none is free. Default 7 (the most); 0:
	// none.
	WorkerQueue *int `toml:"worker_queue"`
	// ScriptName is the mount point the application sees as SCRIPT_NAME.
	// Default: the route's path without its trailing slash ("" for "/").
	ScriptName *string `toml:"script_name"`
}

// Backends lists every backend key a route may set, in the order the
// documentation names them. It is the one list: validation, hints and the
// server's wiring (a test holds it to this list) come from it.
var Backends = []Backend{
	{"static", false, func(r *Route) bool { return r.Static != nil }},
	{"redirect", false, func(r *Route) bool { return r.Redirect != nil }},
	{"respond", false, func(r *Route) bool { return r.Respond != nil }},
	{"demo", false, func(r *Route) bool { return r.Demo }},
	{"wsgi", true, func(r *Route) bool { return r.WSGI != nil }},
	{"php", true, func(r *Route) bool { return r.PHP != nil }},
	{"fastcgi", true, func(r *Route) bool { return r.FastCGI != nil }},
	{"uwsgi", true, func(r *Route) bool { return r.UWSGI != nil }},
	{"cgi", true, func(r *Route) bool { return r.CGI != nil }},
	{"proxy", true, func(r *Route) bool { return r.Proxy != nil }},
}

// Backend is one kind of backend a route may have. (An HTTP upstream is an
// application here too: its requests and responses are buffered, as
// nginx's proxy_request_buffering and proxy_buffering have them.)
type Backend struct {
	// Key is the route's key for it ("static", "wsgi").
	Key string
	// Application: it runs an application in workers of its own (a Python
	// worker, a php-fpm child, a uWSGI process, a CGI script), so its
	// requests and responses are buffered and x_sendfile applies.
	Application bool
	// Set reports whether r sets this backend.
	Set func(r *Route) bool
}

// Backend returns the route's backend, if it sets exactly one.
func (r *Route) Backend() (Backend, bool) {
	var found Backend
	n := 0
	for _, b := range Backends {
		if b.Set(r) {
			found = b
			n++
		}
	}
	return found, n == 1
}

// backendKeys is "static, redirect, ..., uwsgi or cgi", for hints.
func backendKeys() string {
	var s string
	for i, b := range Backends {
		switch {
		case i == 0:
		case i == len(Backends)-1:
			s += " or "
		default:
			s += ", "
		}
		s += b.Key
	}
	return s
}

// IsApplication reports whether the route's backend runs an application in
// workers of its own (wsgi, php, fastcgi, uwsgi, cgi, proxy): the routes whose
// requests and responses are buffered.
func (r *Route) IsApplication() bool {
	b, ok := r.Backend()
	return ok && b.Application
}

// Static serves files from a directory.
type Static struct {
	Root           string   `toml:"root"`            // required
	Index          []string `toml:"index"`           // ["index.html"]
	Listing        bool     `toml:"listing"`         // false: no directory listings
	Dotfiles       bool     `toml:"dotfiles"`        // false: names starting with '.' are 404 (but .well-known)
	FollowSymlinks bool     `toml:"follow_symlinks"` // false: symlinks leaving root are refused
	Precompressed  bool     `toml:"precompressed"`   // false: serve .br/.zst/.gz sidecars when accepted
	CacheControl   string   `toml:"cache_control"`   // "": no Cache-Control
	// CacheValid is how long the file cache trusts what it knows of a file
	// before a stat revalidates it. Default "1s"; "0s" turns the cache off.
	CacheValid *Duration `toml:"cache_valid"`
}

// Redirect answers with a redirect. To may use {host}, {path}, {query} and
// {uri} (path and query) of the request.
type Redirect struct {
	To        string `toml:"to"`         // required
	Status    int    `toml:"status"`     // 301, 302, 303, 307 or 308 (default 301)
	KeepQuery bool   `toml:"keep_query"` // append the request's query to To
}

// Respond answers with a fixed response, as nginx's return.
type Respond struct {
	Status      int               `toml:"status"`       // default 200
	Body        string            `toml:"body"`         // default empty
	ContentType string            `toml:"content_type"` // default "text/plain; charset=utf-8" when there is a body
	Headers     map[string]string `toml:"headers"`
}

// Comparable returns c without its source positions, for comparing two
// configurations built different ways (flags and a file).
func Comparable(c Config) Config {
	c.File, c.loc = "", nil
	c.Listen = append([]Listen(nil), c.Listen...)
	for i := range c.Listen {
		c.Listen[i].Line = 0
	}
	sites := make([]Site, len(c.Site))
	for i, s := range c.Site {
		s.Line = 0
		s.Route = append([]Route(nil), s.Route...)
		for j := range s.Route {
			s.Route[j].Line = 0
		}
		sites[i] = s
	}
	c.Site = sites
	c.Upstream = append([]Upstream(nil), c.Upstream...)
	for i := range c.Upstream {
		c.Upstream[i].Line = 0
	}
	return c
}
