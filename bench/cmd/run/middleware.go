package main

import (
	"bufio"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The middleware scenario (mw_c50) measures what gatehouse's security
// middleware adds to the plaintext responder, in the same run as the
// responder alone:
//
//   - gatehouse-csrf: middleware/csrf, layer 1 (Sec-Fetch-Site, Origin);
//   - gatehouse-session-memory: middleware/session over a memory store,
//     loading the request's session;
//   - gatehouse-session-redis: the same over Redis (Debian's redis-server
//     on a Unix socket, started as the server's peer, pinned to the server
//     CPU and measured with it: its CPU time per request is part of the
//     cost).
//
// Every server gets the same requests: a POST with the fields a browser
// sends with a same-origin form and the session cookie that GET /login
// gave (servers without sessions give none; they get a cookie of the same
// length they ignore).

func redisSock(l launch) string { return filepath.Join(l.Dir, "redis.sock") }

var redisPeer = &peerSpec{
	Program: "redis-server",
	Args: func(l launch) []string {
		return []string{"--port", "0", "--unixsocket", redisSock(l), "--unixsocketperm", "700", "--save", "",
			"--appendonly", "no", "--dir", l.Dir, "--loglevel", "warning"}
	},
	Ready: func(l launch) error { return sockReady(redisSock(l)) },
}

func sessionRedisArgs(l launch) ([]string, error) {
	return []string{"-addr", l.Addr, "-engine", "epoll", "-session", "unix://" + redisSock(l) + "?db=0"}, nil
}

func redisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// sessionFields logs in (GET /login) and returns the fields of a browser's
// same-origin POST with the session's cookie.
func sessionFields(addr string) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	resp, _, err := get(c, bufio.NewReader(c), "/login", 1024)
	if err != nil {
		return nil, err
	}
	cookie := "__Host-gh_session=" + strings.Repeat("x", 43)
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(sc); err == nil && ck.Name == "__Host-gh_session" {
			cookie = ck.Name + "=" + ck.Value
		}
	}
	return []string{"Cookie: " + cookie, "Origin: http://" + addr, "Sec-Fetch-Site: same-origin",
		"Content-Type: application/x-www-form-urlencoded"}, nil
}
