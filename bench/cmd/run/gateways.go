package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// The gateway scenarios put each server in front of the same application
// server, started by the runner as the server's peer and measured with it:
//
//   - php_hello: php-fpm (pm = static, 2 children) running apps/php/hello.php,
//     behind gatehouse-php (gatehouse serve --config: a php route through an
//     [[upstream]] of 2 kept connections, keep_conn), nginx-php (fastcgi_pass,
//     nginx's default: a new connection per request) and nginx-php-keepalive
//     (an upstream with keepalive 2 and fastcgi_keep_conn on, nginx's best);
//   - uwsgi_hello: uWSGI (--socket, 2 processes) running apps/hello.py,
//     behind gatehouse-uwsgi (gatehouse serve --uwsgi-pass) and nginx-uwsgi.
const phpChildren = "2"

func fpmSock(l launch) string { return filepath.Join(l.Dir, "php-fpm.sock") }

const fpmConf = `[global]
error_log = %[1]s/php-fpm.log
daemonize = no
pid = %[1]s/php-fpm.pid

[www]
%[2]s
listen = %[1]s/php-fpm.sock
listen.mode = 0666
pm = static
pm.max_children = %[3]s
clear_env = yes
security.limit_extensions = .php
`

// phpFPMArgs writes the pool's configuration and runs php-fpm in the
// foreground with it (and -R as root, with the pool running as root).
func phpFPMArgs(l launch) []string {
	user := "user = nobody\ngroup = nogroup"
	if os.Geteuid() == 0 {
		user = "user = root\ngroup = root"
	}
	conf := filepath.Join(l.Dir, "php-fpm.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(fpmConf, l.Dir, user, phpChildren)), 0o644)
	ini := filepath.Join(l.Dir, "php.ini")
	os.WriteFile(ini, []byte("opcache.enable = 1\nopcache.enable_cli = 0\noutput_buffering = 4096\n"), 0o644)
	args := []string{"-F", "-y", conf, "-c", ini}
	if os.Geteuid() == 0 {
		args = append(args, "-R")
	}
	return args
}

func phpFPMReady(l launch) error { return sockReady(fpmSock(l)) }

// sockReady waits up to 15 s until a Unix socket accepts.
func sockReady(path string) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting on %s after 15 s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func phpRoot(l launch) string { return filepath.Join(l.Apps, "php") }

var phpFPMPeer = &peerSpec{Program: "php-fpm8.2", Args: phpFPMArgs, Ready: phpFPMReady}

var uwsgiPeer = &peerSpec{Program: "uwsgi", Args: uwsgiSocketArgs, Ready: uwsgiSocketReady}

const gatehousePHPConf = `# One run of the gatehouse benchmark; written by bench/cmd/run.
[log]
level = "warn"
[access_log]
path = "off"
[[listen]]
addr = "%[1]s"
[[upstream]]
name = "php"
addrs = ["unix:%[2]s"]
max_conns = %[3]s
[[site]]
  [[site.route]]
  path = "/"
  php = { root = "%[4]s", pass = "php", keep_conn = true }
%[5]s`

func gatehousePHPArgs(l launch) ([]string, error) { return gatehousePHP(l, "") }

// gatehousePHPUnbufferedArgs is gatehousePHPArgs with request and response
// buffering off: what buffering costs, measured in the same run.
func gatehousePHPUnbufferedArgs(l launch) ([]string, error) {
	return gatehousePHP(l, "  request_buffering = false\n  response_buffering = false\n")
}

func gatehousePHP(l launch, routeExtra string) ([]string, error) {
	conf := filepath.Join(l.Dir, "gatehouse.toml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(gatehousePHPConf, l.Addr, fpmSock(l), phpChildren, phpRoot(l), routeExtra)), 0o644); err != nil {
		return nil, err
	}
	return []string{"serve", "--config", conf}, nil
}

func gatehouseUWSGIArgs(l launch) ([]string, error) {
	return []string{"serve", "--http", l.Addr, "--uwsgi-pass", "unix:" + uwsgiSock(l),
		"--access-log", "off", "--log-level", "warn"}, nil
}

// nginxPHPConf is nginx in front of php-fpm, as its documentation and
// Debian's snippets/fastcgi-php.conf set it up; Keepalive adds an upstream
// block with kept connections.
var nginxPHPConf = nginxTemplate("nginx-php.conf", `    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
{{if .Keepalive}}
    upstream php {
        server unix:{{.Sock}};
        keepalive {{.Children}};
    }
{{end}}
    server {
        listen 127.0.0.1:{{.Port}};
        root "{{.Root}}";
        index index.php;
        location / {
            try_files $uri $uri/ /index.php?$query_string;
        }
        location ~ \.php$ {
            fastcgi_split_path_info ^(.+\.php)(/.+)$;
            try_files $fastcgi_script_name =404;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $fastcgi_path_info;
{{if .Keepalive}}            fastcgi_keep_conn on;
            fastcgi_pass php;
{{else}}            fastcgi_pass unix:{{.Sock}};
{{end}}        }
    }
}
`)

func nginxPHPArgs(keepalive bool) func(l launch) ([]string, error) {
	return func(l launch) ([]string, error) {
		return nginxConfArgs(l, nginxPHPConf, struct {
			launch
			Sock, Root, Children string
			Keepalive            bool
		}{l, fpmSock(l), phpRoot(l), phpChildren, keepalive})
	}
}

func phpVersion() string {
	out, err := runShort(exec.Command("php-fpm8.2", "-v"), 10*time.Second)
	if err != nil {
		return "unknown"
	}
	for i, c := range out {
		if c == '\n' {
			return out[:i]
		}
	}
	return out
}
