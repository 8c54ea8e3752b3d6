package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"golang.org/x/sync/singleflight"
)

// buildFunc is one build, given the context it must stop on and the log
// it writes to.
type buildFunc func(ctx context.Context, log io.Writer) (Result, error)

// scheduler runs builds. Identical requests (same key) share one build:
// the first caller's request becomes a flight that later callers join,
// each receiving the log from its start and the same result. A flight then
// waits in the queue for its turn. It is cancelled only when every caller
// waiting on it has gone, or the scheduler is closed.
type scheduler struct {
	queue *queue
	group singleflight.Group

	mu      sync.Mutex
	flights map[string]*flight
	gen     uint64
	base    context.Context
	stop    context.CancelFunc
	wg      sync.WaitGroup // one per flight
}

// flight is one shared build.
type flight struct {
	sfKey  string // the singleflight key: the request key and a generation
	ctx    context.Context
	cancel context.CancelFunc
	refs   int
	hub    *hub
}

func newScheduler(maxConcurrent int) *scheduler {
	base, stop := context.WithCancel(context.Background())
	return &scheduler{
		queue:   newQueue(maxConcurrent),
		flights: map[string]*flight{},
		base:    base,
		stop:    stop,
	}
}

// do runs build for service, or joins the identical build (same key) that
// is already queued or running. log receives the build's log, line by
// line, until do returns; nothing is written to it afterwards.
func (s *scheduler) do(ctx context.Context, service, key string, log io.Writer, build buildFunc) (Result, error) {
	s.mu.Lock()
	if s.base.Err() != nil {
		s.mu.Unlock()
		return Result{}, fmt.Errorf("builder closed: %w", ErrCancelled)
	}
	f := s.flights[key]
	if f == nil || f.ctx.Err() != nil {
		// A flight whose callers all left is being torn down: start
		// afresh rather than join it.
		s.gen++
		fctx, cancel := context.WithCancel(s.base)
		f = &flight{sfKey: key + "#" + strconv.FormatUint(s.gen, 10), ctx: fctx, cancel: cancel, hub: &hub{}}
		s.flights[key] = f
		s.wg.Add(1)
	}
	f.refs++
	unsubscribe := f.hub.subscribe(log)
	// Called under s.mu, as land is, so a caller either joins this
	// flight's call or, once it landed, starts a new one.
	results := s.group.DoChan(f.sfKey, func() (any, error) {
		defer s.land(key, f)
		return s.run(f, service, build)
	})
	s.mu.Unlock()

	select {
	case r := <-results:
		unsubscribe()
		res, _ := r.Val.(Result)
		return res, r.Err
	case <-ctx.Done():
		unsubscribe()
		s.leave(f)
		return Result{}, fmt.Errorf("%w: %w", ErrCancelled, context.Cause(ctx))
	}
}

// run waits for the flight's turn and builds.
func (s *scheduler) run(f *flight, service string, build buildFunc) (Result, error) {
	release, err := s.queue.acquire(f.ctx, service, func(behindOwn bool) {
		if behindOwn {
			fmt.Fprintf(f.hub, "-----> Waiting for the running build of %s to finish\n", service)
		} else {
			fmt.Fprintf(f.hub, "-----> Waiting for a free build slot\n")
		}
	})
	if err != nil {
		if errors.Is(err, ErrSuperseded) {
			fmt.Fprintf(f.hub, "-----> Superseded by a newer source; not building this one\n")
			return Result{}, err
		}
		return Result{}, fmt.Errorf("waiting to build %s: %w", service, ErrCancelled)
	}
	defer release()
	return build(f.ctx, f.hub)
}

// land retires a flight once its build returned.
func (s *scheduler) land(key string, f *flight) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flights[key] == f {
		delete(s.flights, key)
	}
	s.group.Forget(f.sfKey)
	f.cancel()
	s.wg.Done()
}

// leave drops one caller from a flight, cancelling it with the last.
func (s *scheduler) leave(f *flight) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.refs--; f.refs == 0 {
		f.cancel()
	}
}

// close cancels every build and waits for them to return.
func (s *scheduler) close() {
	s.mu.Lock()
	s.stop()
	s.mu.Unlock()
	s.wg.Wait()
}

// hubBacklog is how many lines a caller joining a running build is shown
// from before it joined.
const hubBacklog = 2000

// hub fans a flight's log out to every caller waiting on it. Writes are
// whole lines (the build log writes one line per call).
type hub struct {
	mu      sync.Mutex
	subs    []*sub
	backlog [][]byte
	dropped int
}

type sub struct {
	w      io.Writer
	broken bool
}

func (h *hub) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	line := append([]byte(nil), p...)
	if len(h.backlog) == hubBacklog {
		h.backlog = h.backlog[1:]
		h.dropped++
	}
	h.backlog = append(h.backlog, line)
	for _, s := range h.subs {
		s.write(line)
	}
	return len(p), nil
}

// write passes a line to one caller; a caller whose writer fails (its
// client went away) is not written to again, and does not stop the build.
func (s *sub) write(p []byte) {
	if s.broken {
		return
	}
	if _, err := s.w.Write(p); err != nil {
		s.broken = true
	}
}

// subscribe replays the backlog to w and adds it; the returned function
// removes it, after which w is never written to.
func (h *hub) subscribe(w io.Writer) func() {
	if w == nil {
		return func() {}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &sub{w: w}
	if h.dropped > 0 {
		s.write(fmt.Appendf(nil, "(%d earlier lines not shown)\n", h.dropped))
	}
	for _, line := range h.backlog {
		s.write(line)
	}
	h.subs = append(h.subs, s)
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for i, x := range h.subs {
			if x == s {
				h.subs = append(h.subs[:i:i], h.subs[i+1:]...)
				return
			}
		}
	}
}
