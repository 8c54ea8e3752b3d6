package router

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

// The done-when of the router issue: 0 failures for a burst of 100
// concurrent requests to a revision with no ready instance until 300 ms
// later.
func TestColdStartBurstIsHeldNotFailed(t *testing.T) {
	var pokes atomic.Int64
	pokedCh := make(chan struct{}, 1)
	r := newTestRouter(t, Config{Poke: func(service, revision string) {
		if service != "cold" || revision != "cold-r1" {
			t.Errorf("poke(%q, %q)", service, revision)
		}
		pokes.Add(1)
		select {
		case pokedCh <- struct{}{}:
		default:
		}
	}})
	publish(t, r, oneRevision("cold"))
	addr := serveRouter(t, r)
	app := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "warm") }))

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	const n = 100
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
			req.Host = "cold.localhost"
			res, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || string(b) != "warm" {
				failed.Add(1)
				t.Errorf("%d %q", res.StatusCode, b)
			}
		})
	}
	select {
	case <-pokedCh:
	case <-time.After(5 * time.Second):
		t.Fatal("no poke")
	}
	time.Sleep(300 * time.Millisecond)
	publish(t, r, oneRevision("cold", app))
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed", failed.Load(), n)
	}
	if p := pokes.Load(); p < 1 || p > 3 {
		t.Errorf("%d pokes, want 1 (at most one a second)", p)
	}
	t.Logf("burst of %d served %v after it started (instance published at ~300 ms)", n, time.Since(start).Round(time.Millisecond))
}

func TestHoldQueueFullAndTimeout(t *testing.T) {
	r := newTestRouter(t, Config{QueueDepth: 2, HoldTimeout: 200 * time.Millisecond})
	publish(t, r, oneRevision("cold"))
	var wg sync.WaitGroup
	codes := make(chan int, 3)
	for range 2 {
		wg.Go(func() {
			code, h, body := do(t, r, "GET", "cold.localhost", "/", nil, nil)
			if h.Get("Retry-After") == "" || !strings.Contains(body, "ready within") {
				t.Errorf("timed-out hold: %d %v %q", code, h, body)
			}
			codes <- code
		})
	}
	// Wait until both hold, then a third finds the queue full at once.
	deadline := time.Now().Add(2 * time.Second)
	for r.table.Load().services["cold"].revisions[0].state.waiting.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("requests never queued")
		}
		time.Sleep(time.Millisecond)
	}
	t0 := time.Now()
	code, h, body := do(t, r, "GET", "cold.localhost", "/", nil, nil)
	if code != 503 || h.Get("Retry-After") != "1" || !strings.Contains(body, "too many requests are waiting") {
		t.Errorf("queue full: %d %v %q", code, h, body)
	}
	if d := time.Since(t0); d > 100*time.Millisecond {
		t.Errorf("queue-full answer took %v; it should not wait", d)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 503 {
			t.Errorf("held request got %d, want 503 after the hold timeout", c)
		}
	}
}

// Above maxConcurrency on every instance, requests wait instead of
// overloading one, and all are served.
func TestMaxConcurrencyIsAHardLimit(t *testing.T) {
	var cur, peak atomic.Int64
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
	})
	r := newTestRouter(t, Config{})
	publish(t, r, spec.ServiceRoutes{Service: "web", MaxConcurrency: 3,
		Revisions: []spec.RevisionRoutes{{ID: "r1", Instances: []string{startBackend(t, app)}}}})
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			if code, _, body := do(t, r, "GET", "web.localhost", "/", nil, nil); code != 200 {
				t.Errorf("%d %q", code, body)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 3 {
		t.Errorf("instance saw %d concurrent requests, limit 3", p)
	}
	if p := peak.Load(); p < 2 {
		t.Errorf("instance saw at most %d concurrent requests; the queue did not let them through", p)
	}
}

// A request held for a revision that a rollout replaces goes to the new
// revision.
func TestHeldRequestFollowsARollout(t *testing.T) {
	r := newTestRouter(t, Config{})
	publish(t, r, oneRevision("web"))
	app := startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "new") }))
	done := make(chan string)
	go func() {
		_, _, body := do(t, r, "GET", "web.localhost", "/", nil, nil)
		done <- body
	}()
	for r.table.Load().services["web"].revisions[0].state.waiting.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	publish(t, r, spec.ServiceRoutes{Service: "web", Revisions: []spec.RevisionRoutes{{ID: "r2", Instances: []string{app}}}})
	if body := <-done; body != "new" {
		t.Fatalf("got %q", body)
	}
	for _, s := range r.Samples(time.Now()) {
		if s.Concurrency != 0 || s.Queued != 0 {
			t.Errorf("%s/%s still counts %d requests (%d queued)", s.Service, s.Revision, s.Concurrency, s.Queued)
		}
	}
}

// Under sustained overload every queued request is served: a freed slot is
// never left idle while requests wait.
func TestOverloadQueueNeverStalls(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { time.Sleep(2 * time.Millisecond) })
	r := newTestRouter(t, Config{HoldTimeout: 20 * time.Second})
	publish(t, r, spec.ServiceRoutes{Service: "web", MaxConcurrency: 2,
		Revisions: []spec.RevisionRoutes{{ID: "r1", Instances: []string{startBackend(t, app), startBackend(t, app)}}}})
	start := time.Now()
	var wg sync.WaitGroup
	for range 300 {
		wg.Go(func() {
			if code, _, body := do(t, r, "GET", "web.localhost", "/", nil, nil); code != 200 {
				t.Errorf("%d %q", code, body)
			}
		})
	}
	wg.Wait()
	// 300 requests of 2 ms through 4 slots need 150 ms; a stalled slot
	// would show as a wait near the hold timeout.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("300 requests took %v", d)
	}
	t.Logf("300 requests through 4 slots in %v", time.Since(start).Round(time.Millisecond))
}
