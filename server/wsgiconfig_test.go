package server

import (
	"testing"

	"gatehouse/config"
)

// worker_queue: absent keeps the pool's default, 0 turns the queue off (the
// pool's -1), a number is passed on; a route without response buffering
// queues nothing whatever the key says.
func TestWSGIConfigWorkerQueue(t *testing.T) {
	for _, c := range []struct {
		key      *int
		buffered *bool
		want     int
	}{{nil, nil, 0}, {ptr(0), nil, -1}, {ptr(3), nil, 3}, {ptr(7), ptr(true), 7}, {nil, ptr(false), -1}, {ptr(5), ptr(false), -1}} {
		r := &config.Route{Path: "/", WSGI: &config.WSGI{App: "app:app", WorkerQueue: c.key}, ResponseBuffering: c.buffered}
		if got := WSGIConfig(r).WorkerQueue; got != c.want {
			t.Errorf("worker_queue %v, response_buffering %v: WorkerQueue %d, want %d", c.key, c.buffered, got, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
