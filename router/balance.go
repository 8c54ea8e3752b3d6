package router

import (
	"sync/atomic"
)

// instance holds the counters of one instance address. They live apart from
// the tables, in the Router, so a table swap (a new instance published, a
// weight changed) keeps the in-flight count of every instance that stays.
type instance struct {
	// inflight is the number of requests proxied to the instance now; it
	// never exceeds the service's maxConcurrency (tryAcquire checks).
	inflight atomic.Int64
	// failures counts the connections that failed in a row; a success
	// resets it. The balancer prefers instances without failures.
	failures atomic.Int64
	// refs counts the backends of the serving table at this address
	// (guarded by Router.mu).
	refs int
	// owner is the service and revision ("web/rev_…") the address was
	// first published for (guarded by Router.mu).
	owner string
	// pool holds the fast path's idle connections to the address, made on
	// first use (Router.pool).
	pool atomic.Pointer[connPool]
}

// tryAcquire takes one of the instance's limit slots, or reports that all
// are taken. The compare-and-swap makes the hard limit hold under any
// number of concurrent requests.
func (i *instance) tryAcquire(limit int64) bool {
	for {
		n := i.inflight.Load()
		if n >= limit {
			return false
		}
		if i.inflight.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// better reports whether a should be preferred over b: an instance whose
// last connection failed ranks below one that answers, then the one with
// fewer outstanding requests wins.
func better(a, b *backend) bool {
	fa, fb := a.inst.failures.Load() > 0, b.inst.failures.Load() > 0
	if fa != fb {
		return fb
	}
	return a.inst.inflight.Load() <= b.inst.inflight.Load()
}

// pickBackend takes a slot on one of the backends with the power of two
// choices (Mitzenmacher): two instances drawn at random, the less loaded
// wins. It is nearly as good as scanning for the least loaded and keeps
// concurrent requests from all piling onto the same one. When both draws
// are full (or excluded) it scans the rest from a random start, so a free
// slot anywhere is found. rnd(n) returns a number in [0, n); exclude skips
// instances already tried by this request. It returns nil when every
// instance is at limit.
func pickBackend(bs []*backend, limit int64, rnd func(int) int, exclude func(string) bool) *backend {
	ok := func(b *backend) bool {
		return (exclude == nil || !exclude(b.addr)) && b.inst.tryAcquire(limit)
	}
	n := len(bs)
	switch n {
	case 0:
		return nil
	case 1:
		if ok(bs[0]) {
			return bs[0]
		}
		return nil
	}
	i := rnd(n)
	j := rnd(n - 1)
	if j >= i {
		j++
	}
	a, b := bs[i], bs[j]
	if !better(a, b) {
		a, b = b, a
	}
	if ok(a) {
		return a
	}
	if ok(b) {
		return b
	}
	if n == 2 {
		return nil
	}
	start := rnd(n)
	for k := range n {
		c := bs[(start+k)%n]
		if c != a && c != b && ok(c) {
			return c
		}
	}
	return nil
}
