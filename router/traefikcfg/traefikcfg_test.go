package traefikcfg

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/traefik/paerser/file"
	"github.com/traefik/traefik/v3/pkg/config/dynamic"
	"github.com/traefik/traefik/v3/pkg/tls"

	"github.com/apprun/apprun/spec"
)

func lb(urls ...string) *dynamic.Service {
	l := &dynamic.ServersLoadBalancer{Strategy: dynamic.BalancerStrategyP2C, PassHostHeader: new(true)}
	for _, u := range urls {
		l.Servers = append(l.Servers, dynamic.Server{URL: u})
	}
	return &dynamic.Service{LoadBalancer: l}
}

func weighted(nameWeights ...any) *dynamic.Service {
	w := &dynamic.WeightedRoundRobin{}
	for i := 0; i < len(nameWeights); i += 2 {
		w.Services = append(w.Services, dynamic.WRRService{Name: nameWeights[i].(string), Weight: new(nameWeights[i+1].(int))})
	}
	return &dynamic.Service{Weighted: w}
}

func TestBuild(t *testing.T) {
	base := Options{AppsDomain: "apps.example.com"}
	tests := []struct {
		name    string
		routes  []spec.ServiceRoutes
		opts    Options
		routers map[string]*dynamic.Router
		svcs    map[string]*dynamic.Service
		skipped int
	}{
		{name: "no routes", opts: base},
		{
			name: "one service one revision",
			opts: base,
			routes: []spec.ServiceRoutes{{
				Service: "web", ServiceID: "svc_x",
				Revisions: []spec.RevisionRoutes{{ID: "rev_a", Instances: []string{"10.0.0.2:8080", "10.0.0.3:8080"}}},
			}},
			routers: map[string]*dynamic.Router{
				"apprun_web": {Service: "apprun_web", Rule: "Host(`web.apps.example.com`)"},
			},
			svcs: map[string]*dynamic.Service{
				"apprun_web":       weighted("apprun_web_rev_a", 1),
				"apprun_web_rev_a": lb("http://10.0.0.2:8080", "http://10.0.0.3:8080"),
			},
		},
		{
			name: "weights, custom domains sorted, tls, entry points, prefix",
			opts: Options{AppsDomain: "localhost", EntryPoints: []string{"websecure"}, CertResolver: "le", Prefix: "edge-1"},
			routes: []spec.ServiceRoutes{{
				Service: "api",
				Hosts:   []string{"z.example.com", "a.example.com"},
				Revisions: []spec.RevisionRoutes{
					{ID: "rev_new", Weight: 10, Instances: []string{"[::1]:9000"}},
					{ID: "rev_old", Weight: 90, Instances: []string{"apprun-api-1:8080"}},
					{ID: "rev_off", Weight: 0, Instances: []string{"apprun-api-2:8080"}},
				},
			}},
			routers: map[string]*dynamic.Router{
				"edge-1_api": {
					EntryPoints: []string{"websecure"}, Service: "edge-1_api",
					Rule: "Host(`a.example.com`) || Host(`api.localhost`) || Host(`z.example.com`)",
					TLS:  &dynamic.RouterTLSConfig{CertResolver: "le"},
				},
			},
			svcs: map[string]*dynamic.Service{
				"edge-1_api":         weighted("edge-1_api_rev_new", 10, "edge-1_api_rev_old", 90),
				"edge-1_api_rev_new": lb("http://[::1]:9000"),
				"edge-1_api_rev_old": lb("http://apprun-api-1:8080"),
				"edge-1_api_rev_off": lb("http://apprun-api-2:8080"),
			},
		},
		{
			name: "scaled to zero revision and odd revision ids",
			opts: Options{AppsDomain: "apps.test", TLS: true},
			routes: []spec.ServiceRoutes{{
				Service: "job",
				Revisions: []spec.RevisionRoutes{
					{ID: "r.1@x"},
					{ID: "r-1"},
				},
			}},
			routers: map[string]*dynamic.Router{
				"apprun_job": {Service: "apprun_job", Rule: "Host(`job.apps.test`)", TLS: &dynamic.RouterTLSConfig{}},
			},
			svcs: map[string]*dynamic.Service{
				"apprun_job":           weighted("apprun_job_r-2e1-40x", 1, "apprun_job_r-2d1", 1),
				"apprun_job_r-2e1-40x": lb(),
				"apprun_job_r-2d1":     lb(),
			},
		},
		{
			name: "host conflicts resolve like the router; bad input skipped",
			opts: base,
			routes: []spec.ServiceRoutes{
				{Service: "b", Hosts: []string{"shared.example.com", "a.apps.example.com", "bad host`)||Host(`x", "b.example.com"},
					Revisions: []spec.RevisionRoutes{{ID: "r", Instances: []string{"h:1", "h:1", "h:0", "h/x:80", "nohostport"}}}},
				{Service: "a", Hosts: []string{"shared.example.com"}},
				{Service: "a", Hosts: []string{"second.example.com"}},
				{Service: "Bad.Name"},
				{Service: "c`"},
			},
			routers: map[string]*dynamic.Router{
				"apprun_a": {Service: "apprun_a", Rule: "Host(`a.apps.example.com`) || Host(`shared.example.com`)"},
				"apprun_b": {Service: "apprun_b", Rule: "Host(`b.apps.example.com`) || Host(`b.example.com`)"},
			},
			svcs: map[string]*dynamic.Service{
				"apprun_a":   lb(),
				"apprun_b":   weighted("apprun_b_r", 1),
				"apprun_b_r": lb("http://h:1"),
			},
			// duplicate a, Bad.Name, c`, shared (taken by a), a.apps (a's),
			// the bad host, h:0, h/x:80, nohostport.
			skipped: 9,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			skipped := 0
			tt.opts.Skip = func(service string, err error) {
				skipped++
				t.Logf("skipped (%s): %v", service, err)
			}
			cfg, err := Build(tt.routes, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			want := &dynamic.Configuration{}
			if tt.routers != nil {
				want.HTTP = &dynamic.HTTPConfiguration{Routers: tt.routers, Services: tt.svcs}
			}
			if !reflect.DeepEqual(cfg, want) {
				got, _ := json.MarshalIndent(cfg, "", " ")
				exp, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("got\n%s\nwant\n%s", got, exp)
			}
			if skipped != tt.skipped {
				t.Errorf("skipped %d parts, want %d", skipped, tt.skipped)
			}
			if cfg.HTTP == nil {
				return
			}
			for name, r := range cfg.HTTP.Routers {
				checkName(t, name)
				if strings.Count(r.Rule, "`")%2 != 0 {
					t.Errorf("router %s: unbalanced backquotes in %q", name, r.Rule)
				}
			}
			for name := range cfg.HTTP.Services {
				checkName(t, name)
			}
		})
	}
}

