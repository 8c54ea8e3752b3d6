package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apprun/apprun/spec"
)

// Router routes requests by host to the ready instances of a service's
// revisions. Create it with New; it is safe for concurrent use.
type Router struct {
	cfg Config
	log *slog.Logger
	// rnd draws the random choices of the balancer and the traffic split;
	// tests replace it.
	rnd func(int) int

	// table is the routing snapshot requests read without a lock.
	table atomic.Pointer[table]

	// mu guards the published routes and the counters kept across tables.
	// Publishers hold it only to update the map and mark the service
	// dirty; the table is built under buildMu so that publishers arriving
	// during a build coalesce into the next one.
	mu        sync.Mutex
	routes    map[string]spec.ServiceRoutes
	dirty     map[string]bool
	version   uint64
	instances map[string]*instance
	revs      map[revKey]*revState
	// Counters whose instance or revision left the table while requests
	// still used them; each build drops those that have gone idle.
	orphanInst map[string]bool
	orphanRevs map[revKey]bool

	buildMu sync.Mutex
	built   uint64 // the routes version the current table was built from

	m         *metrics
	proxy     *httputil.ReverseProxy
	transport *http.Transport
	// dial connects the fast path to an instance (forward.go); tests
	// replace it.
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	logMu sync.Mutex // serialises access-log lines

	// Graceful shutdown: active counts ServeHTTP calls (websockets
	// included, as the proxy blocks until they close); stop is cancelled
	// when Shutdown's deadline passes, ending whatever is still running.
	active   atomic.Int64
	idle     chan struct{}
	stopCtx  context.Context
	stop     context.CancelCauseFunc
	srvMu    sync.Mutex
	servers  []*http.Server
	shutdown bool
}

type revKey struct{ service, revision string }

// revState is what the router keeps per revision across tables: the queue of
// requests waiting for an instance, the concurrency samples and the metric
// children.
type revState struct {
	key revKey
	// waiting is the number of requests in the revision's queue.
	waiting atomic.Int64
	// wake gets a token when a slot frees on one of the revision's
	// instances; a waiter that takes it passes it on (see hold.go).
	wake chan struct{}
	// lastPoke is when Poke was last called for the revision (UnixNano).
	lastPoke atomic.Int64
	conc     concurrency
	lat      latency
	// refs counts the revisions of the serving table bound to this
	// state (guarded by Router.mu).
	refs int
	// The metric children are made on the first request, so an idle
	// revision costs no series.
	metrics *metrics
	mOnce   sync.Once
	m       *revMetrics
}

// rm returns the revision's metric children.
func (st *revState) rm() *revMetrics {
	st.mOnce.Do(func() {
		m := st.metrics.forRevision(st.key.service, st.key.revision)
		st.m = &m
	})
	return st.m
}

// New returns a router with an empty table: every host answers 404 until
// routes are published.
func New(cfg Config, log *slog.Logger) (*Router, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("router config: %w", err)
	}
	if log == nil {
		return nil, errors.New("router: a logger is required")
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	r := &Router{
		cfg:        cfg,
		log:        log,
		rnd:        rand.IntN,
		routes:     map[string]spec.ServiceRoutes{},
		dirty:      map[string]bool{},
		instances:  map[string]*instance{},
		revs:       map[revKey]*revState{},
		orphanInst: map[string]bool{},
		orphanRevs: map[revKey]bool{},
		m:          m,
		idle:       make(chan struct{}, 1),
	}
	r.stopCtx, r.stop = context.WithCancelCause(context.Background())
	r.transport = newTransport(cfg)
	r.proxy = r.newProxy()
	r.dial = (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext
	r.table.Store(buildTable(nil, cfg.AppsDomain))
	return r, nil
}

// Publish replaces the routes of one service (adding it if new) and returns
// once a table with them is serving, so a deployer that publishes a new
// revision and then drains the old one never drains too early. Publishes
// that arrive while a table is being built are folded into the next build:
// the latest routes of each service win.
func (r *Router) Publish(sr spec.ServiceRoutes) error {
	if err := sr.Validate(); err != nil {
		return fmt.Errorf("publishing routes of %q: %w", sr.Service, err)
	}
	sr.Hosts = slices.Clone(sr.Hosts)
	sr.Revisions = slices.Clone(sr.Revisions)
	for i := range sr.Revisions {
		sr.Revisions[i].Instances = slices.Clone(sr.Revisions[i].Instances)
	}
	r.mu.Lock()
	r.routes[sr.Service] = sr
	r.dirty[sr.Service] = true
	r.version++
	v := r.version
	r.mu.Unlock()
	r.rebuild(v)
	return nil
}

// Remove stops routing a service: its hosts answer 404 from the next
// request on. Requests already proxied finish.
func (r *Router) Remove(service string) {
	r.mu.Lock()
	delete(r.routes, service)
	r.dirty[service] = true
	r.version++
	v := r.version
	r.mu.Unlock()
	r.rebuild(v)
}

// Routes returns the published routes of every service, ordered by
// service name (for the Traefik export and the dashboard). The values are
// copies: changing them changes nothing here.
func (r *Router) Routes() []spec.ServiceRoutes {
	r.mu.Lock()
	out := make([]spec.ServiceRoutes, 0, len(r.routes))
	for _, sr := range r.routes {
		sr.Hosts = slices.Clone(sr.Hosts)
		revs := make([]spec.RevisionRoutes, len(sr.Revisions))
		for i, rev := range sr.Revisions {
			rev.Instances = slices.Clone(rev.Instances)
			revs[i] = rev
		}
		sr.Revisions = revs
		out = append(out, sr)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b spec.ServiceRoutes) int { return strings.Compare(a.Service, b.Service) })
	return out
}

