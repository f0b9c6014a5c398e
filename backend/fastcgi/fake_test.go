package fastcgi

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"gatehouse/internal/testutil"
	"gatehouse/proto/fcgi"
)

// fakeApp is a FastCGI application written with the codec, for what php-fpm
// will not do on demand: broken streams, early answers, odd records.
type fakeApp struct {
	l       net.Listener
	addr    string
	serve   func(c *fakeConn, req *fakeReq) bool // answers; false closes the connection
	accepts atomic.Int32
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]bool
}

type fakeReq struct {
	id     uint16
	flags  uint8
	params map[string]string
	n      int // requests before this one on the connection
}

// fakeConn reads records from one connection.
type fakeConn struct {
	net.Conn
	p        fcgi.Parser
	buf      []byte
	stdinEnd bool
}

// next returns the next whole record.
func (c *fakeConn) next() (fcgi.Type, uint16, []byte, error) {
	var content []byte
	for {
		f, n, err := c.p.Next(c.buf)
		c.buf = c.buf[n:]
		if err == fcgi.ErrNeedMore {
			var b [4096]byte
			k, rerr := c.Conn.Read(b[:])
			if k == 0 && rerr != nil {
				return 0, 0, nil, rerr
			}
			c.buf = append(c.buf, b[:k]...)
			continue
		}
		if err != nil {
			return 0, 0, nil, err
		}
		content = append(content, f.Content...)
		if f.End {
			return f.Type, f.RequestID, content, nil
		}
	}
}

// readHead reads BEGIN_REQUEST and the PARAMS stream.
func (c *fakeConn) readHead() (*fakeReq, error) {
	typ, id, content, err := c.next()
	if err != nil {
		return nil, err
	}
	if typ != fcgi.TypeBeginRequest {
		return nil, errors.New("fake: expected BEGIN_REQUEST, got " + typ.String())
	}
	b, _ := fcgi.ParseBeginRequest(content)
	req := &fakeReq{id: id, flags: b.Flags, params: map[string]string{}}
	var params []byte
	for {
		typ, _, content, err := c.next()
		if err != nil {
			return nil, err
		}
		if typ != fcgi.TypeParams {
			return nil, errors.New("fake: expected PARAMS")
		}
		if len(content) == 0 {
			break
		}
		params = append(params, content...)
	}
	if err := fcgi.Pairs(params, func(n, v []byte) bool { req.params[string(n)] = string(v); return true }); err != nil {
		return nil, err
	}
	c.stdinEnd = false
	return req, nil
}

// stdin reads the STDIN stream to its end.
func (c *fakeConn) stdin() ([]byte, error) {
	var in []byte
	for !c.stdinEnd {
		typ, _, content, err := c.next()
		if err != nil {
			return in, err
		}
		if typ != fcgi.TypeStdin {
			return in, errors.New("fake: expected STDIN")
		}
		if len(content) == 0 {
			c.stdinEnd = true
		}
		in = append(in, content...)
	}
	return in, nil
}

func (c *fakeConn) write(b []byte) { c.Conn.Write(b) }

// respond writes stdout as STDOUT records, the end of STDOUT, and
// END_REQUEST.
func (c *fakeConn) respond(id uint16, stdout string) {
	var out []byte
	out = fcgi.AppendRecord(out, fcgi.TypeStdout, id, []byte(stdout))
	out = fcgi.AppendRecord(out, fcgi.TypeStdout, id, nil)
	out = fcgi.AppendEndRequest(out, id, 0, fcgi.StatusRequestComplete)
	c.write(out)
}

func startFake(t *testing.T, serve func(c *fakeConn, req *fakeReq) bool) *fakeApp {
	t.Helper()
	path := testutil.ShortTempDir(t) + "/fake.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeApp{l: l, addr: "unix:" + path, serve: serve, conns: map[net.Conn]bool{}}
	a.wg.Add(1)
	go a.accept()
	t.Cleanup(a.stop)
	return a
}

func (a *fakeApp) accept() {
	defer a.wg.Done()
	for {
		nc, err := a.l.Accept()
		if err != nil {
			return
		}
		a.accepts.Add(1)
		a.mu.Lock()
		a.conns[nc] = true
		a.mu.Unlock()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			defer func() {
				a.mu.Lock()
				delete(a.conns, nc)
				a.mu.Unlock()
				nc.Close()
			}()
			c := &fakeConn{Conn: nc}
			for n := 0; ; n++ {
				req, err := c.readHead()
				if err != nil {
					return
				}
				req.n = n
				if !a.serve(c, req) || req.flags&fcgi.FlagKeepConn == 0 {
					return
				}
				if _, err := c.stdin(); err != nil { // whatever the answer left unread
					return
				}
			}
		}()
	}
}

func (a *fakeApp) stop() {
	a.l.Close()
	a.mu.Lock()
	for c := range a.conns {
		c.Close()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// fakeHandler returns a handler for the fake application in plain mode.
func fakeHandler(t *testing.T, a *fakeApp, cfg Config) *Handler {
	t.Helper()
	cfg.Upstream.Addrs = []string{a.addr}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}
