package router

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
)

// table is one immutable routing snapshot: which service answers at which
// host, and the ready instances of each of its revisions. A new one is built
// for every change and swapped in whole, so a request sees one consistent
// table from start to end without a lock. Nothing in it changes after the
// swap except the counters its backends and revisions point to, which live
// apart from it (in the Router) and outlive it.
type table struct {
	hosts    map[string]*service
	services map[string]*service
	// changed is closed when this table is replaced: every request waiting
	// for an instance wakes up and looks again at the new one.
	changed chan struct{}
}

type service struct {
	name           string
	id             string
	maxConcurrency int
	// requestTimeout and bodyLimit are 0 when the service publishes none;
	// the router's defaults apply then.
	requestTimeout time.Duration
	bodyLimit      int64
	revisions      []*revision
	// totalWeight is the sum of the revisions' effective weights.
	totalWeight int
	// hosts are the custom domains the service claims, normalised; the
	// table's hosts map says which of them it won.
	hosts []string
}

type revision struct {
	service string
	id      string
	// weight is the effective weight: the published one, or 1 for each
	// revision when every published weight is 0.
	weight   int
	backends []*backend
	// state holds the revision's queue and samples; it is bound by the
	// Router after buildTable and survives swaps.
	state *revState
}

// backend is one ready instance as a table sees it: an address, and the
// counters kept for that address across tables.
type backend struct {
	addr string
	inst *instance
}

// buildTable turns the published routes into a table. It is pure: the
// counters are bound afterwards by the Router. Every service answers at
// <name>.<appsDomain>; a custom domain that collides with such a name, or
// with another service's custom domain, goes to the first claimant in name
// order, so the result never depends on map order. It is the specification
// updateTable follows incrementally.
func buildTable(routes map[string]spec.ServiceRoutes, appsDomain string) *table {
	t := &table{
		hosts:    make(map[string]*service, 2*len(routes)),
		services: make(map[string]*service, len(routes)),
		changed:  make(chan struct{}),
	}
	names := make([]string, 0, len(routes))
	for name := range routes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		svc := newService(routes[name])
		t.services[name] = svc
		t.hosts[defaultHost(name, appsDomain)] = svc
	}
	for _, name := range names {
		svc := t.services[name]
		for _, h := range svc.hosts {
			if _, taken := t.hosts[h]; !taken {
				t.hosts[h] = svc
			}
		}
	}
	return t
}

// updateTable returns the table buildTable would build from all the routes,
// given prev, built from the routes as they were before the services named
// in dirty changed; changed holds the new routes of those still there. It
// shares the unchanged services with prev and touches only the hosts of the
// changed ones, so an update costs two map copies however many services
// there are, not a rebuild of each.
func updateTable(prev *table, changed map[string]spec.ServiceRoutes, dirty []string, appsDomain string) *table {
	t := &table{
		hosts:    maps.Clone(prev.hosts),
		services: maps.Clone(prev.services),
		changed:  make(chan struct{}),
	}
	touched := map[string]bool{}
	for _, name := range dirty {
		touched[defaultHost(name, appsDomain)] = true
		if old := t.services[name]; old != nil {
			for _, h := range old.hosts {
				touched[h] = true
			}
		}
		sr, ok := changed[name]
		if !ok {
			delete(t.services, name)
			continue
		}
		svc := newService(sr)
		t.services[name] = svc
		for _, h := range svc.hosts {
			touched[h] = true
		}
	}
	for h := range touched {
		if s := t.owner(h, appsDomain); s != nil {
			t.hosts[h] = s
		} else {
			delete(t.hosts, h)
		}
	}
	return t
}

// owner applies buildTable's rule to one host: the service whose default
// name it is, else the first claimant by name.
func (t *table) owner(h, appsDomain string) *service {
	if name, ok := strings.CutSuffix(h, "."+appsDomain); ok {
		if s := t.services[name]; s != nil {
			return s
		}
	}
	var best *service
	for _, s := range t.services {
		if slices.Contains(s.hosts, h) && (best == nil || s.name < best.name) {
			best = s
		}
	}
	return best
}

func defaultHost(name, appsDomain string) string {
	return normalizeHost(name + "." + appsDomain)
}

// newService turns one service's routes into its table entry.
func newService(sr spec.ServiceRoutes) *service {
	svc := &service{
		name:           sr.Service,
		id:             sr.ServiceID,
		maxConcurrency: sr.MaxConcurrency,
		requestTimeout: sr.RequestTimeout,
		bodyLimit:      sr.BodyLimit,
	}
	if svc.maxConcurrency <= 0 {
		svc.maxConcurrency = spec.DefaultScaling().MaxConcurrency
	}
	for _, h := range sr.Hosts {
		if h = normalizeHost(h); !slices.Contains(svc.hosts, h) {
			svc.hosts = append(svc.hosts, h)
		}
	}
	allZero := true
	for _, rr := range sr.Revisions {
		if rr.Weight > 0 {
			allZero = false
		}
	}
	for _, rr := range sr.Revisions {
		w := rr.Weight
		if allZero {
			w = 1
		}
		rev := &revision{service: sr.Service, id: rr.ID, weight: w}
		for _, a := range rr.Instances {
			rev.backends = append(rev.backends, &backend{addr: a})
		}
		svc.revisions = append(svc.revisions, rev)
		svc.totalWeight += w
	}
	return svc
}

// lookup returns the service answering at host (as it came in the request).
func (t *table) lookup(host string) *service {
	return t.hosts[normalizeHost(host)]
}

// pickRevision chooses a revision by weight; rnd(n) returns a number in
// [0, n). It returns nil when the service has no revision taking traffic.
func (s *service) pickRevision(rnd func(int) int) *revision {
	switch {
	case s.totalWeight <= 0:
		return nil
	case len(s.revisions) == 1:
		return s.revisions[0]
	}
	n := rnd(s.totalWeight)
	for _, r := range s.revisions {
		if n < r.weight {
			return r
		}
		n -= r.weight
	}
	return s.revisions[len(s.revisions)-1]
}
