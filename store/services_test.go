package store

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

var idRE = regexp.MustCompile(`^(svc|net|dep|rev|tok)_[a-z2-7]{20}$`)

// TestFullServiceCoversEveryField fails when spec.Service gains a field
// that fullService leaves at its default: the round-trip test would then
// not notice the store dropping it.
func TestFullServiceCoversEveryField(t *testing.T) {
	var walk func(path string, got, def reflect.Value)
	walk = func(path string, got, def reflect.Value) {
		if got.Kind() == reflect.Struct && got.Type() != reflect.TypeFor[time.Time]() {
			for i := range got.NumField() {
				walk(path+"."+got.Type().Field(i).Name, got.Field(i), def.Field(i))
			}
			return
		}
		if reflect.DeepEqual(got.Interface(), def.Interface()) || got.IsZero() && (got.Kind() == reflect.Map || got.Kind() == reflect.Slice) {
			t.Errorf("fullService leaves %s at its default; set it so the round trip covers it", path)
		}
	}
	walk("Service", reflect.ValueOf(fullService("x", "net")), reflect.ValueOf(spec.NewService("default")))
}

func TestServiceRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	clock := useClock(s)
	ctx := t.Context()
	mustNetwork(t, s, "db")
	mustNetwork(t, s, "cache")

	in := fullService("web", "db", "cache")
	created, err := s.CreateService(ctx, in, map[string]string{"B_KEY": "b", "A_KEY": "a"})
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	if !idRE.MatchString(created.ID) || created.ID == in.ID {
		t.Errorf("ID %q is not a fresh service ID", created.ID)
	}
	want := in
	want.ID = created.ID
	want.CreatedAt, want.UpdatedAt = clock.t, clock.t
	want.SecretNames = []string{"A_KEY", "B_KEY"}
	deepEqual(t, "created", created, want)
	got, err := s.GetService(ctx, "web")
	if err != nil {
		t.Fatalf("GetService: %v", err)
	}
	deepEqual(t, "got", got, want)
	list, err := s.ListServices(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListServices = %v, %v", list, err)
	}
	deepEqual(t, "listed", list[0], want)

	// Every field changes at once, networks reordered and one dropped.
	clock.advance(time.Hour)
	next := fullService("web", "cache")
	next.Port, next.Env = 9000, map[string]string{"OTHER": "1"}
	next.Scaling = spec.Scaling{MaxConcurrency: 50, MinInstances: 2, MaxInstances: 40}
	next.HealthCheck = spec.HealthCheck{Protocol: spec.ProtocolTCP, Path: "/x", Interval: 20, Timeout: 20, HealthyThreshold: 20, UnhealthyThreshold: 20}
	next.InstanceSize = spec.InstanceSize{CPU: 4, MemoryMB: 8192}
	next.Domains = []string{"api.example.net"}
	next.Source = spec.Source{Repo: "ssh://git@git.example.com/acme/web.git", Branch: "main", AutoDeploy: true}
	updated, err := s.UpdateService(ctx, "web", ServiceUpdate{Mutate: func(svc *spec.Service) error {
		*svc = next
		return nil
	}})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	want = next
	want.ID, want.CreatedAt, want.UpdatedAt = created.ID, created.CreatedAt, clock.t
	want.SecretNames = []string{"A_KEY", "B_KEY"} // Mutate cannot change them
	deepEqual(t, "updated", updated, want)
	got, _ = s.GetService(ctx, "web")
	deepEqual(t, "got after update", got, want)
	list, _ = s.ListServices(ctx)
	deepEqual(t, "listed after update", list, []spec.Service{want})
}

func TestServiceDefaults(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	created, err := s.CreateService(ctx, spec.NewService("plain"), nil)
	if err != nil {
		t.Fatalf("CreateService: %v", err)
	}
	want := spec.NewService("plain")
	want.ID, want.CreatedAt, want.UpdatedAt = created.ID, created.CreatedAt, created.UpdatedAt
	got, _ := s.GetService(ctx, "plain")
	deepEqual(t, "defaults", got, want)

	// A row written before a setting existed reads back with the
	// setting's default, not a zero that would fail validation.
	rawExec(t, s, `UPDATE services SET settings = '{"port": 5000, "scaling": {"maxInstances": 4}}' WHERE name = 'plain'`)
	got, _ = s.GetService(ctx, "plain")
	want.Port = 5000
	want.Scaling.MaxInstances = 4
	deepEqual(t, "defaults under a partial row", got, want)
	if err := got.Validate(); err != nil {
		t.Errorf("a partial row reads back invalid: %v", err)
	}
}

func TestServiceListOrderAndEmpty(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	list, err := s.ListServices(ctx)
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("empty ListServices = %#v, %v; want an empty, non-nil slice", list, err)
	}
	for _, n := range []string{"zeta", "alpha", "mid"} {
		if _, err := s.CreateService(ctx, spec.NewService(n), map[string]string{"K_" + n: "v"}); err != nil {
			t.Fatal(err)
		}
	}
	list, _ = s.ListServices(ctx)
	var names []string
	for _, svc := range list {
		names = append(names, svc.Name)
		deepEqual(t, svc.Name+" secrets", svc.SecretNames, []string{"K_" + svc.Name})
	}
	deepEqual(t, "order", names, []string{"alpha", "mid", "zeta"})
}

