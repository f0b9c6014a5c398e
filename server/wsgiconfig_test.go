package server

import (
	"fmt"
	"testing"

	"gatehouse/backend/wsgi"
	"gatehouse/config"
)

// worker_queue: absent keeps the pool's default, 0 turns the queue off (the
// pool's -1), a number is passed on; a route without response buffering, or
// without temporary files for large responses, queues nothing whatever the
// key says.
func TestWSGIConfigWorkerQueue(t *testing.T) {
	for _, c := range []struct {
		key      *int
		buffered *bool
		spill    bool
		want     int
	}{
		{nil, nil, true, 0}, {ptr(0), nil, true, -1}, {ptr(3), nil, true, 3}, {ptr(7), ptr(true), true, 7},
		{nil, ptr(false), true, -1}, {ptr(5), ptr(false), true, -1}, {nil, nil, false, -1}, {ptr(5), ptr(true), false, -1},
	} {
		r := &config.Route{Path: "/", WSGI: &config.WSGI{App: "app:app", WorkerQueue: c.key}, ResponseBuffering: c.buffered}
		if got := WSGIConfig(r, c.spill).WorkerQueue; got != c.want {
			t.Errorf("worker_queue %v, response_buffering %v, spill %v: WorkerQueue %d, want %d", c.key, c.buffered, c.spill, got, c.want)
		}
	}
}

// [http] max_temp_file = "0" is what Built.wsgi passes as no spill.
func TestMaxTempFileZeroIsNoSpill(t *testing.T) {
	for _, c := range []struct {
		size  *config.Size
		spill bool
	}{{nil, true}, {&config.Size{Bytes: 0}, false}, {&config.Size{Bytes: 1 << 20}, true}} {
		if got := bufferConfig(config.HTTP{MaxTempFile: c.size}, 0).MaxTempFile >= 0; got != c.spill {
			t.Errorf("max_temp_file %v: spill %v", c.size, got)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// config's bound on worker_queue is the pool's: the most it takes is its
// default, and one more is refused.
func TestWorkerQueueBoundIsThePools(t *testing.T) {
	for q, ok := range map[int]bool{wsgi.DefaultWorkerQueue: true, wsgi.DefaultWorkerQueue + 1: false} {
		src := fmt.Sprintf("[[listen]]\naddr = \"127.0.0.1:0\"\n[[site]]\n[[site.route]]\npath = \"/\"\nwsgi = { app = \"app:app\", worker_queue = %d }\n", q)
		c, err := config.Parse("t.toml", []byte(src))
		if err == nil {
			err = c.Validate()
		}
		if (err == nil) != ok {
			t.Errorf("worker_queue = %d: %v", q, err)
		}
	}
}