func checkName(t *testing.T, name string) {
	t.Helper()
	if strings.ContainsAny(name, "@.` ") || name == "" {
		t.Errorf("name %q is not a safe Traefik name", name)
	}
}

func TestBuildDeterministic(t *testing.T) {
	routes := []spec.ServiceRoutes{
		{Service: "b", Hosts: []string{"y.example.com", "x.example.com"}, Revisions: []spec.RevisionRoutes{{ID: "r1", Instances: []string{"h:1"}}}},
		{Service: "a", Hosts: []string{"x.example.com"}, Revisions: []spec.RevisionRoutes{{ID: "r2", Weight: 3, Instances: []string{"h:2"}}}},
		{Service: "c", Revisions: []spec.RevisionRoutes{{ID: "r3", Instances: []string{"h:3"}}}},
	}
	opts := Options{AppsDomain: "apps.example.com"}
	first, err := Build(routes, opts)
	if err != nil {
		t.Fatal(err)
	}
	firstJSON, err := Marshal(first)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		rev := slices.Clone(routes)
		slices.Reverse(rev)
		cfg, err := Build(rev, opts)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(firstJSON) {
			t.Fatalf("order changed the output:\n%s\n%s", firstJSON, b)
		}
	}
	if got := first.HTTP.Routers["apprun_a"].Rule; got != "Host(`a.apps.example.com`) || Host(`x.example.com`)" {
		t.Errorf("a's rule = %s; x.example.com goes to the first claimant by name", got)
	}
}

func TestBuildRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{AppsDomain: "Apps.Example.com"},
		{AppsDomain: "apps.example.com."},
		{AppsDomain: "apps.example.com:443"},
		{AppsDomain: "apps.example.com", Prefix: "a_b"},
		{AppsDomain: "apps.example.com", Prefix: "a.b"},
		{AppsDomain: "apps.example.com", Prefix: "a@b"},
		{AppsDomain: "apps.example.com", EntryPoints: []string{"web@x"}},
		{AppsDomain: "apps.example.com", EntryPoints: []string{""}},
		{AppsDomain: "apps.example.com", CertResolver: "le`"},
	} {
		if _, err := Build(nil, o); err == nil {
			t.Errorf("Build accepted options %+v", o)
		}
	}
}

func TestEncodeIDOneToOne(t *testing.T) {
	ids := []string{"rev_abc", "rev-abc", "rev.abc", "rev-2eabc", "rev@abc", "REV_abc", "r", "-", "-2d", "é"}
	seen := map[string]string{}
	for _, id := range ids {
		e := encodeID(id)
		if strings.ContainsAny(e, "@.` ") {
			t.Errorf("encodeID(%q) = %q holds a forbidden character", id, e)
		}
		if prev, dup := seen[e]; dup {
			t.Errorf("encodeID(%q) = encodeID(%q) = %q", id, prev, e)
		}
		seen[e] = id
	}
	if got := encodeID("rev_k5xq2m7c4hzp3r6wyt2a"); got != "rev_k5xq2m7c4hzp3r6wyt2a" {
		t.Errorf("store IDs must come out unchanged, got %q", got)
	}
}

func sampleRoutes() []spec.ServiceRoutes {
	return []spec.ServiceRoutes{
		{
			Service: "web", ServiceID: "svc_k5xq2m7c4hzp3r6wyt2a",
			Hosts:          []string{"www.example.com"},
			MaxConcurrency: 80, RequestTimeout: 2 * time.Minute, BodyLimit: 10 << 20,
			Revisions: []spec.RevisionRoutes{
				{ID: "rev_aaaaaaaaaaaaaaaaaaaa", Weight: 75, Instances: []string{"172.18.0.5:8080", "172.18.0.6:8080"}},
				{ID: "rev_bbbbbbbbbbbbbbbbbbbb", Weight: 25, Instances: []string{"172.18.0.7:8080"}},
			},
		},
		{Service: "idle", Revisions: []spec.RevisionRoutes{{ID: "rev_cccccccccccccccccccc"}}},
		{Service: "empty"},
	}
}