func TestCreateServiceValidation(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	mustNetwork(t, s, "db")
	before := dump(t, s)
	bad := spec.NewService("Bad_Name")
	bad.Scaling.MaxInstances = 0
	bad.Networks = []string{"db", "missing", "db"}
	_, err := s.CreateService(ctx, bad, map[string]string{"1BAD": "x"})
	wantProblem(t, err, "name", "not a DNS label")
	wantProblem(t, err, "scaling.maxInstances", "between 1")
	wantProblem(t, err, "networks[1]", `network "missing" does not exist`)
	wantProblem(t, err, "networks[2]", "listed twice")
	wantProblem(t, err, "secrets.1BAD", "not an environment variable name")
	if after := dump(t, s); after != before {
		t.Errorf("a refused create changed the database:\n%s", after)
	}
}

func TestServiceNameConflict(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	for _, n := range []string{"web", "api"} {
		if _, err := s.CreateService(ctx, spec.NewService(n), nil); err != nil {
			t.Fatal(err)
		}
	}
	before := dump(t, s)
	_, err := s.CreateService(ctx, spec.NewService("web"), map[string]string{"K": "v"})
	wantErr(t, err, spec.ErrConflict, `service "web" already exists`)
	_, err = s.UpdateService(ctx, "api", ServiceUpdate{Mutate: func(svc *spec.Service) error { svc.Name = "web"; return nil }})
	wantErr(t, err, spec.ErrConflict, `service "web" already exists`)
	if after := dump(t, s); after != before {
		t.Errorf("a conflict changed the database")
	}
}

func TestUpdateServiceAtomic(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	mustNetwork(t, s, "db")
	if _, err := s.CreateService(ctx, fullService("web", "db"), map[string]string{"TOKEN": "old"}); err != nil {
		t.Fatal(err)
	}
	other := spec.NewService("other")
	other.Domains = []string{"taken.example.com"}
	if _, err := s.CreateService(ctx, other, nil); err != nil {
		t.Fatal(err)
	}
	before := dump(t, s)
	boom := errors.New("boom")
	cases := []struct {
		name  string
		u     ServiceUpdate
		check func(t *testing.T, err error)
	}{
		{"mutate error is returned as is", ServiceUpdate{
			Mutate:     func(svc *spec.Service) error { svc.Port = 1; svc.Env = nil; return boom },
			SetSecrets: map[string]string{"TOKEN": "new"}, ReplaceSecrets: true,
		}, func(t *testing.T, err error) {
			if err != boom {
				t.Errorf("got %v, want the Mutate error itself", err)
			}
		}},
		{"invalid result", ServiceUpdate{
			Mutate:       func(svc *spec.Service) error { svc.Port = 70000; svc.Networks = nil; return nil },
			UnsetSecrets: []string{"TOKEN"},
		}, func(t *testing.T, err error) { wantProblem(t, err, "port", "between 1 and 65535") }},
		{"invalid secret", ServiceUpdate{
			Mutate:     func(svc *spec.Service) error { svc.Port = 1; return nil },
			SetSecrets: map[string]string{"TOKEN": "new", "bad-name": "x"},
		}, func(t *testing.T, err error) { wantProblem(t, err, "secrets.bad-name", "not an environment") }},
		{"missing network", ServiceUpdate{
			Mutate: func(svc *spec.Service) error { svc.Networks = append(svc.Networks, "nope"); return nil },
		}, func(t *testing.T, err error) { wantProblem(t, err, "networks[1]", `network "nope" does not exist`) }},
		{"domain of another service, found after other writes", ServiceUpdate{
			Mutate: func(svc *spec.Service) error {
				svc.Port = 1
				svc.Domains = []string{"new.example.com", "taken.example.com"}
				return nil
			},
			SetSecrets: map[string]string{"TOKEN": "new"},
		}, func(t *testing.T, err error) {
			wantErr(t, err, spec.ErrConflict, `domain "taken.example.com" is attached to service "other"`)
		}},
		{"missing service", ServiceUpdate{}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "web"
			if c.check == nil {
				name = "ghost"
				c.check = func(t *testing.T, err error) { wantErr(t, err, spec.ErrNotFound, `service "ghost" not found`) }
			}
			_, err := s.UpdateService(ctx, name, c.u)
			c.check(t, err)
			if after := dump(t, s); after != before {
				t.Errorf("a failed update changed the database:\nbefore\n%s\nafter\n%s", before, after)
			}
			secrets, err := s.ServiceSecrets(ctx, "web")
			if err != nil || secrets["TOKEN"] != "old" {
				t.Errorf("secrets after a failed update = %v, %v", secrets, err)
			}
		})
	}
}

