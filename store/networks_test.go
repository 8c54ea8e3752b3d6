package store

import (
	"testing"

	"github.com/apprun/apprun/spec"
)

func TestNetworks(t *testing.T) {
	s, _ := newStore(t)
	clock := useClock(s)
	ctx := t.Context()
	list, err := s.ListNetworks(ctx)
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("empty ListNetworks = %#v, %v", list, err)
	}
	db, err := s.CreateNetwork(ctx, spec.Network{Name: "db", Internal: true, ID: "net_ignored"})
	if err != nil {
		t.Fatalf("CreateNetwork: %v", err)
	}
	want := spec.Network{ID: db.ID, Name: "db", Internal: true, CreatedAt: clock.t}
	deepEqual(t, "created", db, want)
	if !idRE.MatchString(db.ID) {
		t.Errorf("ID %q", db.ID)
	}
	got, err := s.GetNetwork(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	deepEqual(t, "got", got, want)
	cache := mustNetwork(t, s, "cache")

	before := dump(t, s)
	_, err = s.CreateNetwork(ctx, spec.Network{Name: "db"})
	wantErr(t, err, spec.ErrConflict, `network "db" already exists`)
	_, err = s.CreateNetwork(ctx, spec.Network{Name: "Not Valid"})
	wantProblem(t, err, "name", "not a DNS label")
	if dump(t, s) != before {
		t.Errorf("a refused create changed the database")
	}

	list, _ = s.ListNetworks(ctx)
	deepEqual(t, "list (by name)", list, []spec.Network{cache, want})
}

func TestNetworkInUse(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	mustNetwork(t, s, "db")
	mustNetwork(t, s, "cache")
	for _, n := range []string{"web", "api"} {
		svc := spec.NewService(n)
		svc.Networks = []string{"cache", "db"}
		if _, err := s.CreateService(ctx, svc, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := s.GetService(ctx, "web")
	deepEqual(t, "networks keep their order", got.Networks, []string{"cache", "db"})

	before := dump(t, s)
	wantErr(t, s.DeleteNetwork(ctx, "db"), spec.ErrConflict, `network "db" is used by services "api", "web"`)
	if dump(t, s) != before {
		t.Errorf("a refused delete changed the database")
	}

	// The foreign key holds even if the check were bypassed.
	var netID string
	s.r.QueryRowContext(ctx, `SELECT id FROM networks WHERE name = 'db'`).Scan(&netID)
	if _, err := s.w.ExecContext(ctx, `DELETE FROM networks WHERE id = ?`, netID); err == nil {
		t.Errorf("the schema let a network in use be deleted")
	}

	for _, n := range []string{"web", "api"} {
		if _, err := s.UpdateService(ctx, n, ServiceUpdate{Mutate: func(svc *spec.Service) error { svc.Networks = []string{"cache"}; return nil }}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteNetwork(ctx, "db"); err != nil {
		t.Fatalf("DeleteNetwork once unused: %v", err)
	}
	wantErr(t, s.DeleteNetwork(ctx, "db"), spec.ErrNotFound, `network "db" not found`)
	wantErr(t, s.DeleteNetwork(ctx, "cache"), spec.ErrConflict, `used by services "api", "web"`)
	if err := s.DeleteService(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.DeleteNetwork(ctx, "cache"), spec.ErrConflict, `used by service "api";`)
}
