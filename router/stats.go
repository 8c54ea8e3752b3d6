package router

import (
	"sync"
	"sync/atomic"
	"time"
)

// windowCount is how many one-second windows each revision keeps: 60, the
// length of Knative's stable window, so the autoscaler can average over it.
const windowCount = 60

// Window is one second of a revision's traffic as the router saw it.
type Window struct {
	// Start is the start of the second.
	Start time.Time
	// AverageConcurrency is the time-weighted average number of requests
	// the revision had in the router during the second: waiting for an
	// instance or being served. Counting the waiting ones is what lets a
	// revision with no instance show demand (Knative's activator does the
	// same).
	AverageConcurrency float64
	// MaxConcurrency is the peak of that number during the second.
	MaxConcurrency int
	// Requests is the number of requests that arrived during the second.
	Requests int
}

// LatencyBucket is one bucket of a cumulative latency histogram.
type LatencyBucket struct {
	// UpperBound is the bucket's inclusive upper bound.
	UpperBound time.Duration
	// Count is the number of requests that took at most UpperBound.
	Count uint64
}

// RevisionSample is what the autoscaler reads about one revision.
type RevisionSample struct {
	Service  string
	Revision string
	// Instances is the number of ready instances in the routing table.
	Instances int
	// Concurrency is the number of requests in the router for the
	// revision now, waiting or served; Queued is the waiting part of it.
	Concurrency int
	Queued      int
	// Windows are the completed one-second windows, oldest first, at most
	// the last 60.
	Windows []Window
	// Requests is the number of requests finished since the router started,
	// and Latency their cumulative histogram (time from arrival in the
	// router, holds included, to the end of the response).
	Requests uint64
	Latency  []LatencyBucket
}

// latencyBounds are the histogram's bucket bounds, shared by the samples and
// the Prometheus histogram (in seconds there).
var latencyBounds = []time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second, 120 * time.Second,
}

// concurrency integrates a revision's number of requests over time into
// one-second windows. It takes the time of each change, so it is exact
// whatever the request rate, and a test drives it with a fake clock.
type concurrency struct {
	mu          sync.Mutex
	current     int
	peak        int
	arrived     int
	windowStart time.Time
	lastChange  time.Time
	area        float64 // request-seconds so far in the current window
	// ring is made on the first completed window: most routes of a large
	// table see no traffic and should cost no memory for it.
	ring    *[windowCount]Window
	head, n int
}

// change records delta requests entering (+1) or leaving (-1) at now.
func (c *concurrency) change(now time.Time, delta int) {
	c.mu.Lock()
	c.advance(now)
	c.current += delta
	if delta > 0 {
		c.arrived += delta
	}
	c.peak = max(c.peak, c.current)
	c.mu.Unlock()
}

// advance closes every window that ended by now. c.mu is held.
func (c *concurrency) advance(now time.Time) {
	if c.windowStart.IsZero() {
		c.windowStart = now.Truncate(time.Second)
		c.lastChange = now
		return
	}
	if now.Before(c.lastChange) {
		// A clock that steps back is treated as standing still.
		now = c.lastChange
	}
	for end := c.windowStart.Add(time.Second); !now.Before(end); end = c.windowStart.Add(time.Second) {
		c.area += float64(c.current) * end.Sub(c.lastChange).Seconds()
		c.push(Window{Start: c.windowStart, AverageConcurrency: c.area, MaxConcurrency: c.peak, Requests: c.arrived})
		c.windowStart, c.lastChange = end, end
		c.area, c.arrived, c.peak = 0, 0, c.current
		// After a long quiet spell only the last windowCount seconds
		// matter, and the count was constant through all of them.
		if gap := now.Sub(c.windowStart); gap > (windowCount+1)*time.Second {
			c.windowStart = now.Truncate(time.Second).Add(-windowCount * time.Second)
			c.lastChange = c.windowStart
		}
	}
	c.area += float64(c.current) * now.Sub(c.lastChange).Seconds()
	c.lastChange = now
}

func (c *concurrency) push(w Window) {
	if c.ring == nil {
		c.ring = new([windowCount]Window)
	}
	c.ring[(c.head+c.n)%windowCount] = w
	if c.n < windowCount {
		c.n++
	} else {
		c.head = (c.head + 1) % windowCount
	}
}

// snapshot closes the windows ended by now and returns the current count
// and the completed windows, oldest first.
func (c *concurrency) snapshot(now time.Time) (int, []Window) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(now)
	ws := make([]Window, c.n)
	for i := range c.n {
		ws[i] = c.ring[(c.head+i)%windowCount]
	}
	return c.current, ws
}

// latency is a cumulative histogram counted with atomics on the hot path.
type latency struct {
	counts [14]atomic.Uint64 // one per bound, then +Inf
	total  atomic.Uint64
}

func (l *latency) observe(d time.Duration) {
	i := len(latencyBounds)
	for k, b := range latencyBounds {
		if d <= b {
			i = k
			break
		}
	}
	l.counts[i].Add(1)
	l.total.Add(1)
}

func (l *latency) buckets() []LatencyBucket {
	out := make([]LatencyBucket, len(latencyBounds))
	var cum uint64
	for i, b := range latencyBounds {
		cum += l.counts[i].Load()
		out[i] = LatencyBucket{UpperBound: b, Count: cum}
	}
	return out
}

// idle reports whether no request is counted now.
func (c *concurrency) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current == 0
}
