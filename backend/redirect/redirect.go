package redirect

import (
	"strings"

	"gatehouse/web"
)

// Handler answers every request with a redirect to To, in which {host},
// {path}, {query} and {uri} (path, then "?" and the query if there is one) are
// replaced by the request's; any other {name} is kept as written.
type Handler struct {
	To        string
	Status    int  // 301 (default when 0), 302, 303, 307 or 308
	KeepQuery bool // append the request's query
}

var _ web.Handler = (*Handler)(nil)

func (rd *Handler) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
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
