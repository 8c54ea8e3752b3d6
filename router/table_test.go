package router

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

func TestBuildTable(t *testing.T) {
	routes := map[string]spec.ServiceRoutes{
		"web": {Service: "web", Hosts: []string{"app.example.com", "api.localhost"}, MaxConcurrency: 7,
			RequestTimeout: time.Second, BodyLimit: 10,
			Revisions: []spec.RevisionRoutes{{ID: "r1", Instances: []string{"127.0.0.1:1", "127.0.0.1:2"}}}},
		"api": {Service: "api", Hosts: []string{"app.example.com"},
			Revisions: []spec.RevisionRoutes{{ID: "a1", Weight: 90}, {ID: "a2", Weight: 10, Instances: []string{"127.0.0.1:3"}}}},
		"idle": {Service: "idle"},
	}
	tb := buildTable(routes, "apps.test")
	for _, c := range []struct{ host, want string }{
		{"web.apps.test", "web"},
		{"WEB.Apps.Test.:80", "web"},
		{"api.apps.test", "api"},
		// "app.example.com" is claimed by both; the first by name wins.
		{"app.example.com", "api"},
		{"App.Example.COM", "api"},
		{"app.example.com.", "api"},
		{"app.example.com:443", "api"},
		// A custom domain never takes a name under the apps domain from
		// the service it belongs to.
		{"api.localhost", "web"},
		{"idle.apps.test", "idle"},
		{"nope.apps.test", ""},
		{"apps.test", ""},
	} {
		got := ""
		if s := tb.lookup(c.host); s != nil {
			got = s.name
		}
		if got != c.want {
			t.Errorf("lookup(%q) = %q, want %q", c.host, got, c.want)
		}
	}
	web := tb.services["web"]
	if web.maxConcurrency != 7 || web.requestTimeout != time.Second || web.bodyLimit != 10 {
		t.Errorf("web limits = %d %v %d", web.maxConcurrency, web.requestTimeout, web.bodyLimit)
	}
	if len(web.revisions) != 1 || len(web.revisions[0].backends) != 2 || web.revisions[0].weight != 1 {
		t.Errorf("web revisions = %+v", web.revisions)
	}
	api := tb.services["api"]
	if api.maxConcurrency != spec.DefaultScaling().MaxConcurrency {
		t.Errorf("api maxConcurrency = %d, want the default", api.maxConcurrency)
	}
	if api.totalWeight != 100 {
		t.Errorf("api totalWeight = %d, want 100", api.totalWeight)
	}
	if tb.services["idle"].pickRevision(func(int) int { return 0 }) != nil {
		t.Error("a service without revisions picked one")
	}
}

func TestPickRevision(t *testing.T) {
	tb := buildTable(map[string]spec.ServiceRoutes{
		"s": {Service: "s", Revisions: []spec.RevisionRoutes{{ID: "a", Weight: 90}, {ID: "b", Weight: 10}, {ID: "c", Weight: 0}}},
		"e": {Service: "e", Revisions: []spec.RevisionRoutes{{ID: "x"}, {ID: "y"}}},
	}, "localhost")
	for _, c := range []struct {
		svc  string
		draw int
		want string
	}{
		{"s", 0, "a"}, {"s", 89, "a"}, {"s", 90, "b"}, {"s", 99, "b"},
		// With every weight 0, the revisions share equally.
		{"e", 0, "x"}, {"e", 1, "y"},
	} {
		rev := tb.services[c.svc].pickRevision(func(int) int { return c.draw })
		if rev == nil || rev.id != c.want {
			t.Errorf("%s draw %d: got %v, want %s", c.svc, c.draw, rev, c.want)
		}
	}
}

