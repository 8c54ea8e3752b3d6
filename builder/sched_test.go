package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeBuilds is a build function that takes a fixed time and records what
// ran, how many at once in all and per service.
type fakeBuilds struct {
	mu         sync.Mutex
	started    []string
	running    int
	maxRunning int
	perService map[string]int
	overlap    bool // two builds of one service ran at once
}

func newFakeBuilds() *fakeBuilds { return &fakeBuilds{perService: map[string]int{}} }

func (f *fakeBuilds) fn(service, name string, d time.Duration) buildFunc {
	return func(ctx context.Context, log io.Writer) (Result, error) {
		f.mu.Lock()
		f.started = append(f.started, name)
		f.running++
		f.maxRunning = max(f.maxRunning, f.running)
		if f.perService[service]++; f.perService[service] > 1 {
			f.overlap = true
		}
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			f.running--
			f.perService[service]--
			f.mu.Unlock()
		}()
		fmt.Fprintf(log, "building %s\n", name)
		select {
		case <-time.After(d):
			fmt.Fprintf(log, "built %s\n", name)
			return Result{Image: name}, nil
		case <-ctx.Done():
			return Result{}, ErrCancelled
		}
	}
}

func (f *fakeBuilds) runningNow() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.running
}

func (f *fakeBuilds) startedList() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.started)
}

// outcomes collects each request's result.
type outcomes struct {
	mu   sync.Mutex
	errs map[string]error
	res  map[string]Result
}

func (o *outcomes) set(name string, r Result, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.errs == nil {
		o.errs, o.res = map[string]error{}, map[string]Result{}
	}
	o.errs[name], o.res[name] = err, r
}

func (o *outcomes) get(name string) (Result, error, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	err, ok := o.errs[name]
	return o.res[name], err, ok
}

// syncBuffer is a log writer safe to read while the build writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSchedulerSupersedesQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(4)
		defer s.close()
		f := newFakeBuilds()
		var out outcomes
		var wg sync.WaitGroup
		logs := map[string]*syncBuffer{"a": {}, "b": {}, "c": {}}
		submit := func(name string) {
			wg.Go(func() {
				r, err := s.do(t.Context(), "svc", name, logs[name], f.fn("svc", name, 10*time.Second))
				out.set(name, r, err)
			})
			synctest.Wait()
		}
		submit("a") // runs
		submit("b") // waits behind a
		submit("c") // supersedes b, waits behind a
		if _, err, done := out.get("b"); !done || !errors.Is(err, ErrSuperseded) {
			t.Fatalf("b: done %v, err %v; want ErrSuperseded at once", done, err)
		}
		wg.Wait()
		if got := f.startedList(); !slices.Equal(got, []string{"a", "c"}) {
			t.Fatalf("started %v, want [a c]", got)
		}
		if r, err, _ := out.get("c"); err != nil || r.Image != "c" {
			t.Fatalf("c: %v, %v", r, err)
		}
		if log := logs["b"].String(); !strings.Contains(log, "Waiting for the running build of svc") || !strings.Contains(log, "Superseded") {
			t.Fatalf("b's log does not say why it waited and ended:\n%s", log)
		}
		if f.overlap {
			t.Fatal("two builds of svc ran at once")
		}
	})
}

func TestSchedulerOneBuildPerService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(8)
		defer s.close()
		f := newFakeBuilds()
		var wg sync.WaitGroup
		// Each arrives once the previous one runs, so none is superseded.
		for i := range 3 {
			name := fmt.Sprint("build", i)
			wg.Go(func() {
				if _, err := s.do(t.Context(), "svc", name, nil, f.fn("svc", name, 5*time.Second)); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			})
			time.Sleep(6 * time.Second)
		}
		// Another service is not held up by svc.
		wg.Go(func() {
			start := time.Now()
			s.do(t.Context(), "other", "o", nil, f.fn("other", "o", time.Second))
			if waited := time.Since(start); waited != time.Second {
				t.Errorf("other service's build took %v, want 1s", waited)
			}
		})
		wg.Wait()
		if f.overlap {
			t.Fatal("two builds of one service ran at once")
		}
		if len(f.startedList()) != 4 {
			t.Fatalf("started %v", f.startedList())
		}
	})
}

func TestSchedulerGlobalLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(2)
		defer s.close()
		f := newFakeBuilds()
		var wg sync.WaitGroup
		start := time.Now()
		for i := range 5 {
			svc := fmt.Sprint("svc", i)
			wg.Go(func() {
				if _, err := s.do(t.Context(), svc, svc, nil, f.fn(svc, svc, 10*time.Second)); err != nil {
					t.Errorf("%s: %v", svc, err)
				}
			})
		}
		wg.Wait()
		if f.maxRunning != 2 {
			t.Fatalf("at most %d builds ran at once, want 2", f.maxRunning)
		}
		// Five 10s builds two at a time: three rounds.
		if took := time.Since(start); took != 30*time.Second {
			t.Fatalf("took %v, want 30s", took)
		}
		if got := f.startedList(); len(got) != 5 {
			t.Fatalf("started %v", got)
		}
	})
}

func TestSchedulerSharesIdenticalRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(1)
		defer s.close()
		f := newFakeBuilds()
		var out outcomes
		var wg sync.WaitGroup
		first, second := &syncBuffer{}, &syncBuffer{}
		wg.Go(func() {
			r, err := s.do(t.Context(), "svc", "same-key", first, f.fn("svc", "x", 10*time.Second))
			out.set("first", r, err)
		})
		time.Sleep(time.Second) // the second joins a build under way
		wg.Go(func() {
			r, err := s.do(t.Context(), "svc", "same-key", second, f.fn("svc", "never-runs", 10*time.Second))
			out.set("second", r, err)
		})
		wg.Wait()
		if got := f.startedList(); !slices.Equal(got, []string{"x"}) {
			t.Fatalf("started %v, want one shared build", got)
		}
		for _, name := range []string{"first", "second"} {
			if r, err, _ := out.get(name); err != nil || r.Image != "x" {
				t.Errorf("%s: %v, %v", name, r, err)
			}
		}
		want := "building x\nbuilt x\n"
		if first.String() != want || second.String() != want {
			t.Fatalf("logs %q and %q, want both %q (the joiner gets the lines before it joined)", first, second, want)
		}
		// Once landed, the same key builds again.
		if _, err := s.do(t.Context(), "svc", "same-key", nil, f.fn("svc", "again", time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := f.startedList(); len(got) != 2 {
			t.Fatalf("started %v, want a second build after the first landed", got)
		}
	})
}

func TestSchedulerCancelQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(1)
		defer s.close()
		f := newFakeBuilds()
		var out outcomes
		var wg sync.WaitGroup
		wg.Go(func() {
			r, err := s.do(t.Context(), "svc", "a", nil, f.fn("svc", "a", 10*time.Second))
			out.set("a", r, err)
		})
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		wg.Go(func() {
			r, err := s.do(ctx, "svc", "b", nil, f.fn("svc", "b", 10*time.Second))
			out.set("b", r, err)
		})
		synctest.Wait()
		cancel()
		synctest.Wait()
		if _, err, done := out.get("b"); !done || !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("b: done %v, err %v; want ErrCancelled at once", done, err)
		}
		wg.Wait()
		if got := f.startedList(); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("started %v, want only a", got)
		}
		s.queue.mu.Lock()
		defer s.queue.mu.Unlock()
		if len(s.queue.lanes) != 0 || len(s.queue.waiting) != 0 || s.queue.running != 0 {
			t.Fatalf("queue not empty after all builds: %+v", s.queue)
		}
	})
}

func TestSchedulerSharedBuildOutlivesOneCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(1)
		defer s.close()
		f := newFakeBuilds()
		var out outcomes
		var wg sync.WaitGroup
		ctx1, cancel1 := context.WithCancel(t.Context())
		ctx2, cancel2 := context.WithCancel(t.Context())
		for name, ctx := range map[string]context.Context{"one": ctx1, "two": ctx2} {
			wg.Go(func() {
				r, err := s.do(ctx, "svc", "key", nil, f.fn("svc", "shared", 10*time.Second))
				out.set(name, r, err)
			})
		}
		time.Sleep(time.Second)
		cancel1()
		time.Sleep(time.Second)
		if f.runningNow() != 1 {
			t.Fatal("the shared build stopped when one of its two callers left")
		}
		cancel2()
		synctest.Wait()
		if f.runningNow() != 0 {
			t.Fatal("the shared build still runs after every caller left")
		}
		wg.Wait()
		for _, name := range []string{"one", "two"} {
			if _, err, _ := out.get(name); !errors.Is(err, ErrCancelled) {
				t.Errorf("%s: %v, want ErrCancelled", name, err)
			}
		}
	})
}

func TestSchedulerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScheduler(1)
		f := newFakeBuilds()
		var wg sync.WaitGroup
		var err1 error
		wg.Go(func() { _, err1 = s.do(t.Context(), "svc", "a", nil, f.fn("svc", "a", time.Hour)) })
		synctest.Wait()
		s.close() // returns once the build has stopped
		wg.Wait()
		if !errors.Is(err1, ErrCancelled) {
			t.Fatalf("running build after close: %v", err1)
		}
		if _, err := s.do(t.Context(), "svc", "b", nil, f.fn("svc", "b", time.Second)); !errors.Is(err, ErrCancelled) {
			t.Fatalf("build after close: %v", err)
		}
	})
}
