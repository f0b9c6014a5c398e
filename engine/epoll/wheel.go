package epoll

// wheel is a hashed timer wheel: slot i holds the entries due in ticks i,
// i+len(slots), i+2*len(slots), ... Filing and removing an entry are O(1); each
// tick visits one slot and fires the entries due, leaving those of later rounds.
// Entries are intrusive (a timerNode inside the timed object), so timing a
// connection allocates nothing. It is used by one goroutine (the loop).
type wheel[T any] struct {
	tick  int64 // nanoseconds per slot
	slots []timerNode[T]
	cur   int64 // the last tick processed (time / tick)
	n     int
}

// timerNode is the wheel's link inside a timed object.
type timerNode[T any] struct {
	next, prev *timerNode[T]
	at         int64 // when it is due, in Unix nanoseconds; 0 when not filed
	v          T
}

func newWheel[T any](tick int64, slots int, now int64) *wheel[T] {
	w := &wheel[T]{tick: tick, slots: make([]timerNode[T], slots), cur: now / tick}
	for i := range w.slots {
		s := &w.slots[i]
		s.next, s.prev = s, s
	}
	return w
}

// add files n to fire at time at (re-filing it if it was filed).
func (w *wheel[T]) add(n *timerNode[T], at int64) {
	if n.at != 0 {
		w.remove(n)
	}
	t := (at + w.tick - 1) / w.tick // the first tick at or after at
	if t <= w.cur {
		t = w.cur + 1
	}
	s := &w.slots[t%int64(len(w.slots))]
	n.at = at
	n.prev, n.next = s.prev, s
	s.prev.next = n
	s.prev = n
	w.n++
}

func (w *wheel[T]) remove(n *timerNode[T]) {
	if n.at == 0 {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	n.next, n.prev, n.at = nil, nil, 0
	w.n--
}

// next returns when the next tick is due, or 0 when nothing is filed.
func (w *wheel[T]) next() int64 {
	if w.n == 0 {
		return 0
	}
	return (w.cur + 1) * w.tick
}

// advance fires, with fire(v), every entry due at or before now. fire may file
// entries again (they go to a later tick).
func (w *wheel[T]) advance(now int64, fire func(T)) {
	end := now / w.tick
	if end <= w.cur {
		return
	}
	start := w.cur + 1
	if end-start >= int64(len(w.slots)) {
		start = end - int64(len(w.slots)) + 1 // every slot once
	}
	w.cur = end
	for t := start; t <= end; t++ {
		s := &w.slots[t%int64(len(w.slots))]
		for n := s.next; n != s; {
			next := n.next
			if n.at <= now {
				w.remove(n)
				fire(n.v)
			}
			n = next
		}
	}
}
