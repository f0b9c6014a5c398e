package server

import (
	"testing"

	"gatehouse/config"
)

// worker_queue: absent keeps the pool's default, 0 turns the queue off (the
// pool's -1), a number is passed on.
func TestWSGIConfigWorkerQueue(t *testing.T) {
	for _, c := range []struct {
		key  *int
		want int
	}{{nil, 0}, {ptr(0), -1}, {ptr(3), 3}, {ptr(7), 7}} {
		got := WSGIConfig("/", &config.WSGI{App: "app:app", WorkerQueue: c.key}).WorkerQueue
		if got != c.want {
			t.Errorf("worker_queue %v: WorkerQueue %d, want %d", c.key, got, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