// TestRoundTrip decodes the JSON back with Traefik's own types: first as
// plain JSON, then the way Traefik's HTTP provider does (paerser's file
// decoder reading it as YAML into a pre-filled configuration).
func TestRoundTrip(t *testing.T) {
	for _, routes := range [][]spec.ServiceRoutes{nil, sampleRoutes()} {
		cfg, err := Build(routes, Options{AppsDomain: "apps.example.com", EntryPoints: []string{"web", "websecure"}, CertResolver: "le"})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var back dynamic.Configuration
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("json.Unmarshal: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(&back, cfg) {
			t.Errorf("round trip changed the configuration:\n%s", b)
		}

		// As the HTTP provider decodes it (provider/http.decodeConfiguration).
		prov := &dynamic.Configuration{
			HTTP: &dynamic.HTTPConfiguration{
				Routers:           map[string]*dynamic.Router{},
				Middlewares:       map[string]*dynamic.Middleware{},
				Services:          map[string]*dynamic.Service{},
				ServersTransports: map[string]*dynamic.ServersTransport{},
			},
			TCP: &dynamic.TCPConfiguration{
				Routers:           map[string]*dynamic.TCPRouter{},
				Services:          map[string]*dynamic.TCPService{},
				ServersTransports: map[string]*dynamic.TCPServersTransport{},
			},
			TLS: &dynamic.TLSConfiguration{Stores: map[string]tls.Store{}, Options: map[string]tls.Options{}},
			UDP: &dynamic.UDPConfiguration{Routers: map[string]*dynamic.UDPRouter{}, Services: map[string]*dynamic.UDPService{}},
		}
		if err := file.DecodeContent(string(b), ".yaml", prov); err != nil {
			t.Fatalf("Traefik's HTTP provider decoder: %v\n%s", err, b)
		}
		if cfg.HTTP == nil {
			if len(prov.HTTP.Routers)+len(prov.HTTP.Services) != 0 {
				t.Errorf("provider decoded routes from %s", b)
			}
			continue
		}
		if len(prov.HTTP.Routers) != len(cfg.HTTP.Routers) || len(prov.HTTP.Services) != len(cfg.HTTP.Services) {
			t.Fatalf("provider decoded %d routers, %d services; want %d, %d", len(prov.HTTP.Routers), len(prov.HTTP.Services), len(cfg.HTTP.Routers), len(cfg.HTTP.Services))
		}
		for name, r := range cfg.HTTP.Routers {
			p := prov.HTTP.Routers[name]
			if p == nil || p.Rule != r.Rule || p.Service != r.Service || !slices.Equal(p.EntryPoints, r.EntryPoints) ||
				p.TLS == nil || p.TLS.CertResolver != r.TLS.CertResolver {
				t.Errorf("provider decoded router %s as %+v, want %+v", name, p, r)
			}
		}
		for name, s := range cfg.HTTP.Services {
			p := prov.HTTP.Services[name]
			switch {
			case p == nil:
				t.Errorf("provider lost service %s", name)
			case s.Weighted != nil:
				if p.Weighted == nil || !reflect.DeepEqual(p.Weighted.Services, s.Weighted.Services) {
					t.Errorf("provider decoded weighted service %s as %+v", name, p.Weighted)
				}
			case s.LoadBalancer != nil:
				pl := p.LoadBalancer
				if pl == nil || pl.PassHostHeader == nil || !*pl.PassHostHeader || pl.Strategy != dynamic.BalancerStrategyP2C ||
					!reflect.DeepEqual(urls(pl.Servers), urls(s.LoadBalancer.Servers)) {
					t.Errorf("provider decoded load balancer %s as %+v", name, pl)
				}
			}
		}
	}
}

func urls(ss []dynamic.Server) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.URL)
	}
	return out
}

func TestEmptyConfig(t *testing.T) {
	cfg, err := Build(nil, Options{AppsDomain: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*dynamic.Configuration{cfg, nil} {
		b, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `{}` {
			t.Errorf("empty configuration = %s, want {}", b)
		}
	}
}

// TestOnlyRouting checks that the JSON carries the routing and nothing
// else: no service IDs, limits, environment or secrets, and only the keys
// this package means to write.
func TestOnlyRouting(t *testing.T) {
	cfg, err := Build(sampleRoutes(), Options{AppsDomain: "apps.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, leak := range []string{"svc_k5xq2m7c4hzp3r6wyt2a", "maxConcurrency", "requestTimeout", "bodyLimit", "10485760", "env", "secret", "password", "token", "middlewares", "tcp", "udp", "tls"} {
		if strings.Contains(strings.ToLower(s), strings.ToLower(leak)) {
			t.Errorf("configuration holds %q:\n%s", leak, s)
		}
	}
	allowed := map[string]bool{
		"http": true, "routers": true, "services": true, "service": true, "rule": true,
		"weighted": true, "name": true, "weight": true, "loadBalancer": true, "servers": true,
		"url": true, "passHostHeader": true, "strategy": true,
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(v any, path string, named bool)
	walk = func(v any, path string, named bool) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				// The keys of routers and services are names, not fields.
				if !named && !allowed[k] {
					t.Errorf("unexpected field %s.%s", path, k)
				}
				walk(c, path+"."+k, !named && (k == "routers" || k == "services") && strings.Count(path, ".") == 1)
			}
		case []any:
			for _, c := range x {
				walk(c, path+"[]", false)
			}
		}
	}
	walk(v, "", false)
}

func TestBuildErrorIsWrapped(t *testing.T) {
	_, err := Build(nil, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "traefikcfg: ") || errors.Unwrap(err) == nil {
		t.Errorf("err = %v", err)
	}
}