func TestUpdateServiceKeepsIdentity(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	created, err := s.CreateService(ctx, spec.NewService("web"), map[string]string{"K": "v"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateService(ctx, "web", ServiceUpdate{Mutate: func(svc *spec.Service) error {
		svc.ID, svc.CreatedAt, svc.SecretNames = "svc_forged", time.Time{}, []string{"FORGED"}
		svc.Name = "site" // a rename is allowed; the ID stays
		return nil
	}})
	if err != nil {
		t.Fatalf("UpdateService: %v", err)
	}
	if got.ID != created.ID || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("identity changed: %s %v, want %s %v", got.ID, got.CreatedAt, created.ID, created.CreatedAt)
	}
	deepEqual(t, "secret names", got.SecretNames, []string{"K"})
	if _, err := s.GetService(ctx, "web"); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("old name still answers: %v", err)
	}
	// Secrets are bound to the ID, so they survive the rename.
	secrets, err := s.ServiceSecrets(ctx, "site")
	if err != nil || secrets["K"] != "v" {
		t.Errorf("secrets after rename = %v, %v", secrets, err)
	}
}

// TestUpdateServiceSerialised runs read-modify-write updates at once: the
// single writer and BEGIN IMMEDIATE must make each see the last one's
// result, so no increment is lost.
func TestUpdateServiceSerialised(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if _, err := s.CreateService(ctx, spec.NewService("web"), nil); err != nil {
		t.Fatal(err)
	}
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.UpdateService(ctx, "web", ServiceUpdate{
				Mutate:     func(svc *spec.Service) error { svc.Port++; return nil },
				SetSecrets: map[string]string{fmt.Sprintf("S%d", i): "v"},
			})
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
			if _, err := s.GetService(ctx, "web"); err != nil {
				t.Errorf("read during updates: %v", err)
			}
		})
	}
	wg.Wait()
	got, _ := s.GetService(ctx, "web")
	if got.Port != n || len(got.SecretNames) != n {
		t.Errorf("after %d updates: port %d, %d secrets", n, got.Port, len(got.SecretNames))
	}
}

func TestDeleteServiceCascades(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	mustNetwork(t, s, "db")
	svc, err := s.CreateService(ctx, fullService("web", "db"), map[string]string{"K": "v"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.CreateDeployment(ctx, "web", spec.DeploymentSource{Kind: "git", Commit: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRevision(ctx, spec.Revision{ServiceID: svc.ID, Image: "img", DeploymentID: d.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteService(ctx, "web"); err != nil {
		t.Fatalf("DeleteService: %v", err)
	}
	for _, table := range []string{"services", "secrets", "service_networks", "domains", "deployments", "revisions"} {
		var n int
		if err := s.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s has %d rows after delete (%v)", table, n, err)
		}
	}
	if _, err := s.GetNetwork(ctx, "db"); err != nil {
		t.Errorf("the network went with the service: %v", err)
	}
	wantErr(t, s.DeleteService(ctx, "web"), spec.ErrNotFound, `service "web" not found`)
}

// TestNotFound checks every method that takes a name or an ID.
func TestNotFound(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	src := spec.DeploymentSource{Kind: "archive"}
	calls := map[string]func() error{
		"GetService":            func() error { _, err := s.GetService(ctx, "x"); return err },
		"UpdateService":         func() error { _, err := s.UpdateService(ctx, "x", ServiceUpdate{}); return err },
		"DeleteService":         func() error { return s.DeleteService(ctx, "x") },
		"ServiceSecrets":        func() error { _, err := s.ServiceSecrets(ctx, "x"); return err },
		"ListDomains":           func() error { _, err := s.ListDomains(ctx, "x"); return err },
		"GetNetwork":            func() error { _, err := s.GetNetwork(ctx, "x"); return err },
		"DeleteNetwork":         func() error { return s.DeleteNetwork(ctx, "x") },
		"CreateDeployment":      func() error { _, err := s.CreateDeployment(ctx, "x", src); return err },
		"TransitionDeployment":  func() error { _, err := s.TransitionDeployment(ctx, "x", spec.StateBuilding, ""); return err },
		"SetDeploymentRevision": func() error { return s.SetDeploymentRevision(ctx, "x", "y") },
		"GetDeployment":         func() error { _, err := s.GetDeployment(ctx, "x", "y"); return err },
		"ListDeployments":       func() error { _, err := s.ListDeployments(ctx, "x"); return err },
		"CreateRevision":        func() error { _, err := s.CreateRevision(ctx, spec.Revision{ServiceID: "x", Image: "i"}); return err },
		"GetRevision":           func() error { _, err := s.GetRevision(ctx, "x", "y"); return err },
		"ListRevisions":         func() error { _, err := s.ListRevisions(ctx, "x"); return err },
		"DeleteToken":           func() error { return s.DeleteToken(ctx, "x") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { wantErr(t, call(), spec.ErrNotFound, `"x"`) })
	}
}