func TestPublishRejectsInvalidRoutes(t *testing.T) {
	r := newTestRouter(t, Config{})
	for _, sr := range []spec.ServiceRoutes{
		{Service: "Bad_Name"},
		{Service: "ok", Hosts: []string{"App.Example.com"}},
		{Service: "ok", MaxConcurrency: -1},
		{Service: "ok", Revisions: []spec.RevisionRoutes{{ID: ""}}},
		{Service: "ok", Revisions: []spec.RevisionRoutes{{ID: "a"}, {ID: "a"}}},
		{Service: "ok", Revisions: []spec.RevisionRoutes{{ID: "a", Weight: -1}}},
		{Service: "ok", Revisions: []spec.RevisionRoutes{{ID: "a", Instances: []string{"no-port"}}}},
		{Service: "ok", Revisions: []spec.RevisionRoutes{{ID: "a", Instances: []string{"h:0"}}}},
		{Service: "ok", Revisions: []spec.RevisionRoutes{{ID: "a", Instances: []string{"h:1", "h:1"}}}},
	} {
		if err := r.Publish(sr); err == nil {
			t.Errorf("Publish(%+v) accepted invalid routes", sr)
		}
	}
}

// Counters are keyed by address and survive a table swap.
func TestCountersSurviveSwaps(t *testing.T) {
	r := newTestRouter(t, Config{})
	publish(t, r, oneRevision("web", "127.0.0.1:1", "127.0.0.1:2"))
	b := r.table.Load().services["web"].revisions[0].backends[0]
	b.inst.inflight.Add(3)
	publish(t, r, oneRevision("web", "127.0.0.1:2", "127.0.0.1:1", "127.0.0.1:3"))
	for _, nb := range r.table.Load().services["web"].revisions[0].backends {
		if nb.addr == b.addr && nb.inst != b.inst {
			t.Fatal("the counters of an instance that stayed were replaced")
		}
	}
	// Gone and idle: dropped. Gone but busy: kept until idle.
	publish(t, r, oneRevision("web", "127.0.0.1:3"))
	r.mu.Lock()
	_, busyKept := r.instances["127.0.0.1:1"]
	_, idleKept := r.instances["127.0.0.1:2"]
	r.mu.Unlock()
	if !busyKept || idleKept {
		t.Errorf("busy kept = %v (want true), idle kept = %v (want false)", busyKept, idleKept)
	}
	r.Remove("web")
	if r.table.Load().lookup("web.localhost") != nil {
		t.Error("removed service still routed")
	}
}

// The incremental update always yields the table a full build would, and
// every backend and revision in it is bound to counters.
func TestIncrementalUpdateMatchesFullBuild(t *testing.T) {
	r := newTestRouter(t, Config{AppsDomain: "apps.test"})
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "c", "d", "e"}
	hosts := []string{"x.example.com", "y.example.com", "a.apps.test", "b.apps.test", "zz.apps.test"}
	all := map[string]spec.ServiceRoutes{}
	for step := range 2000 {
		name := names[rng.IntN(len(names))]
		if rng.IntN(4) == 0 {
			r.Remove(name)
			delete(all, name)
		} else {
			sr := spec.ServiceRoutes{Service: name, MaxConcurrency: rng.IntN(5)}
			for _, h := range hosts {
				if rng.IntN(3) == 0 {
					sr.Hosts = append(sr.Hosts, h)
				}
			}
			for i := range rng.IntN(3) {
				rr := spec.RevisionRoutes{ID: fmt.Sprint("r", i), Weight: rng.IntN(3)}
				for p := range rng.IntN(3) {
					rr.Instances = append(rr.Instances, fmt.Sprintf("127.0.0.%d:%d", 1+rng.IntN(2), 1000+p))
				}
				sr.Revisions = append(sr.Revisions, rr)
			}
			publish(t, r, sr)
			all[name] = sr
		}
		got, want := r.table.Load(), buildTable(all, "apps.test")
		if len(got.hosts) != len(want.hosts) || len(got.services) != len(want.services) {
			t.Fatalf("step %d: %d hosts %d services, want %d %d", step, len(got.hosts), len(got.services), len(want.hosts), len(want.services))
		}
		for h, ws := range want.hosts {
			if gs := got.hosts[h]; gs == nil || gs.name != ws.name {
				t.Fatalf("step %d: host %s → %v, want %s", step, h, gs, ws.name)
			}
		}
		for name, ws := range want.services {
			gs := got.services[name]
			if gs == nil || gs.maxConcurrency != ws.maxConcurrency || gs.totalWeight != ws.totalWeight || len(gs.revisions) != len(ws.revisions) {
				t.Fatalf("step %d: service %s differs", step, name)
			}
			for i, rev := range gs.revisions {
				if rev.id != ws.revisions[i].id || rev.state == nil || len(rev.backends) != len(ws.revisions[i].backends) {
					t.Fatalf("step %d: %s/%s differs or is unbound", step, name, rev.id)
				}
				for _, b := range rev.backends {
					if b.inst == nil {
						t.Fatalf("step %d: %s unbound", step, b.addr)
					}
				}
			}
		}
	}
	// Nothing is in flight, so only live counters remain.
	r.mu.Lock()
	defer r.mu.Unlock()
	live := map[string]bool{}
	revs := 0
	for _, svc := range r.table.Load().services {
		for _, rev := range svc.revisions {
			revs++
			if r.revs[rev.state.key] != rev.state {
				t.Errorf("%s/%s bound to a state the router does not keep", svc.name, rev.id)
			}
			for _, b := range rev.backends {
				live[b.addr] = true
				if r.instances[b.addr] != b.inst {
					t.Errorf("%s bound to a counter the router does not keep", b.addr)
				}
			}
		}
	}
	if len(r.instances) != len(live) {
		t.Errorf("%d instance counters kept, %d live", len(r.instances), len(live))
	}
	if len(r.revs) != revs {
		t.Errorf("%d revision states kept, %d live", len(r.revs), revs)
	}
}

