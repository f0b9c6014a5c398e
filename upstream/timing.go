package upstream

import (
	"time"

	"gatehouse/web"
)

// Timing is what an access log reports of a request's exchange with its
// application, as nginx's $upstream_connect_time, $upstream_header_time
// and $upstream_response_time: each measured from when the application's
// backend got the request. A backend that connects to its application (a
// pool's connection, a free WSGI worker, a started CGI script) calls
// Connected; the route's timing layer (server) records the rest from the
// response as the backend writes it.
type Timing struct {
	Start    time.Time
	Connect  time.Duration // until connected; -1: not known
	Header   time.Duration // until the response's head; -1: none
	Response time.Duration // until the end of the response; -1: none
}

// TimingKey holds a request's Timing, set only when the access log asks
// for it (an allocation per request).
var TimingKey = web.NewKey[*Timing]("upstream timing")

// Connected records that r's backend has connected to its application
// (the wait for a pooled connection, a dial, a free worker included). It
// does nothing for a request whose timing no one asked for.
func Connected(r *web.Request) {
	if t, ok := TimingKey.Get(r); ok && t != nil && t.Connect < 0 {
		t.Connect = time.Since(t.Start)
	}
}
