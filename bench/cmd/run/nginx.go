package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"
)

// nginxHead starts every nginx.conf the runner writes: the process, its files
// in the run directory, and the http block's temporary paths; each scenario's
// template goes on inside the http block.
const nginxHead = `# One run of the gatehouse benchmark; written by bench/cmd/run.
# One worker on the one server CPU, as the Go servers run with GOMAXPROCS=1. The
# master stays: that is how nginx is deployed, and the runner counts its CPU time
# with the worker's.
worker_processes 1;
master_process on;
daemon off;
pid "{{.Dir}}/nginx.pid";
error_log "{{.Dir}}/error.log";
# The Go servers lift their soft limit to the hard limit for the same reason.
worker_rlimit_nofile 20000;

events {
    worker_connections 16384;
}

http {
    access_log off;
    client_body_temp_path "{{.Dir}}/client_body_temp";
    proxy_temp_path "{{.Dir}}/proxy_temp";
    fastcgi_temp_path "{{.Dir}}/fastcgi_temp";
    uwsgi_temp_path "{{.Dir}}/uwsgi_temp";
    scgi_temp_path "{{.Dir}}/scgi_temp";
`

// nginxTemplate is nginxHead followed by body, parsed.
func nginxTemplate(name, body string) *template.Template {
	return template.Must(template.New(name).Parse(nginxHead + body))
}

// nginxConf is the whole nginx configuration of one run: one worker serving the
// www directory on the run's port, everything it writes kept in the run's
// directory, nothing taken from the system's /etc/nginx.
var nginxConf = nginxTemplate("nginx.conf", `
    sendfile on;
    # tcp_nopush (TCP_CORK) holds back the responses to pipelined requests.
    tcp_nopush off;
    tcp_nodelay on;
    keepalive_timeout 65;
    # wrk keeps each connection for the whole run.
    keepalive_requests 1000000;
{{if .OpenFileCache}}    # nginx with its file cache on, as gatehouse's is by default: descriptors
    # and metadata kept, revalidated after a second (gatehouse's cache_valid).
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 1s;
{{else}}    # nginx's default, stated so the comparison shows it: every request opens
    # and stats its file.
    open_file_cache off;
{{end}}

    types {
        text/plain txt;
        application/octet-stream bin;
    }

    server {
        listen 127.0.0.1:{{.Port}};
        root "{{.WWW}}";
    }
}
`)

// nginxArgs writes the run's nginx.conf into l.Dir, with nginx's file cache on
// or off, has nginx check it (nginx -t), and returns the arguments that start
// nginx on it. -p and -e keep nginx from touching its compiled-in prefix and
// log, which belong to the system's nginx.
func nginxArgs(openFileCache bool) func(launch) ([]string, error) {
	return func(l launch) ([]string, error) { return writeNginx(l, openFileCache) }
}

func writeNginx(l launch, openFileCache bool) ([]string, error) {
	return nginxConfArgs(l, nginxConf, struct {
		launch
		OpenFileCache bool
	}{l, openFileCache})
}

// nginxConfArgs writes l.Dir/nginx.conf from tmpl and data, has nginx check
// it (nginx -t) and returns the arguments that start nginx on it.
func nginxConfArgs(l launch, tmpl *template.Template, data any) ([]string, error) {
	conf := filepath.Join(l.Dir, "nginx.conf")
	f, err := os.Create(conf)
	if err != nil {
		return nil, err
	}
	err = tmpl.Execute(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", conf, err)
	}
	args := []string{"-p", l.Dir + "/", "-e", filepath.Join(l.Dir, "error.log"), "-c", conf}
	if out, err := runShort(exec.Command("nginx", append([]string{"-t"}, args...)...), 10*time.Second); err != nil {
		return nil, fmt.Errorf("nginx -t: %w\n%s", err, out)
	}
	return args, nil
}

// nginxVersion is nginx's own version line ("nginx version: nginx/1.22.1"),
// which it prints on stderr.
func nginxVersion() string {
	out, err := runShort(exec.Command("nginx", "-v"), 10*time.Second)
	if err != nil {
		return "unknown"
	}
	return strings.TrimPrefix(strings.TrimSpace(out), "nginx version: ")
}
