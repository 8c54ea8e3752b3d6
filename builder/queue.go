package builder

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// queue decides when builds run: one at a time per service, at most max
// at once in all, and for each service only the newest of the builds that
// wait. It holds no goroutines; waiters block in acquire.
type queue struct {
	mu      sync.Mutex
	max     int
	running int
	lanes   map[string]*lane
	waiting []*ticket // in arrival order, for fairness between services
}

// lane is one service's state.
type lane struct {
	busy    bool    // a build of the service holds a slot
	pending *ticket // the newest build waiting, if any
}

type ticketState int

const (
	waiting ticketState = iota
	granted
	superseded
)

// ticket is one build waiting in the queue. done is closed when state
// leaves waiting.
type ticket struct {
	service string
	state   ticketState
	done    chan struct{}
}

func newQueue(max int) *queue {
	return &queue{max: max, lanes: map[string]*lane{}}
}

// acquire waits until the build may run and returns the function that
// frees its slot. It fails with ErrSuperseded when a newer build of the
// service arrives first, or with ctx's error. queued, if not nil, is
// called once when the build has to wait, so the log can say why.
func (q *queue) acquire(ctx context.Context, service string, queued func(behindOwn bool)) (release func(), err error) {
	q.mu.Lock()
	l := q.lanes[service]
	if l == nil {
		l = &lane{}
		q.lanes[service] = l
	}
	if l.pending != nil {
		// Only the newest source is worth building next.
		q.finish(l.pending, superseded)
	}
	t := &ticket{service: service, done: make(chan struct{})}
	l.pending = t
	q.waiting = append(q.waiting, t)
	q.dispatch()
	mustWait := t.state == waiting
	behindOwn := l.busy
	q.mu.Unlock()

	if queued != nil && mustWait {
		queued(behindOwn)
	}
	select {
	case <-t.done:
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch t.state {
	case granted:
		if ctx.Err() != nil {
			q.releaseLocked(service)
			return nil, ctx.Err()
		}
		return sync.OnceFunc(func() { q.release(service) }), nil
	case superseded:
		return nil, fmt.Errorf("waiting to build %s: %w", service, ErrSuperseded)
	}
	q.remove(t)
	l.pending = nil
	q.gc(service)
	return nil, ctx.Err()
}

// finish moves t out of the waiting state. The caller holds q.mu.
func (q *queue) finish(t *ticket, s ticketState) {
	t.state = s
	q.remove(t)
	close(t.done)
}

func (q *queue) remove(t *ticket) {
	if i := slices.Index(q.waiting, t); i >= 0 {
		q.waiting = slices.Delete(q.waiting, i, i+1)
	}
}

// dispatch grants slots to waiting builds whose service is idle, oldest
// first, while slots are free. The caller holds q.mu.
func (q *queue) dispatch() {
	for q.running < q.max {
		i := slices.IndexFunc(q.waiting, func(t *ticket) bool { return !q.lanes[t.service].busy })
		if i < 0 {
			return
		}
		t := q.waiting[i]
		l := q.lanes[t.service]
		l.busy = true
		l.pending = nil
		q.running++
		q.finish(t, granted)
	}
}

func (q *queue) release(service string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(service)
}

func (q *queue) releaseLocked(service string) {
	q.lanes[service].busy = false
	q.running--
	q.gc(service)
	q.dispatch()
}

// gc forgets a service with nothing running or waiting.
func (q *queue) gc(service string) {
	if l := q.lanes[service]; l != nil && !l.busy && l.pending == nil {
		delete(q.lanes, service)
	}
}
