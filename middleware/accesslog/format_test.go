package accesslog

import (
	"bytes"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/middleware/requestid"
	"gatehouse/upstream"
	"gatehouse/web"
)

func TestLayout(t *testing.T) {
	e := entry("/a/b?x=1", "User-Agent: curl/8.0", "X-Forwarded-For: 198.51.100.1")
	requestid.Key.Set(e.Request, &requestid.ID{Value: "0123abcd"})
	upstream.TimingKey.Set(e.Request, &upstream.Timing{Connect: 1500 * time.Microsecond, Header: 20 * time.Millisecond, Response: -1})
	cases := []struct {
		format, want string
		err          error
	}{
		{`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`,
			`192.0.2.7 - - [25/Nov/2026:07:47:15 +0000] "GET /a/b?x=1 HTTP/1.1" 200 13 "-" "curl/8.0"`, nil},
		{`$request_time $upstream_connect_time $upstream_header_time $upstream_response_time`, `0.001 0.001 0.020 -`, nil},
		{`id=$request_id tls=$ssl_protocol`, `id=0123abcd tls=-`, nil},
		{`${request_method}x $uri $args $host $scheme $server_protocol $remote_port $http_x_forwarded_for`,
			`GETx /a/b x=1 example.test http HTTP/1.1 51000 198.51.100.1`, nil},
		{`$$5 $time_iso8601`, `$5 2026-11-25T07:47:15+00:00`, nil},
		{`plain text`, `plain text`, nil},
		{`$nope`, ``, &UnknownVariableError{}},
		{`$http_`, ``, &UnknownVariableError{}},
		{`$`, ``, ErrDollar},
		{`a $ b`, ``, ErrDollar},
		{`${status`, ``, ErrBrace},
		{"tab\there", "tab\there", nil},
		{"new\nline", ``, ErrControlChar},
		{strings.Repeat("a", MaxFormat), strings.Repeat("a", MaxFormat), nil},
		{strings.Repeat("a", MaxFormat+1), ``, ErrFormatTooLong},
		{strings.Repeat("$status", MaxVars), strings.Repeat("200", MaxVars), nil},
		{strings.Repeat("$status", MaxVars+1), ``, ErrTooManyVars},
	}
	for _, c := range cases {
		name := c.format
		if len(name) > 30 {
			name = name[:30]
		}
		t.Run(name, func(t *testing.T) {
			l, err := ParseLayout(c.format)
			var uv *UnknownVariableError
			if c.err != nil {
				if !errors.Is(err, c.err) && !(errors.As(c.err, &uv) && errors.As(err, &uv)) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(l.appendLine(nil, e)); got != c.want+"\n" {
				t.Fatalf("%q\nwant %q", got, c.want)
			}
		})
	}
}

// TestLayoutTLSAndEscapes: the TLS version over TLS; what a client chose is
// escaped; a request refused before parsing has "-" for what it lacks.
func TestLayoutTLSAndEscapes(t *testing.T) {
	l, err := ParseLayout(`$ssl_protocol "$request" "$http_user_agent" $upstream_header_time`)
	if err != nil {
		t.Fatal(err)
	}
	e := entry("/\"q\"", "User-Agent: evil\" 200 0 \"\x7f")
	r := e.Request
	r.Init(web.Head{Method: "GET", Target: r.Target(), Path: r.RawPath(), Host: r.Host(), Scheme: "https", ProtoMajor: 1, ProtoMinor: 1},
		web.Conn{TLS: &tls.ConnectionState{Version: tls.VersionTLS13}}, web.NoBody)
	r.Header.Add("User-Agent", "evil\" 200 0 \"\x7f")
	got := string(l.appendLine(nil, e))
	if want := `TLSv1.3 "GET /\x22q\x22 HTTP/1.1" "evil\x22 200 0 \x22\x7F" -` + "\n"; got != want {
		t.Fatalf("%q\nwant %q", got, want)
	}
	if got := string(l.appendLine(nil, &web.AccessEntry{Status: 400})); got != "- \"-\" \"-\" -\n" {
		t.Fatalf("refused: %q", got)
	}
}

func TestLayoutLogger(t *testing.T) {
	lay, _ := ParseLayout(`$status $body_bytes_sent`)
	var b bytes.Buffer
	New(&b, Options{Format: Custom, Layout: lay}).LogAccess(entry("/"))
	if b.String() != "200 13\n" {
		t.Fatalf("%q", b.String())
	}
	full, _ := ParseLayout(`$remote_addr [$time_local] "$request" $status $request_time $http_user_agent $request_id $upstream_header_time`)
	lg := New(&b, Options{Format: Custom, Layout: full})
	e := entry("/a", "User-Agent: x")
	lg.LogAccess(e)
	if n := testing.AllocsPerRun(100, func() {
		b.Reset()
		lg.LogAccess(e)
	}); n != 0 {
		t.Fatalf("%v allocations per line", n)
	}
}

// FuzzParseLayout: no format panics; one that parses writes one line,
// whatever the request holds.
func FuzzParseLayout(f *testing.F) {
	for _, s := range []string{`$remote_addr "$request" $status`, `${status}x$$`, `$http_x_y`, `$`, `${`, `$upstream_header_time`} {
		f.Add(s, "/p?q", "ua\"\n")
	}
	f.Fuzz(func(t *testing.T, format, target, ua string) {
		l, err := ParseLayout(format)
		if err != nil {
			return
		}
		e := entry("/", "User-Agent: x")
		e.Request.Header.Reset()
		e.Request.Header.Add("User-Agent", ua)
		line := l.appendLine(nil, e)
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("%q wrote %q", format, line)
		}
	})
}
