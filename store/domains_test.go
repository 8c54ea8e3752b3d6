package store

import (
	"errors"
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

func TestAddRemoveVerifyDomain(t *testing.T) {
	s, _ := newStore(t)
	clock := useClock(s)
	ctx := t.Context()
	for _, name := range []string{"web", "api"} {
		svc := spec.NewService(name)
		if name == "web" {
			svc.Domains = []string{"a.example.com"}
		}
		if _, err := s.CreateService(ctx, svc, nil); err != nil {
			t.Fatal(err)
		}
	}

	clock.advance(time.Minute)
	d, err := s.AddDomain(ctx, "web", "www.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "www.example.com" || d.Service != "web" || d.Status != spec.DomainPending || d.VerifyToken == "" ||
		!d.CreatedAt.Equal(clock.t) || d.VerifiedAt != nil {
		t.Errorf("added domain = %+v", d)
	}
	// The service's list and the table agree, and the service moved.
	svc, err := s.GetService(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	deepEqual(t, "Service.Domains", svc.Domains, []string{"a.example.com", "www.example.com"})
	if !svc.UpdatedAt.Equal(clock.t) {
		t.Errorf("updatedAt = %v, want %v", svc.UpdatedAt, clock.t)
	}
	if got, err := s.GetDomain(ctx, "www.example.com"); err != nil || got != d {
		t.Errorf("GetDomain = %+v, %v; want %+v", got, err, d)
	}

	// Refused additions change nothing.
	before := dump(t, s)
	for _, tc := range []struct {
		service, name string
		target        error
		fragment      string
	}{
		{"web", "www.example.com", spec.ErrConflict, `"www.example.com" is already attached to service "web"`},
		{"api", "www.example.com", spec.ErrConflict, `domain "www.example.com" is attached to service "web"`},
		{"nope", "new.example.com", spec.ErrNotFound, `service "nope"`},
	} {
		_, err := s.AddDomain(ctx, tc.service, tc.name)
		wantErr(t, err, tc.target, tc.fragment)
	}
	for _, bad := range []string{"", "Www.Example.com", "localhost", "a..b", "1.2.3.4"} {
		_, err := s.AddDomain(ctx, "web", bad)
		wantProblem(t, err, "name", "")
	}
	for _, tc := range []struct{ service, name, fragment string }{
		{"web", "nope.example.com", `domain "nope.example.com" of service "web"`},
		{"api", "www.example.com", `domain "www.example.com" of service "api"`},
		{"nope", "www.example.com", `service "nope"`},
	} {
		wantErr(t, s.RemoveDomain(ctx, tc.service, tc.name), spec.ErrNotFound, tc.fragment)
	}
	_, err = s.VerifyDomain(ctx, "nope.example.com")
	wantErr(t, err, spec.ErrNotFound, `domain "nope.example.com"`)
	_, err = s.GetDomain(ctx, "nope.example.com")
	wantErr(t, err, spec.ErrNotFound, `domain "nope.example.com"`)
	if dump(t, s) != before {
		t.Errorf("a refused call changed the database")
	}

	// Verifying: pending → verified once; again is a no-op.
	clock.advance(time.Minute)
	v, err := s.VerifyDomain(ctx, "www.example.com")
	if err != nil {
		t.Fatal(err)
	}
	verifiedAt := clock.t
	if v.Status != spec.DomainVerified || v.VerifiedAt == nil || !v.VerifiedAt.Equal(verifiedAt) || v.VerifyToken != d.VerifyToken {
		t.Errorf("verified domain = %+v", v)
	}
	clock.advance(time.Minute)
	again, err := s.VerifyDomain(ctx, "www.example.com")
	if err != nil || again.VerifiedAt == nil || !again.VerifiedAt.Equal(verifiedAt) {
		t.Errorf("verifying again = %+v, %v; want VerifiedAt kept at %v", again, err, verifiedAt)
	}
	// An update that keeps the domain keeps its verification.
	if _, err := s.UpdateService(ctx, "web", ServiceUpdate{Mutate: func(svc *spec.Service) error { svc.Port = 9000; return nil }}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetDomain(ctx, "www.example.com"); got.Status != spec.DomainVerified {
		t.Errorf("an unrelated update reset the domain: %+v", got)
	}

	// Removing frees the name; coming back (even to another service) it is
	// pending again with a new token.
	if err := s.RemoveDomain(ctx, "web", "www.example.com"); err != nil {
		t.Fatal(err)
	}
	svc, _ = s.GetService(ctx, "web")
	deepEqual(t, "Service.Domains after remove", svc.Domains, []string{"a.example.com"})
	if _, err := s.GetDomain(ctx, "www.example.com"); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("removed domain still there: %v", err)
	}
	back, err := s.AddDomain(ctx, "api", "www.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if back.Status != spec.DomainPending || back.VerifyToken == d.VerifyToken || back.Service != "api" {
		t.Errorf("re-added domain = %+v", back)
	}

	// Removing the last domain leaves no rows; deleting the service takes
	// its domains with it.
	if err := s.RemoveDomain(ctx, "web", "a.example.com"); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.ListDomains(ctx, "web"); len(ds) != 0 {
		t.Errorf("domains left: %+v", ds)
	}
	if err := s.DeleteService(ctx, "api"); err != nil {
		t.Fatal(err)
	}
	if ds, _ := s.ListDomains(ctx, ""); len(ds) != 0 {
		t.Errorf("domains left after delete: %+v", ds)
	}
}
