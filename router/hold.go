package router

import (
	"context"
	"errors"
	"time"
)

// Why a request got no instance; ServeHTTP turns each into a response.
var (
	errQueueFull   = errors.New("queue full")
	errHoldTimeout = errors.New("hold timeout")
	errGone        = errors.New("service removed")
	errNoRevision  = errors.New("no revision takes traffic")
)

// pokeInterval spaces the pokes of one revision: one is enough to start an
// instance, but a lost one must not leave requests waiting until they time
// out.
const pokeInterval = time.Second

// lease is one request's slot on one instance, released when the request
// ends. The retrying transport moves it to another instance when a
// connection fails before anything is sent.
type lease struct {
	svc   *service
	rev   *revision
	b     *backend
	tried []string
	// rec is the request's response writer, which holds the client's
	// connection once a websocket hijacked it.
	rec *recorder
}

// release gives the slot back and wakes one request waiting for it.
func (l *lease) release() {
	if l.b == nil {
		return
	}
	l.b.inst.inflight.Add(-1)
	l.b = nil
	wakeOne(l.rev.state)
}

// wakeOne passes a token to one waiter of the revision. The buffer of one
// coalesces tokens; a waiter that gets a slot passes a token on while others
// still wait, so no free slot is left with requests waiting. Waiters count
// themselves before they try for a slot, and releases free the slot before
// they look at the count, so a release never misses a waiter.
func wakeOne(st *revState) {
	if st.waiting.Load() > 0 {
		select {
		case st.wake <- struct{}{}:
		default:
		}
	}
}

// acquire finds an instance for the request, holding it in the revision's
// bounded queue while the revision has no ready instance (Knative's
// activator, in process) or every instance is at the service's
// maxConcurrency. It returns when a slot is taken, the queue is full, the
// hold times out or ctx ends. l.svc and l.rev are kept current when a new
// table replaces the revision the request waited for, so the caller counts
// the request against the revision that served it.
func (r *Router) acquire(ctx context.Context, t *table, l *lease) error {
	limit := int64(l.svc.maxConcurrency)
	st := l.rev.state
	// Requests already waiting go first: a new one takes a free slot
	// directly only when none waits, so under overload the queue is served
	// in order rather than by whoever arrives as a slot frees.
	if st.waiting.Load() == 0 {
		if b := pickBackend(l.rev.backends, limit, r.rnd, nil); b != nil {
			l.b = b
			return nil
		}
	}
	n := st.waiting.Add(1)
	if n > int64(r.cfg.QueueDepth) {
		st.waiting.Add(-1)
		return errQueueFull
	}
	// With others ahead, the first try waits for a token: any slot freed
	// while they wait is passed along the queue (wakeOne), so none is lost.
	try := n == 1
	st.rm().queued.Inc()
	defer func() {
		st.waiting.Add(-1)
		st.rm().queued.Dec()
	}()
	hold := time.NewTimer(r.cfg.HoldTimeout)
	defer hold.Stop()
	var repoke <-chan time.Time
	for {
		if len(l.rev.backends) == 0 {
			r.poke(st)
			if repoke == nil {
				tk := time.NewTicker(pokeInterval)
				defer tk.Stop()
				repoke = tk.C
			}
		}
		if try {
			if b := pickBackend(l.rev.backends, limit, r.rnd, nil); b != nil {
				l.b = b
				if st.waiting.Load() > 1 {
					wakeOne(st)
				}
				return nil
			}
		}
		try = true
		select {
		case <-st.wake:
		case <-repoke:
		case <-t.changed:
			t = r.table.Load()
			svc := t.services[l.svc.name]
			if svc == nil {
				return errGone
			}
			rev := svc.findRevision(l.rev.id)
			if rev == nil {
				// The revision was replaced while the request waited (a
				// rollout): the request goes to the revisions now
				// taking traffic.
				if rev = svc.pickRevision(r.rnd); rev == nil {
					return errNoRevision
				}
			}
			if rev.state != st {
				now := r.cfg.Now()
				st.leave(now)
				st.waiting.Add(-1)
				st.rm().queued.Dec()
				st = rev.state
				st.waiting.Add(1)
				st.rm().queued.Inc()
				st.enter(now)
			}
			l.svc, l.rev, limit = svc, rev, int64(svc.maxConcurrency)
		case <-hold.C:
			return errHoldTimeout
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// poke tells the deployer that requests wait on a revision without
// instances, at most once per pokeInterval per revision.
func (r *Router) poke(st *revState) {
	if r.cfg.Poke == nil {
		return
	}
	now := r.cfg.Now().UnixNano()
	last := st.lastPoke.Load()
	if last != 0 && now-last < int64(pokeInterval) {
		return
	}
	if !st.lastPoke.CompareAndSwap(last, now) {
		return
	}
	r.cfg.Poke(st.key.service, st.key.revision)
}

// findRevision returns the service's revision with that ID, or nil.
func (s *service) findRevision(id string) *revision {
	for _, r := range s.revisions {
		if r.id == id {
			return r
		}
	}
	return nil
}

// enter and leave count a request in or out of the revision's concurrency.
func (st *revState) enter(now time.Time) {
	st.conc.change(now, 1)
	st.rm().concurrency.Inc()
}

func (st *revState) leave(now time.Time) {
	st.conc.change(now, -1)
	st.rm().concurrency.Dec()
}
