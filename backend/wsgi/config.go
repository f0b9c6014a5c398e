package wsgi

import (
	"log/slog"
	"runtime"
	"time"
)

// Defaults for Config.
const (
	DefaultTimeout         = 30 * time.Second // as gunicorn's --timeout
	DefaultQueueTimeout    = 10 * time.Second
	DefaultStartTimeout    = 60 * time.Second
	DefaultGracefulTimeout = 30 * time.Second
	DefaultPython          = "python3"
	DefaultWorkerQueue     = maxDepth - 1
)

// Config describes a WSGI application and its workers. A zero field means its
// default.
type Config struct {
	// App is "module:callable" ("module" alone means module:application); a
	// dotted callable ("pkg.mod:obj.app") is followed attribute by attribute.
	App string
	// Python is the interpreter. Default: Venv's bin/python when Venv is set,
	// else "python3" from PATH.
	Python string
	// Venv is a virtual environment directory whose interpreter is used.
	Venv string
	// Chdir is the workers' working directory, put first on sys.path. Default:
	// gatehouse's.
	Chdir string
	// Env holds KEY=VALUE pairs added to the workers' environment.
	Env []string

	// Workers is the number of worker processes. Default: the number of CPUs.
	Workers int
	// Threads is the number of requests one worker serves at once (one Python
	// thread each). Default 1.
	Threads int
	// MaxRequests recycles a worker after this many requests, plus a random
	// jitter of up to MaxRequestsJitter so workers do not all restart at once.
	// 0: never.
	MaxRequests       int
	MaxRequestsJitter int
	// MaxRSS recycles a worker whose resident memory exceeds it, in bytes,
	// checked every second. 0: no limit.
	MaxRSS int64
	// Timeout bounds one request, from dispatch to the end of the response.
	// On expiry the client gets 504 (or its response is cut short), the
	// worker's Python stacks go to the log and the worker is replaced.
	// Default 30 s; negative: none.
	Timeout time.Duration
	// QueueTimeout bounds how long a request waits for a free worker; then
	// 503 with Retry-After. Default 10 s.
	QueueTimeout time.Duration
	// StartTimeout bounds a worker's start, import of the application
	// included. Default 60 s.
	StartTimeout time.Duration
	// GracefulTimeout bounds how long a retiring worker may finish its requests
	// (on reload, recycling and shutdown) before it is killed. Default 30 s.
	GracefulTimeout time.Duration
	// StatsInterval logs one line of worker states this often. 0: never.
	StatsInterval time.Duration
	// WorkerQueue is how many requests may wait in a busy worker thread's
	// pipe behind the one it runs, when no thread is free, so that it goes
	// from one to the next without sleeping (docs/wsgi-protocol.md). They
	// queue only behind a young request on a thread whose requests are
	// short. Default DefaultWorkerQueue; at most 7; negative: none, for
	// applications whose requests vary too much in length for the bet.
	WorkerQueue int

	// ScriptName is the mount point: SCRIPT_NAME, with PATH_INFO the rest.
	ScriptName string
	// ServerSoftware is SERVER_SOFTWARE. Default "gatehouse".
	ServerSoftware string
	// Logger receives worker output, tracebacks and lifecycle events.
	Logger *slog.Logger

	// window replaces pipelineWindow when set (tests).
	window time.Duration
}

func (c Config) withDefaults() Config {
	if c.Python == "" {
		c.Python = DefaultPython
		if c.Venv != "" {
			c.Python = c.Venv + "/bin/python"
		}
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.Threads <= 0 {
		c.Threads = 1
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.QueueTimeout <= 0 {
		c.QueueTimeout = DefaultQueueTimeout
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.GracefulTimeout <= 0 {
		c.GracefulTimeout = DefaultGracefulTimeout
	}
	if c.ServerSoftware == "" {
		c.ServerSoftware = "gatehouse"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.WorkerQueue == 0:
		c.WorkerQueue = DefaultWorkerQueue
	case c.WorkerQueue > maxDepth-1:
		c.WorkerQueue = maxDepth - 1
	}
	if c.window <= 0 {
		c.window = pipelineWindow
	}
	return c
}
