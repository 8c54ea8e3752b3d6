package web

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

// fullService sets every writable field to something other than its
// default, so a field the API drops or resets shows up as a difference.
func fullService() map[string]any {
	return map[string]any{
		"name": "shop",
		"port": 3000,
		"env":  map[string]string{"LOG_LEVEL": "debug", "REGION": "eu"},
		"scaling": map[string]any{
			"maxConcurrency": 50, "minInstances": 0, "maxInstances": 3,
		},
		"healthCheck": map[string]any{
			"protocol": "HTTP", "path": "/healthz", "interval": 10, "timeout": 4,
			"healthyThreshold": 2, "unhealthyThreshold": 3,
		},
		"instanceSize": map[string]any{"cpu": 0.5, "memoryMB": 512},
		"networks":     []string{"db"},
		"domains":      []string{"shop.example.com"},
		"source": map[string]any{
			"repo": "https://git.example.com/acme/shop.git", "branch": "release", "autoDeploy": false,
		},
		"secrets": map[string]string{"DB_PASSWORD": "hunter2"},
	}
}

// wantFull is fullService as the API should answer it.
func wantFull() spec.Service {
	return spec.Service{
		Name:         "shop",
		Port:         3000,
		Env:          map[string]string{"LOG_LEVEL": "debug", "REGION": "eu"},
		SecretNames:  []string{"DB_PASSWORD"},
		Scaling:      spec.Scaling{MaxConcurrency: 50, MinInstances: 0, MaxInstances: 3},
		HealthCheck:  spec.HealthCheck{Protocol: "HTTP", Path: "/healthz", Interval: 10, Timeout: 4, HealthyThreshold: 2, UnhealthyThreshold: 3},
		InstanceSize: spec.InstanceSize{CPU: 0.5, MemoryMB: 512},
		Networks:     []string{"db"},
		Domains:      []string{"shop.example.com"},
		Source:       spec.Source{Repo: "https://git.example.com/acme/shop.git", Branch: "release", AutoDeploy: false},
	}
}

// settings strips what the store assigns, for comparison.
func settings(s serviceResponse) spec.Service {
	svc := s.Service
	svc.ID = ""
	svc.CreatedAt, svc.UpdatedAt = time.Time{}, time.Time{}
	return svc
}

func TestServiceRoundTrip(t *testing.T) {
	e := newTestEnv(t, Config{ServiceURL: func(name string) string { return "https://" + name + ".apps.test" }})
	e.must(http.StatusCreated, "POST", "/api/v1/networks", map[string]any{"name": "db", "internal": true})

	res := e.must(http.StatusCreated, "POST", "/api/v1/services", fullService())
	if loc := res.header.Get("Location"); loc != "/api/v1/services/shop" {
		t.Errorf("Location = %q", loc)
	}
	var created serviceResponse
	res.decode(t, &created)
	if created.ID == "" || created.CreatedAt.IsZero() || created.UpdatedAt.IsZero() {
		t.Errorf("created service lacks id or timestamps: %s", res.body)
	}
	if created.URL != "https://shop.apps.test" {
		t.Errorf("url = %q", created.URL)
	}
	if got, want := settings(created), wantFull(); !reflect.DeepEqual(got, want) {
		t.Errorf("created:\n got %+v\nwant %+v", got, want)
	}

	var got serviceResponse
	e.must(http.StatusOK, "GET", "/api/v1/services/shop", nil).decode(t, &got)
	if !reflect.DeepEqual(got, created) {
		t.Errorf("get differs from create:\n got %+v\nwant %+v", got, created)
	}

	var list struct{ Services []serviceResponse }
	e.must(http.StatusOK, "GET", "/api/v1/services", nil).decode(t, &list)
	if len(list.Services) != 1 || !reflect.DeepEqual(list.Services[0], created) {
		t.Errorf("list = %+v", list.Services)
	}

	// Absent fields keep App Runner's defaults.
	var minimal serviceResponse
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "tiny"}).decode(t, &minimal)
	if got, want := settings(minimal), spec.NewService("tiny"); !reflect.DeepEqual(got, want) {
		t.Errorf("minimal service:\n got %+v\nwant %+v", got, want)
	}
}

