package buffer

import (
	"errors"
	"log/slog"
	"strconv"
	"sync"

	"gatehouse/internal/spool"
	"gatehouse/web"
)

// Defaults for Config.
const (
	DefaultBodyMemory     = spool.DefaultMemory // 16 KiB, nginx's client_body_buffer_size
	DefaultResponseMemory = 64 << 10            // nginx's proxy_buffers: 8 × 8 KiB
	DefaultMaxTempFile    = 1 << 30             // nginx's proxy_max_temp_file_size
)

// Config says what is buffered, and how much of it in memory.
type Config struct {
	// StreamRequests passes request bodies to the handler as they arrive,
	// as nginx's proxy_request_buffering off: uploads reach the application
	// at once and are never written to disk, but a slow uploader holds an
	// application worker for as long as it takes. Default false: a body is
	// read to its end before the handler runs.
	StreamRequests bool
	// StreamResponses passes every response through as the handler writes
	// it, as nginx's proxy_buffering off: the handler waits whenever the
	// client reads slowly. Default false: see the package documentation.
	StreamResponses bool

	// BodyMemory is how many bytes of a request body stay in memory; the
	// rest goes to a temporary file. Default 16 KiB.
	BodyMemory int
	// ResponseMemory is how many bytes of one response may wait in memory
	// for a slow client; more go to a temporary file. Default 64 KiB.
	ResponseMemory int
	// MaxTempFile bounds the bytes of one response waiting in its temporary
	// file. When it is full the handler's writes wait for the client, as
	// they would unbuffered. Default 1 GiB; negative: no file (beyond
	// ResponseMemory, writes wait).
	MaxTempFile int64
	// MaxBody bounds a request body read here; more is 413. Default 0: no
	// bound of its own (the HTTP and uwsgi servers bound bodies by their
	// max_body before this is reached).
	MaxBody int64
	// TempDir holds the temporary files, unlinked as soon as they are
	// created. Default "": os.TempDir().
	TempDir string
	// Logger receives a line when a temporary file fails (the disk is full).
	// nil: slog.Default().
	Logger *slog.Logger
}

// Buffer is the middleware for one Config. Build it once and share it: it
// holds the pools of buffers.
type Buffer struct {
	cfg    Config
	log    *slog.Logger
	bodies spool.Spooler
	chunks sync.Pool // *chunk
	ws     sync.Pool // *writer
	flush  flusher
}

var errTooLarge = &web.Error{Status: 413, Err: errors.New("buffer: request body over the limit")}

// chunkSize is the unit of response memory: the default ResponseMemory, so
// that a response that fits goes out in one write.
const chunkSize = 64 << 10

type chunk struct{ b [chunkSize]byte }

// New returns the buffering for cfg.
func New(cfg Config) *Buffer {
	if cfg.BodyMemory <= 0 {
		cfg.BodyMemory = DefaultBodyMemory
	}
	if cfg.ResponseMemory <= 0 {
		cfg.ResponseMemory = DefaultResponseMemory
	}
	if cfg.MaxTempFile == 0 {
		cfg.MaxTempFile = DefaultMaxTempFile
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = -1
	}
	b := &Buffer{cfg: cfg, log: cfg.Logger}
	if b.log == nil {
		b.log = slog.Default()
	}
	b.bodies = spool.Spooler{Memory: cfg.BodyMemory, Dir: cfg.TempDir, Pattern: "gatehouse-body-*"}
	return b
}

// Wrap returns next behind the buffering.
func (b *Buffer) Wrap(next web.Handler) web.Handler {
	return web.HandlerFunc(func(w web.ResponseWriter, r *web.Request) error {
		return b.serve(next, w, r)
	})
}

// Middleware returns Wrap as a web.Middleware.
func (b *Buffer) Middleware() web.Middleware { return b.Wrap }

func (b *Buffer) serve(next web.Handler, w web.ResponseWriter, r *web.Request) (err error) {
	// The request leaves with the body it came with: what follows the
	// handler (the files of a PHP site) must not read one this closed.
	body, length := r.Body(), r.ContentLength()
	defer r.SetBody(body, length)
	if !b.cfg.StreamRequests && length != 0 {
		spooled, err := b.readBody(r)
		if err != nil {
			return err
		}
		defer spooled.Close()
	}
	x := b.getWriter(w, r)
	if b.cfg.StreamRequests && length != 0 {
		// The handler reads the body from the connection: the drainer,
		// which writes to it, waits until the body is in (see
		// writer.reading).
		x.body = streamBody{x: x, r: body, left: length}
		x.reading = true
		r.SetBody(&x.body, length)
	}
	defer func() {
		if p := recover(); p != nil {
			// The drainer must stop before the server answers the panic;
			// the writer is not reused.
			x.finish(errPanicked)
			panic(p)
		}
	}()
	err = next.ServeHTTP(x, r)
	err = x.finish(err)
	b.putWriter(x)
	return err
}

var errPanicked = errors.New("buffer: the handler panicked")

// readBody reads r's body to its end and puts it in the body's place. A body
// that came chunked is then described as one of known length (Content-Length,
// no Transfer-Encoding), as nginx passes a buffered body on: every gateway
// can give the application CONTENT_LENGTH without spooling it again.
func (b *Buffer) readBody(r *web.Request) (*spool.Body, error) {
	body, err := b.bodies.Read(r.Body(), b.cfg.MaxBody)
	switch {
	case errors.Is(err, spool.ErrTooLarge):
		return nil, errTooLarge
	case err != nil:
		return nil, err // the body's own error (400, 408, 413), or the file's (500)
	}
	if r.ContentLength() < 0 {
		r.Header.Del("Transfer-Encoding")
		r.Header.Del("Trailer") // the trailers, if any, were read with the body
		var digits [20]byte
		r.Header.Set("Content-Length", string(strconv.AppendInt(digits[:0], body.Len(), 10)))
	}
	r.SetBody(body, body.Len())
	return body, nil
}
