package main

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The WSGI scenarios run the applications of bench/apps with two worker
// processes under each server, the one interpreter of the system
// (/usr/bin/python3, with Debian's Flask) for all:
//
//   - gatehouse-wsgi: gatehouse serve --wsgi, the real command;
//   - gunicorn: its default sync workers (no keep-alive, by design);
//   - uwsgi-http: uWSGI's HTTP router (--http) in front of its workers, with
//     keep-alive to the client;
//   - nginx-uwsgi: nginx, one worker, uwsgi_pass to uWSGI on a Unix socket
//     (--socket), the classic deployment.
//
// Every server is started by the runner, pinned to the server CPU with its
// workers, and its CPU time is summed over its processes (and its peer's).
const systemPython = "/usr/bin/python3"

// flask64k is what flaskbench.py's /64k answers: bytes(i * 7 % 251 for i in range(65536)).
var flask64k = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(i * 7 % 251)
	}
	return b
}()

const wsgiWorkers = "2"

func gatehouseWSGIArgs(l launch) ([]string, error) {
	return []string{"serve", "--http", l.Addr, "--wsgi", l.App, "--chdir", l.Apps, "--python", systemPython,
		"--workers", wsgiWorkers, "--access-log", "off", "--log-level", "warn"}, nil
}

// gatehouseWSGIUnbufferedArgs is gatehouseWSGIArgs with request and response
// buffering off: what buffering costs, measured in the same run.
func gatehouseWSGIUnbufferedArgs(l launch) ([]string, error) {
	args, err := gatehouseWSGIArgs(l)
	return append(args, "--request-buffering=false", "--response-buffering=false"), err
}

func gunicornArgs(l launch) ([]string, error) {
	return []string{"--workers", wsgiWorkers, "--worker-class", "sync", "--bind", l.Addr, "--chdir", l.Apps,
		"--log-level", "warning", l.App}, nil
}

// uwsgiCommon is what both uWSGI servers share: the application, two worker
// processes and a master, no request log.
func uwsgiCommon(l launch) []string {
	return []string{"--plugin", "python3", "--chdir", l.Apps, "--module", l.App, "--processes", wsgiWorkers,
		"--master", "--disable-logging", "--die-on-term", "--need-app"}
}

func uwsgiHTTPArgs(l launch) ([]string, error) {
	return append([]string{"--plugin", "http", "--http", l.Addr, "--http-keepalive"}, uwsgiCommon(l)...), nil
}

func uwsgiSock(l launch) string { return filepath.Join(l.Dir, "uwsgi.sock") }

func uwsgiSocketArgs(l launch) []string {
	return append([]string{"--socket", uwsgiSock(l), "--chmod-socket=666"}, uwsgiCommon(l)...)
}

// uwsgiSocketReady waits until uWSGI accepts on its socket (it imports the
// application first, with --need-app).
func uwsgiSocketReady(l launch) error { return sockReady(uwsgiSock(l)) }

// nginxUWSGIConf is nginx in front of uWSGI: the static scenarios' settings,
// with every request passed to the uWSGI socket.
var nginxUWSGIConf = nginxTemplate("nginx-uwsgi.conf", `    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;

    server {
        listen 127.0.0.1:{{.Port}};
        location / {
            include /etc/nginx/uwsgi_params;
            uwsgi_pass unix:{{.Sock}};
        }
    }
}
`)

func nginxUWSGIArgs(l launch) ([]string, error) {
	return nginxConfArgs(l, nginxUWSGIConf, struct {
		launch
		Sock string
	}{l, uwsgiSock(l)})
}

// checkWSGI returns a check that path answers 200 with body.
func checkWSGI(path string, body []byte) func(addr string, s serverSpec) error {
	return func(addr string, s serverSpec) error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		resp, got, err := get(c, bufio.NewReader(c), path, int64(len(body))+1)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || string(got) != string(body) {
			return fmt.Errorf("GET %s: status %d, %d bytes of body, want 200 and %d bytes (header %v)",
				path, resp.StatusCode, len(got), len(body), resp.Header)
		}
		return nil
	}
}

// pythonVersion reports a Python package's version as Debian installed it.
func pythonVersion(module string) func() string {
	return func() string {
		out, err := runShort(exec.Command(systemPython, "-c", "import "+module+", sys; print("+module+".__version__, 'on Python', sys.version.split()[0])"), 10*time.Second)
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(out)
	}
}

func uwsgiVersion() string {
	out, err := runShort(exec.Command("uwsgi", "--version"), 10*time.Second)
	if err != nil {
		return "unknown"
	}
	return "uWSGI " + strings.TrimSpace(out)
}
