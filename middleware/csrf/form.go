package csrf

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/url"

	"gatehouse/web"
)

// ErrFormTooLarge is a form whose token field was not within the bytes
// gatehouse reads to find it (413): never a pass.
var ErrFormTooLarge = &web.Error{Status: 413, Err: errors.New("csrf: no token field within the form's first bytes (max_form); send the token first, or in X-CSRF-Token")}

// errNoField: the body was read to its end without the field.
var errNoField = errors.New("csrf: no token field")

// formField finds the value of the form field name in r's body, when the
// body is a form (application/x-www-form-urlencoded or multipart/form-data),
// reading at most max bytes, and puts what it read back in front of the
// rest, so that the backend receives the body unchanged. It returns
// errNoField when the body is no form or has no such field, and
// ErrFormTooLarge when the field is not within max bytes.
func formField(r *web.Request, name string, max int64) ([]byte, error) {
	ct := r.Header.Peek("Content-Type")
	if len(ct) == 0 {
		return nil, errNoField
	}
	mt, params, err := mime.ParseMediaType(string(ct))
	if err != nil {
		return nil, errNoField
	}
	var read bytes.Buffer
	lr := &limitReader{r: r.Body(), n: max}
	body := io.TeeReader(lr, &read)
	defer func() {
		// The bytes read go first, then the rest: the backend reads the
		// body as the client sent it.
		r.SetBody(io.MultiReader(bytes.NewReader(read.Bytes()), r.Body()), r.ContentLength())
	}()
	switch mt {
	case "application/x-www-form-urlencoded":
		return urlencodedField(body, lr, name)
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return nil, errNoField
		}
		return multipartField(multipart.NewReader(body, boundary), lr, name)
	}
	return nil, errNoField
}

// urlencodedField scans pairs as they arrive and stops at the field.
func urlencodedField(body io.Reader, lr *limitReader, name string) ([]byte, error) {
	var pending []byte
	buf := make([]byte, 4096)
	for {
		n, err := body.Read(buf)
		pending = append(pending, buf[:n]...)
		// Complete pairs end with '&'; at EOF the last one is complete too.
		for {
			i := bytes.IndexByte(pending, '&')
			if i < 0 {
				break
			}
			if v, ok := pairValue(pending[:i], name); ok {
				return v, nil
			}
			pending = pending[i+1:]
		}
		switch {
		case err == io.EOF:
			if v, ok := pairValue(pending, name); ok {
				return v, nil
			}
			return nil, errNoField
		case lr.over:
			// The last pair may be cut by the limit: it is not the field.
			return nil, ErrFormTooLarge
		case err != nil:
			return nil, err
		}
	}
}

// pairValue decodes a "name=value" pair if its name is name.
func pairValue(pair []byte, name string) ([]byte, bool) {
	k, v, _ := bytes.Cut(pair, []byte("="))
	key, err := url.QueryUnescape(string(k))
	if err != nil || key != name {
		return nil, false
	}
	val, err := url.QueryUnescape(string(v))
	if err != nil {
		return nil, false
	}
	return []byte(val), true
}

// multipartField reads parts until the field; file parts are read through.
func multipartField(mr *multipart.Reader, lr *limitReader, name string) ([]byte, error) {
	for {
		p, err := mr.NextRawPart()
		switch {
		case err != nil && lr.over:
			return nil, ErrFormTooLarge
		case err == io.EOF:
			return nil, errNoField
		case err != nil:
			return nil, errNoField // not a multipart body after all
		}
		if p.FormName() != name || p.FileName() != "" {
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, int64(MaskedLen)+1))
		if err != nil {
			if lr.over {
				return nil, ErrFormTooLarge
			}
			return nil, errNoField
		}
		return bytes.TrimRight(v, "\r\n"), nil
	}
}

// limitReader reads at most n bytes, then fails and sets over.
type limitReader struct {
	r    io.Reader
	n    int64
	over bool
}

var errOver = errors.New("csrf: form limit")

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// One byte more tells a body of exactly n bytes from a longer one;
		// it is returned, so that what was read is still the body's start.
		if len(p) == 0 {
			return 0, nil
		}
		n, err := l.r.Read(p[:1])
		if n > 0 {
			l.over = true
			return n, errOver
		}
		return 0, err
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