func TestServicePatchMerges(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/api/v1/networks", map[string]any{"name": "db"})
	e.must(http.StatusCreated, "POST", "/api/v1/services", fullService())

	steps := []struct {
		name   string
		patch  string
		change func(*spec.Service)
	}{{
		name:   "nested objects merge field by field",
		patch:  `{"scaling":{"maxInstances":10},"healthCheck":{"path":"/ready"}}`,
		change: func(s *spec.Service) { s.Scaling.MaxInstances = 10; s.HealthCheck.Path = "/ready" },
	}, {
		name:   "env is replaced, not merged",
		patch:  `{"env":{"ONLY":"this"}}`,
		change: func(s *spec.Service) { s.Env = map[string]string{"ONLY": "this"} },
	}, {
		name:   "lists are replaced",
		patch:  `{"networks":[],"domains":["a.example.com","b.example.com"]}`,
		change: func(s *spec.Service) { s.Networks = nil; s.Domains = []string{"a.example.com", "b.example.com"} },
	}, {
		name:   "the same name is allowed; top-level scalars replace",
		patch:  `{"name":"shop","port":8081,"source":{"autoDeploy":true}}`,
		change: func(s *spec.Service) { s.Port = 8081; s.Source.AutoDeploy = true },
	}, {
		name:   "secrets set names, keeping the others",
		patch:  `{"secrets":{"API_KEY":"k"}}`,
		change: func(s *spec.Service) { s.SecretNames = []string{"API_KEY", "DB_PASSWORD"} },
	}, {
		name:   "minInstances 0 can be set back explicitly",
		patch:  `{"scaling":{"minInstances":2}}`,
		change: func(s *spec.Service) { s.Scaling.MinInstances = 2 },
	}, {
		name:   "and to 0 again",
		patch:  `{"scaling":{"minInstances":0}}`,
		change: func(s *spec.Service) { s.Scaling.MinInstances = 0 },
	}, {
		name:   "an empty object changes nothing",
		patch:  `{}`,
		change: func(*spec.Service) {},
	}}
	want := wantFull()
	for _, step := range steps {
		step.change(&want)
		var got serviceResponse
		e.must(http.StatusOK, "PATCH", "/api/v1/services/shop", step.patch).decode(t, &got)
		if g := settings(got); !reflect.DeepEqual(normalize(g), normalize(want)) {
			t.Fatalf("%s:\n got %+v\nwant %+v", step.name, g, want)
		}
		var again serviceResponse
		e.must(http.StatusOK, "GET", "/api/v1/services/shop", nil).decode(t, &again)
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("%s: GET after PATCH differs:\n got %+v\nwant %+v", step.name, again, got)
		}
	}
	secrets, err := e.st.ServiceSecrets(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"API_KEY": "k", "DB_PASSWORD": "hunter2"}; !maps.Equal(secrets, want) {
		t.Errorf("secrets = %v, want %v", secrets, want)
	}
}

// normalize treats nil and empty collections alike: the API omits both.
func normalize(s spec.Service) spec.Service {
	if len(s.Env) == 0 {
		s.Env = nil
	}
	if len(s.Networks) == 0 {
		s.Networks = nil
	}
	if len(s.Domains) == 0 {
		s.Domains = nil
	}
	if len(s.SecretNames) == 0 {
		s.SecretNames = nil
	}
	return s
}

func TestEnvAndSecretsRoutes(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web", "env": map[string]string{"A": "1"}})

	var env map[string]string
	e.must(http.StatusOK, "PUT", "/api/v1/services/web/env", `{"B":"2","A":"one"}`).decode(t, &env)
	if want := map[string]string{"A": "one", "B": "2"}; !maps.Equal(env, want) {
		t.Errorf("env after PUT = %v, want %v", env, want)
	}
	e.must(http.StatusNoContent, "DELETE", "/api/v1/services/web/env/A", nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/services/web/env/A", nil)
	env = nil // decoding into a non-nil map would merge
	e.must(http.StatusOK, "GET", "/api/v1/services/web/env", nil).decode(t, &env)
	if want := map[string]string{"B": "2"}; !maps.Equal(env, want) {
		t.Errorf("env = %v, want %v", env, want)
	}

	var names struct{ Names []string }
	e.must(http.StatusOK, "GET", "/api/v1/services/web/secrets", nil).decode(t, &names)
	if names.Names == nil || len(names.Names) != 0 {
		t.Errorf("secrets of a new service = %#v, want an empty list", names.Names)
	}
	e.must(http.StatusOK, "PUT", "/api/v1/services/web/secrets", `{"Z":"z","A":"a"}`).decode(t, &names)
	if want := []string{"A", "Z"}; !reflect.DeepEqual(names.Names, want) {
		t.Errorf("secret names = %v, want %v", names.Names, want)
	}
	e.must(http.StatusNoContent, "DELETE", "/api/v1/services/web/secrets/Z", nil)
	e.must(http.StatusNotFound, "DELETE", "/api/v1/services/web/secrets/Z", nil)
	e.must(http.StatusOK, "GET", "/api/v1/services/web/secrets", nil).decode(t, &names)
	if want := []string{"A"}; !reflect.DeepEqual(names.Names, want) {
		t.Errorf("secret names = %v, want %v", names.Names, want)
	}

	e.must(http.StatusNoContent, "DELETE", "/api/v1/services/web", nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/services/web", nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/services/web/env", nil)
	e.must(http.StatusNotFound, "PUT", "/api/v1/services/web/secrets", `{"A":"a"}`)
}

// TestConcurrentEnvSets checks that PUT .../env merges inside the store's
// transaction: concurrent clients setting different variables lose none.
func TestConcurrentEnvSets(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web"})
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res := e.do("PUT", "/api/v1/services/web/env", fmt.Sprintf(`{"K%d":"v"}`, i))
			if res.status != http.StatusOK {
				t.Errorf("PUT K%d: %d %s", i, res.status, res.body)
			}
		})
	}
	wg.Wait()
	var env map[string]string
	e.must(http.StatusOK, "GET", "/api/v1/services/web/env", nil).decode(t, &env)
	if len(env) != n {
		t.Errorf("env has %d variables, want %d: %v", len(env), n, env)
	}
}