// rebuild makes sure a table built from routes version v or later is
// serving. Whoever holds buildMu builds from the latest routes, so a burst
// of publishes costs a few builds, not one each.
func (r *Router) rebuild(v uint64) {
	r.buildMu.Lock()
	defer r.buildMu.Unlock()
	if r.built >= v {
		return
	}
	start := time.Now()
	r.mu.Lock()
	dirty := slices.Sorted(maps.Keys(r.dirty))
	clear(r.dirty)
	changed := make(map[string]spec.ServiceRoutes, len(dirty))
	for _, name := range dirty {
		if sr, ok := r.routes[name]; ok {
			changed[name] = sr
		}
	}
	latest := r.version
	r.mu.Unlock()

	prev := r.table.Load()
	t := updateTable(prev, changed, dirty, r.cfg.AppsDomain)
	r.bind(prev, t, dirty)
	r.table.Store(t)
	r.built = latest
	// Wake every request waiting for an instance: it looks again at the
	// new table.
	close(prev.changed)
	r.m.tableUpdates.Inc()
	r.m.services.Set(float64(len(t.services)))
	r.m.tableBuild.Observe(time.Since(start).Seconds())
}

// bind attaches the counters kept across tables to the services of t that
// changed since prev, creating those of new instances and revisions, and
// drops the counters of instances and revisions that left (once idle: a
// request still running on them keeps them until it ends).
func (r *Router) bind(prev, t *table, dirty []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// New versions first, so an instance or revision in both the old and
	// the new version of a service never looks gone.
	for _, name := range dirty {
		svc := t.services[name]
		if svc == nil {
			continue
		}
		for _, rev := range svc.revisions {
			k := revKey{svc.name, rev.id}
			st := r.revs[k]
			if st == nil {
				st = &revState{key: k, wake: make(chan struct{}, 1), metrics: r.m}
				r.revs[k] = st
			}
			st.refs++
			rev.state = st
			owner := svc.name + "/" + rev.id
			for _, b := range rev.backends {
				in := r.instances[b.addr]
				if in != nil && in.refs == 0 && in.owner != owner {
					// The address belonged to another revision's instance
					// (the engine hands a freed IP to a new container): a
					// fresh counter, so whatever the old instance still had
					// in flight is not counted against the new one, and a
					// fresh pool, as the idle connections went to the old.
					delete(r.orphanInst, b.addr)
					if p := in.pool.Load(); p != nil {
						p.closeIdle()
					}
					in = nil
				}
				if in == nil {
					in = &instance{owner: owner}
					r.instances[b.addr] = in
				}
				in.refs++
				b.inst = in
			}
		}
	}
	for _, name := range dirty {
		old := prev.services[name]
		if old == nil {
			continue
		}
		for _, rev := range old.revisions {
			if rev.state.refs--; rev.state.refs == 0 {
				r.orphanRevs[rev.state.key] = true
			}
			for _, b := range rev.backends {
				if b.inst.refs--; b.inst.refs == 0 {
					r.orphanInst[b.addr] = true
				}
			}
		}
	}
	for a := range r.orphanInst {
		in := r.instances[a]
		if in.refs > 0 || in.inflight.Load() == 0 {
			delete(r.orphanInst, a)
		}
		if in.refs == 0 && in.inflight.Load() == 0 {
			delete(r.instances, a)
			if p := in.pool.Load(); p != nil {
				p.closeIdle()
			}
		}
	}
	for k := range r.orphanRevs {
		st := r.revs[k]
		idle := st.waiting.Load() == 0 && st.conc.idle()
		if st.refs > 0 || idle {
			delete(r.orphanRevs, k)
		}
		if st.refs == 0 && idle {
			delete(r.revs, k)
			r.m.forget(k.service, k.revision)
		}
	}
}

// Samples returns, for every revision the router knows, its concurrency
// windows, request count and latency histogram as of now. The autoscaler
// reads it on its tick; the result is a fresh copy.
func (r *Router) Samples(now time.Time) []RevisionSample {
	t := r.table.Load()
	r.mu.Lock()
	states := slices.Collect(maps.Values(r.revs))
	r.mu.Unlock()
	out := make([]RevisionSample, 0, len(states))
	for _, st := range states {
		cur, ws := st.conc.snapshot(now)
		s := RevisionSample{
			Service:     st.key.service,
			Revision:    st.key.revision,
			Concurrency: cur,
			Queued:      int(st.waiting.Load()),
			Windows:     ws,
			Requests:    st.lat.total.Load(),
			Latency:     st.lat.buckets(),
		}
		if svc := t.services[st.key.service]; svc != nil {
			for _, rev := range svc.revisions {
				if rev.id == st.key.revision {
					s.Instances = len(rev.backends)
				}
			}
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b RevisionSample) int {
		if a.Service != b.Service {
			if a.Service < b.Service {
				return -1
			}
			return 1
		}
		if a.Revision < b.Revision {
			return -1
		}
		if a.Revision > b.Revision {
			return 1
		}
		return 0
	})
	return out
}

// InFlight returns the number of requests proxied to the instance at addr
// now (websockets included: a hijacked connection holds its slot until it
// closes). The deployer drains an instance it has unpublished by waiting
// for this to reach 0.
func (r *Router) InFlight(addr string) int {
	r.mu.Lock()
	in := r.instances[addr]
	r.mu.Unlock()
	if in == nil {
		return 0
	}
	return int(in.inflight.Load())
}