// Publishes racing each other all land, the latest of each service wins,
// and each returns only once its routes serve.
func TestConcurrentPublishesCoalesce(t *testing.T) {
	r := newTestRouter(t, Config{})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			name := fmt.Sprint("s", i%10)
			publish(t, r, oneRevision(name, fmt.Sprintf("127.0.0.1:%d", 1000+i)))
			if r.table.Load().services[name] == nil {
				t.Errorf("Publish of %s returned before its routes served", name)
			}
		})
	}
	wg.Wait()
	if n := len(r.table.Load().services); n != 10 {
		t.Fatalf("%d services, want 10", n)
	}
	for i := 40; i < 50; i++ {
		// The last publish of each name is not known (they race); every
		// service has exactly one instance from one of its publishes.
		svc := r.table.Load().services[fmt.Sprint("s", i%10)]
		if len(svc.revisions[0].backends) != 1 {
			t.Errorf("%s has %d backends", svc.name, len(svc.revisions[0].backends))
		}
	}
}

func TestConfigValidate(t *testing.T) {
	var c Config
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if c.AppsDomain != "localhost" || c.DefaultRequestTimeout != 120*time.Second || c.MaxIdleConnsPerHost < 100 {
		t.Errorf("defaults = %+v", c)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.AppsDomain = "Apps.Example.com" },
		func(c *Config) { c.AppsDomain = "apps.example.com." },
		func(c *Config) { c.QueueDepth = -1 },
		func(c *Config) { c.HoldTimeout = -time.Second },
		func(c *Config) { c.RetryBackoff = -1 },
		func(c *Config) { c.MaxHeaderBytes = 10 },
	} {
		c := Config{}
		c.SetDefaults()
		bad(&c)
		if c.Validate() == nil {
			t.Errorf("accepted %+v", c)
		}
	}
}

func TestRoutesReturnsCopiesInOrder(t *testing.T) {
	r := newTestRouter(t, Config{})
	for _, name := range []string{"web", "api"} {
		if err := r.Publish(spec.ServiceRoutes{Service: name, Hosts: []string{name + ".example.com"}, Revisions: []spec.RevisionRoutes{{ID: "rev_1", Instances: []string{"127.0.0.1:9"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	got := r.Routes()
	if len(got) != 2 || got[0].Service != "api" || got[1].Service != "web" {
		t.Fatalf("Routes() = %+v", got)
	}
	got[0].Hosts[0] = "changed.example.com"
	got[0].Revisions[0].Instances[0] = "127.0.0.1:1"
	again := r.Routes()
	if again[0].Hosts[0] != "api.example.com" || again[0].Revisions[0].Instances[0] != "127.0.0.1:9" {
		t.Fatalf("Routes() shares memory with the router: %+v", again[0])
	}
	r.Remove("api")
	if got := r.Routes(); len(got) != 1 || got[0].Service != "web" {
		t.Fatalf("after Remove: %+v", got)
	}
}
