package respond

import "gatehouse/web"

// Handler answers every request with a fixed response.
type Handler struct {
	Status      int // default 200 when 0
	Body        []byte
	ContentType string // default text/plain; charset=utf-8 when there is a body
	Headers     [][2]string
}

var _ web.Handler = (*Handler)(nil)

func (rs *Handler) ServeHTTP(w web.ResponseWriter, r *web.Request) error {
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
