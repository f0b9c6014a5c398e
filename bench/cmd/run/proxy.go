package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// The proxy scenarios put each reverse proxy in front of the same
// application, servers/upstream (a minimal HTTP/1.1 server answering
// /13 and /64k on a Unix socket):
//
//   - gatehouse-proxy: the real command, gatehouse serve --proxy-pass
//     unix:SOCK, with its defaults (request and response buffering on);
//   - gatehouse-proxy-unbuffered: the same with both buffering flags off;
//   - nginx-proxy: nginx, one worker, proxy_pass to an upstream block with
//     keepalive 32 over HTTP/1.1, its buffering at nginx's defaults.
//
// Unlike the gateway scenarios' peers, the application is one process for
// the whole run of the runner, started before the first proxy is, pinned to
// the server CPU with GOMAXPROCS as the servers, and shared by every
// contender: the proxies are what differs. Its CPU time is not counted with
// the proxy's: the report gives the proxy's own CPU per request and the
// application's beside it.

// upstreamApp is the shared application, started once.
type upstreamApp struct {
	proc *proc
	sock string
}

// ensureUpstream starts the application on its first use, and again if it
// has died since (a run after that is then measured against a fresh one).
func ensureUpstream(cfg *config) (*upstreamApp, error) {
	if cfg.upstream != nil && !cfg.upstream.proc.Exited() {
		return cfg.upstream, nil
	}
	if cfg.upstream != nil {
		logf("upstream application exited (%v); starting it again", cfg.upstream.proc.err)
	}
	sock := filepath.Join(cfg.scratch, "upstream.sock")
	prog := filepath.Join(cfg.binDir, "upstream")
	cmd := pinned(cfg, cfg.serverCPU, prog, "-unix", sock, "-root", cfg.www)
	cmd.Env = append(cmd.Environ(), "GOMAXPROCS="+strconv.Itoa(cfg.procs))
	out := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	p, err := children.start(cmd)
	if err != nil {
		return nil, fmt.Errorf("start upstream: %w", err)
	}
	fail := func(err error) (*upstreamApp, error) {
		p.stop()
		return nil, fmt.Errorf("upstream: %w\n%s", err, out.String())
	}
	if err := sockReady(sock); err != nil {
		return fail(err)
	}
	if c := comm(p.Pid()); c != "upstream" {
		return fail(fmt.Errorf("pid %d is %q, not upstream", p.Pid(), c))
	}
	if cpus, err := statusField(p.Pid(), "Cpus_allowed_list"); err != nil || cpus != cfg.serverCPU {
		return fail(fmt.Errorf("runs on CPUs %q, want %q (%v)", cpus, cfg.serverCPU, err))
	}
	cfg.upstream = &upstreamApp{proc: p, sock: sock}
	return cfg.upstream, nil
}

// ticks is the application's CPU time so far, in clock ticks.
func (u *upstreamApp) ticks() (int64, error) {
	t, err := processTree(u.proc.Pid())
	return t.ticks, err
}

func gatehouseProxyArgs(l launch) ([]string, error) {
	return []string{"serve", "--http", l.Addr, "--proxy-pass", "unix:" + l.Upstream,
		"--access-log", "off", "--log-level", "warn"}, nil
}

// gatehouseProxyUnbufferedArgs is gatehouseProxyArgs with request and
// response buffering off: what buffering costs, measured in the same run.
func gatehouseProxyUnbufferedArgs(l launch) ([]string, error) {
	args, err := gatehouseProxyArgs(l)
	return append(args, "--request-buffering=false", "--response-buffering=false"), err
}

// nginxProxyConf is nginx as a reverse proxy with kept upstream connections,
// as its documentation sets that up (an upstream block with keepalive,
// proxy_http_version 1.1 and an empty Connection field); buffering at
// nginx's defaults (proxy_buffering on, proxy_buffers 8 4k, proxy_buffer_size
// 4k, larger responses spilling to a temporary file). The three
// X-Forwarded-* fields and the client's Host are set so that the application
// receives what gatehouse sends it by default.
var nginxProxyConf = nginxTemplate("nginx-proxy.conf", `    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;

    upstream app {
        server unix:{{.Upstream}};
        keepalive 32;
    }

    server {
        listen 127.0.0.1:{{.Port}};
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
        }
    }
}
`)

func nginxProxyArgs(l launch) ([]string, error) { return nginxConfArgs(l, nginxProxyConf, l) }

// proxyFiles are what the application answers, by target: the www files.
var proxyFiles = []struct {
	Target string
	Body   []byte
}{{"/13", wwwFiles[0].Body}, {"/64k", wwwFiles[1].Body}}

// checkProxy fetches both answers through the proxy on one keep-alive
// connection and compares the bodies byte for byte.
func checkProxy(addr string, s serverSpec) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for _, f := range proxyFiles {
		resp, body, err := get(c, br, f.Target, int64(len(f.Body))+1)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(f.Body)) || !bytes.Equal(body, f.Body) {
			return fmt.Errorf("GET %s: status %d, Content-Length %d, %d bytes of body, want 200 and the %d bytes of the application's answer (header %v)",
				f.Target, resp.StatusCode, resp.ContentLength, len(body), len(f.Body), resp.Header)
		}
	}
	return nil
}
