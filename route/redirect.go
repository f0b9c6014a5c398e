package route

import (
	"strings"

	"gatehouse/web"
)

// Redirect answers every request with a redirect to To, in which {host},
// {path}, {query} and {uri} (path, then "?" and the query if there is one) are
// replaced by the request's. Paths and queries are used as received, still
// percent-encoded, so they cannot break the Location field.
type Redirect struct {
	To        string
	Status    int  // 301 (default), 302, 303, 307 or 308
	KeepQuery bool // append the request's query
}

func (rd *Redirect) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	var b strings.Builder
	to := rd.To
	for {
		i := strings.IndexByte(to, '{')
		if i < 0 {
			b.WriteString(to)
			break
		}
		b.WriteString(to[:i])
		j := strings.IndexByte(to[i:], '}')
		if j < 0 {
			b.WriteString(to[i:])
			break
		}
		switch to[i+1 : i+j] {
		case "host":
			b.Write(r.Host())
		case "path":
			b.Write(r.RawPath())
		case "query":
			b.Write(r.RawQuery())
		case "uri":
			b.Write(r.RawPath())
			if q := r.RawQuery(); q != nil {
				b.WriteByte('?')
				b.Write(q)
			}
		default:
			b.WriteString(to[i : i+j+1])
		}
		to = to[i+j+1:]
	}
	if q := r.RawQuery(); rd.KeepQuery && len(q) > 0 {
		if strings.Contains(b.String(), "?") {
			b.WriteByte('&')
		} else {
			b.WriteByte('?')
		}
		b.Write(q)
	}
	status := rd.Status
	if status == 0 {
		status = 301
	}
	w.Header().Set("Location", b.String())
	w.WriteHeader(status)
	return nil
}

// Respond answers every request with a fixed response, as nginx's return.
type Respond struct {
	Status      int // default 200
	Body        []byte
	ContentType string // default text/plain; charset=utf-8 when there is a body
	Headers     [][2]string
}

func (rs *Respond) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
	h := w.Header()
	for _, kv := range rs.Headers {
		h.Add(kv[0], kv[1])
	}
	if len(rs.Body) > 0 {
		ct := rs.ContentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		h.Set("Content-Type", ct)
	}
	status := rs.Status
	if status == 0 {
		status = 200
	}
	w.WriteHeader(status)
	_, err := w.Write(rs.Body)
	return err
}
