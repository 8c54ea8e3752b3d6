package store

import (
	"regexp"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

func TestDomains(t *testing.T) {
	s, _ := newStore(t)
	clock := useClock(s)
	ctx := t.Context()
	web := spec.NewService("web")
	web.Domains = []string{"b.example.com", "a.example.com"}
	if _, err := s.CreateService(ctx, web, nil); err != nil {
		t.Fatal(err)
	}
	created := clock.t
	ds, err := s.ListDomains(ctx, "web")
	if err != nil || len(ds) != 2 {
		t.Fatalf("ListDomains = %v, %v", ds, err)
	}
	tokenRE := regexp.MustCompile(`^[a-z2-7]{32}$`)
	for i, name := range []string{"b.example.com", "a.example.com"} {
		d := ds[i]
		if d.Name != name || d.Service != "web" || d.Status != spec.DomainPending || !d.CreatedAt.Equal(created) || d.VerifiedAt != nil {
			t.Errorf("domain %d = %+v", i, d)
		}
		if !tokenRE.MatchString(d.VerifyToken) {
			t.Errorf("verify token %q is not 32 random characters", d.VerifyToken)
		}
	}
	if ds[0].VerifyToken == ds[1].VerifyToken {
		t.Errorf("two domains share a verify token")
	}

	// Another service cannot take a domain; the error names both.
	api := spec.NewService("api")
	api.Domains = []string{"api.example.com", "a.example.com"}
	before := dump(t, s)
	_, err = s.CreateService(ctx, api, nil)
	wantErr(t, err, spec.ErrConflict, `domain "a.example.com" is attached to service "web"`)
	if dump(t, s) != before {
		t.Errorf("a refused create changed the database")
	}
	api.Domains = []string{"api.example.com"}
	if _, err := s.CreateService(ctx, api, nil); err != nil {
		t.Fatal(err)
	}

	// Keeping a domain keeps its token and creation time; a new one is
	// pending; a dropped one is gone and free for another service.
	clock.advance(time.Hour)
	svc, err := s.UpdateService(ctx, "web", ServiceUpdate{Mutate: func(svc *spec.Service) error {
		svc.Domains = []string{"c.example.com", "b.example.com"}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	deepEqual(t, "Service.Domains", svc.Domains, []string{"c.example.com", "b.example.com"})
	after, _ := s.ListDomains(ctx, "web")
	if len(after) != 2 || after[0].Name != "c.example.com" || after[1].Name != "b.example.com" {
		t.Fatalf("domains after update = %+v", after)
	}
	if after[1].VerifyToken != ds[0].VerifyToken || !after[1].CreatedAt.Equal(created) {
		t.Errorf("a kept domain changed: %+v, was %+v", after[1], ds[0])
	}
	if !after[0].CreatedAt.Equal(clock.t) {
		t.Errorf("new domain created at %v, want %v", after[0].CreatedAt, clock.t)
	}
	if _, err := s.UpdateService(ctx, "api", ServiceUpdate{Mutate: func(svc *spec.Service) error {
		svc.Domains = append(svc.Domains, "a.example.com")
		return nil
	}}); err != nil {
		t.Errorf("a released domain could not be taken: %v", err)
	}

	all, err := s.ListDomains(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range all {
		got = append(got, d.Service+" "+d.Name)
	}
	deepEqual(t, "all domains", got, []string{"api api.example.com", "api a.example.com", "web c.example.com", "web b.example.com"})

	// Removing every domain (nil) removes their rows.
	if _, err := s.UpdateService(ctx, "web", ServiceUpdate{Mutate: func(svc *spec.Service) error { svc.Domains = nil; return nil }}); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.ListDomains(ctx, "web"); len(ds) != 0 {
		t.Errorf("domains left after clearing: %+v", ds)
	}
}
