package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// StartNginx runs the system's nginx (one worker, in the foreground, with
// every file it writes in a fresh directory and nothing read from /etc/nginx
// but the includes the config names) with one server on a free 127.0.0.1
// port, whose body is server (locations and directives). It returns the
// address once nginx accepts; the test's end stops it.
func StartNginx(t testing.TB, server string) string {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Fatalf("nginx is required (make test installs it): %v", err)
	}
	dir := ShortTempDir(t)
	addr := FreeAddr(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers keep access to the test's sockets
	}
	conf := fmt.Sprintf(`daemon off;
master_process on;
worker_processes 1;
%[1]s
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	server {
		listen %[3]s;
%[4]s
	}
}
`, user, dir, addr, server)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := Start(t, nil, "nginx", "-p", dir+"/", "-e", dir+"/error.log", "-c", dir+"/nginx.conf")
	p.WaitDial(t, addr)
	return addr
}
