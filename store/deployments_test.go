package store

import (
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

func TestDeploymentLifecycle(t *testing.T) {
	s, _ := newStore(t)
	clock := useClock(s)
	ctx := t.Context()
	for _, n := range []string{"web", "api"} {
		if _, err := s.CreateService(ctx, spec.NewService(n), nil); err != nil {
			t.Fatal(err)
		}
	}
	src := spec.DeploymentSource{Kind: "git", Ref: "refs/heads/main", Commit: "0123abc"}
	d1, err := s.CreateDeployment(ctx, "web", src)
	if err != nil {
		t.Fatalf("CreateDeployment: %v", err)
	}
	if d1.Number != 1 || d1.State != spec.StateQueued || d1.Source != src || !d1.CreatedAt.Equal(clock.t) || d1.FinishedAt != nil || !idRE.MatchString(d1.ID) {
		t.Errorf("first deployment = %+v", d1)
	}
	// Numbers count per service.
	a1, _ := s.CreateDeployment(ctx, "api", src)
	d2, _ := s.CreateDeployment(ctx, "web", spec.DeploymentSource{Kind: "archive"})
	if a1.Number != 1 || d2.Number != 2 {
		t.Errorf("numbers: api %d, web second %d", a1.Number, d2.Number)
	}

	_, err = s.CreateDeployment(ctx, "web", spec.DeploymentSource{Kind: "ftp"})
	wantProblem(t, err, "source.kind", `"ftp"`)

	// The happy path, each step stamped.
	for _, to := range []spec.DeploymentState{spec.StateBuilding, spec.StateBuilt, spec.StateStarting, spec.StateHealthy, spec.StateRouted, spec.StateDraining} {
		clock.advance(time.Second)
		d, err := s.TransitionDeployment(ctx, d1.ID, to, "")
		if err != nil {
			t.Fatalf("to %s: %v", to, err)
		}
		if d.State != to || !d.UpdatedAt.Equal(clock.t) || d.FinishedAt != nil {
			t.Errorf("after %s: %+v", to, d)
		}
	}
	clock.advance(time.Second)
	done, err := s.TransitionDeployment(ctx, d1.ID, spec.StateSucceeded, "rolled out")
	if err != nil {
		t.Fatal(err)
	}
	if done.FinishedAt == nil || !done.FinishedAt.Equal(clock.t) || done.Reason != "rolled out" {
		t.Errorf("finished deployment = %+v", done)
	}
	got, err := s.GetDeployment(ctx, "web", d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	deepEqual(t, "stored", got, done)

	// Scoped by service.
	_, err = s.GetDeployment(ctx, "api", d1.ID)
	wantErr(t, err, spec.ErrNotFound, d1.ID, `service "api"`)

	// Failing keeps the reason and finishes.
	failed, err := s.TransitionDeployment(ctx, d2.ID, spec.StateFailed, "build: exit status 1")
	if err != nil || failed.FinishedAt == nil || failed.Reason != "build: exit status 1" {
		t.Errorf("failed = %+v, %v", failed, err)
	}

	list, err := s.ListDeployments(ctx, "web")
	if err != nil || len(list) != 2 || list[0].ID != d2.ID || list[1].ID != d1.ID {
		t.Errorf("ListDeployments (newest first) = %+v, %v", list, err)
	}
}

// TestDeploymentStateMachineEnforced tries every pair of states: the store
// allows exactly what spec allows, and a refused move changes nothing.
func TestDeploymentStateMachineEnforced(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if _, err := s.CreateService(ctx, spec.NewService("web"), nil); err != nil {
		t.Fatal(err)
	}
	// path reaches each state from queued.
	path := map[spec.DeploymentState][]spec.DeploymentState{spec.StateFailed: {spec.StateFailed}}
	for i, st := range spec.States[:len(spec.States)-1] {
		path[st] = spec.States[1 : i+1]
	}
	for _, from := range spec.States {
		for _, to := range append(spec.States, "bogus") {
			d, err := s.CreateDeployment(ctx, "web", spec.DeploymentSource{Kind: "archive"})
			if err != nil {
				t.Fatal(err)
			}
			for _, st := range path[from] {
				if _, err := s.TransitionDeployment(ctx, d.ID, st, ""); err != nil {
					t.Fatalf("reaching %s: %v", from, err)
				}
			}
			before := dump(t, s)
			_, err = s.TransitionDeployment(ctx, d.ID, to, "why")
			if ok := from.CanTransition(to); ok != (err == nil) {
				t.Errorf("%s → %s: err %v, spec allows: %v", from, to, err, ok)
			}
			if err != nil && dump(t, s) != before {
				t.Errorf("%s → %s: a refused transition changed the database", from, to)
			}
			if err != nil && to.Valid() {
				wantErr(t, err, spec.ErrConflict, d.ID)
			}
		}
	}
}

func TestRevisions(t *testing.T) {
	s, _ := newStore(t)
	clock := useClock(s)
	ctx := t.Context()
	web, _ := s.CreateService(ctx, fullService("web"), map[string]string{"K": "v"})
	s.CreateService(ctx, spec.NewService("api"), nil)
	d, _ := s.CreateDeployment(ctx, "web", spec.DeploymentSource{Kind: "git"})
	apiDep, _ := s.CreateDeployment(ctx, "api", spec.DeploymentSource{Kind: "git"})

	in := spec.Revision{
		ID: "rev_ignored", Number: 99, ServiceID: web.ID,
		Image: "apprun/web:abc", Digest: "sha256:0123",
		Service: web,
		Config: &spec.AppConfig{Version: "1.0", Runtime: "go1",
			Build: spec.BuildConfig{Commands: spec.BuildCommands{Build: []string{"go build"}}, Env: []spec.EnvVar{{Name: "CGO_ENABLED", Value: "0"}}},
			Run: spec.RunConfig{Command: "./web", Network: spec.NetworkConfig{Port: 3000, Env: "APP_PORT"},
				Secrets: []spec.SecretRef{{Name: "K", ValueFrom: "K"}}}},
		Processes:    []spec.Process{{Type: "web", Command: "./web"}, {Type: "worker", Command: "./worker"}},
		DeploymentID: d.ID,
	}
	r1, err := s.CreateRevision(ctx, in)
	if err != nil {
		t.Fatalf("CreateRevision: %v", err)
	}
	want := in
	want.ID, want.Number, want.CreatedAt = r1.ID, 1, clock.t
	deepEqual(t, "created", r1, want)
	got, err := s.GetRevision(ctx, "web", r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	deepEqual(t, "got", got, want)
	r2, _ := s.CreateRevision(ctx, spec.Revision{ServiceID: web.ID, Image: "apprun/web:def"})
	list, err := s.ListRevisions(ctx, "web")
	if err != nil || len(list) != 2 || list[0].ID != r2.ID || list[0].Number != 2 || list[1].ID != r1.ID {
		t.Errorf("ListRevisions (newest first) = %+v, %v", list, err)
	}
	_, err = s.GetRevision(ctx, "api", r1.ID)
	wantErr(t, err, spec.ErrNotFound)

	before := dump(t, s)
	_, err = s.CreateRevision(ctx, spec.Revision{ServiceID: web.ID, DeploymentID: apiDep.ID})
	wantProblem(t, err, "image", "must not be empty")
	wantProblem(t, err, "deploymentId", apiDep.ID)

	// A deployment takes only its own service's revision, and not once it
	// has finished.
	wantErr(t, s.SetDeploymentRevision(ctx, apiDep.ID, r1.ID), spec.ErrConflict, "another service")
	wantErr(t, s.SetDeploymentRevision(ctx, d.ID, "rev_missing"), spec.ErrNotFound, "rev_missing")
	if dump(t, s) != before {
		t.Errorf("a refused call changed the database")
	}
	if err := s.SetDeploymentRevision(ctx, d.ID, r1.ID); err != nil {
		t.Fatal(err)
	}
	got2, _ := s.GetDeployment(ctx, "web", d.ID)
	if got2.RevisionID != r1.ID {
		t.Errorf("RevisionID = %q", got2.RevisionID)
	}
	s.TransitionDeployment(ctx, d.ID, spec.StateFailed, "x")
	wantErr(t, s.SetDeploymentRevision(ctx, d.ID, r2.ID), spec.ErrConflict, "failed")
}