func TestNetworksAndDomains(t *testing.T) {
	e := newTestEnv(t, Config{})
	var n spec.Network
	e.must(http.StatusCreated, "POST", "/api/v1/networks", `{"name":"db","internal":true}`).decode(t, &n)
	if n.Name != "db" || !n.Internal || n.ID == "" {
		t.Errorf("network = %+v", n)
	}
	e.must(http.StatusOK, "GET", "/api/v1/networks/db", nil)
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web", "networks": []string{"db"}, "domains": []string{"www.example.com"}})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "api", "domains": []string{"api.example.com"}})

	var domains struct{ Domains []spec.Domain }
	e.must(http.StatusOK, "GET", "/api/v1/domains", nil).decode(t, &domains)
	if len(domains.Domains) != 2 {
		t.Errorf("domains = %+v", domains.Domains)
	}
	e.must(http.StatusOK, "GET", "/api/v1/domains?service=web", nil).decode(t, &domains)
	if len(domains.Domains) != 1 || domains.Domains[0].Name != "www.example.com" || domains.Domains[0].Status == "" {
		t.Errorf("domains of web = %+v", domains.Domains)
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/domains?service=nope", nil)

	// A network in use cannot go; once unused it can.
	if code := e.must(http.StatusConflict, "DELETE", "/api/v1/networks/db", nil).errBody(t).Code; code != codeConflict {
		t.Errorf("code = %q", code)
	}
	e.must(http.StatusOK, "PATCH", "/api/v1/services/web", `{"networks":[]}`)
	e.must(http.StatusNoContent, "DELETE", "/api/v1/networks/db", nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/networks/db", nil)
	var list struct{ Networks []spec.Network }
	e.must(http.StatusOK, "GET", "/api/v1/networks", nil).decode(t, &list)
	if list.Networks == nil || len(list.Networks) != 0 {
		t.Errorf("networks = %#v, want an empty list", list.Networks)
	}
}

func TestDeploymentsAndRevisions(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web"})
	var empty map[string]json.RawMessage
	e.must(http.StatusOK, "GET", "/api/v1/services/web/deployments", nil).decode(t, &empty)
	if string(empty["deployments"]) != "[]" {
		t.Errorf("deployments of a new service = %s, want []", empty["deployments"])
	}
	e.must(http.StatusOK, "GET", "/api/v1/services/web/revisions", nil).decode(t, &empty)
	if string(empty["revisions"]) != "[]" {
		t.Errorf("revisions of a new service = %s, want []", empty["revisions"])
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/services/nope/deployments", nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/services/web/deployments/nope", nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/services/web/revisions/nope", nil)

	// The deployer writes these; here the test does, through the store.
	d, rev := seedDeployment(t, e, "web")
	var gotD spec.Deployment
	e.must(http.StatusOK, "GET", "/api/v1/services/web/deployments/"+d.ID, nil).decode(t, &gotD)
	if gotD.ID != d.ID || gotD.State != d.State {
		t.Errorf("deployment = %+v, want %+v", gotD, d)
	}
	var gotR spec.Revision
	e.must(http.StatusOK, "GET", "/api/v1/services/web/revisions/"+rev.ID, nil).decode(t, &gotR)
	if gotR.ID != rev.ID || gotR.Digest != rev.Digest {
		t.Errorf("revision = %+v, want %+v", gotR, rev)
	}
	var ds struct{ Deployments []spec.Deployment }
	e.must(http.StatusOK, "GET", "/api/v1/services/web/deployments", nil).decode(t, &ds)
	if len(ds.Deployments) != 1 {
		t.Errorf("deployments = %+v", ds.Deployments)
	}
}

// seedDeployment records a deployment and its revision as the deployer
// would.
func seedDeployment(t *testing.T, e *testEnv, service string) (spec.Deployment, spec.Revision) {
	t.Helper()
	ctx := t.Context()
	svc, err := e.st.GetService(ctx, service)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.st.CreateDeployment(ctx, service, spec.DeploymentSource{Kind: "git", Ref: "main", Commit: "0123456789abcdef0123456789abcdef01234567"})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := e.st.CreateRevision(ctx, spec.Revision{
		ServiceID: svc.ID, Image: "apprun/" + service + ":1", Digest: "sha256:" + fmt.Sprintf("%064x", 1),
		Service: svc, DeploymentID: d.ID, Processes: []spec.Process{{Type: "web", Command: "./server"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetDeploymentRevision(ctx, d.ID, rev.ID); err != nil {
		t.Fatal(err)
	}
	if d, err = e.st.TransitionDeployment(ctx, d.ID, spec.StateBuilding, ""); err != nil {
		t.Fatal(err)
	}
	return d, rev
}
