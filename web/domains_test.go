package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
)

// fakeVerifier verifies the names in ok and refuses the others with a
// message like the real one's.
type fakeVerifier struct {
	mu    sync.Mutex
	ok    map[string]bool
	calls []spec.Domain
}

func (f *fakeVerifier) Verify(_ context.Context, d spec.Domain) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, d)
	if f.ok[d.Name] {
		return nil
	}
	return errors.New("TXT " + VerifyTXTName(d.Name) + ": no record; " + VerifyHTTPURL(d.Name, d.VerifyToken) + ": connection refused")
}

// fakeCerts holds a certificate for every name starting with "www.".
type fakeCerts struct{}

var certNotAfter = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)

func (fakeCerts) Status(names ...string) []CertStatus {
	var out []CertStatus
	for _, n := range names {
		if strings.HasPrefix(n, "www.") {
			out = append(out, CertStatus{Name: n, Issuer: "Test CA", NotAfter: certNotAfter, DaysLeft: 12.5, Warning: "expires in 12 days"})
		}
	}
	return out
}

// domainJSON is a domain response as a client reads it.
type domainJSON struct {
	spec.Domain
	Instructions *struct {
		TXTName  string `json:"txtName"`
		TXTValue string `json:"txtValue"`
		HTTPURL  string `json:"httpURL"`
	} `json:"instructions"`
	Issuer   string     `json:"issuer"`
	NotAfter *time.Time `json:"notAfter"`
	DaysLeft *float64   `json:"daysLeft"`
	Warning  string     `json:"warning"`
}

func TestDomainLifecycle(t *testing.T) {
	v := &fakeVerifier{ok: map[string]bool{}}
	e := newTestEnv(t, Config{DomainVerifier: v, Certificates: fakeCerts{}, AppsDomain: "apps.example.com"})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web"})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "api"})

	// Adding: pending, with a token and the two ways to prove ownership.
	res := e.must(http.StatusCreated, "POST", "/api/v1/services/web/domains", map[string]string{"name": "www.example.com"})
	if loc := res.header.Get("Location"); loc != "/api/v1/services/web/domains/www.example.com" {
		t.Errorf("Location = %q", loc)
	}
	var d domainJSON
	res.decode(t, &d)
	if d.Name != "www.example.com" || d.Service != "web" || d.Status != spec.DomainPending || d.VerifyToken == "" {
		t.Fatalf("added domain = %s", res.body)
	}
	in := d.Instructions
	if in == nil || in.TXTName != "_apprun.www.example.com" || in.TXTValue != d.VerifyToken ||
		in.HTTPURL != "http://www.example.com/.well-known/apprun-verify/"+d.VerifyToken {
		t.Errorf("instructions = %s", res.body)
	}
	if d.Issuer != "Test CA" || d.NotAfter == nil || !d.NotAfter.Equal(certNotAfter) || d.DaysLeft == nil || *d.DaysLeft != 12.5 || d.Warning == "" {
		t.Errorf("certificate fields = %s", res.body)
	}
	// The service's own list says the same.
	var svc spec.Service
	e.must(http.StatusOK, "GET", "/api/v1/services/web", nil).decode(t, &svc)
	if len(svc.Domains) != 1 || svc.Domains[0] != "www.example.com" {
		t.Errorf("service domains = %v", svc.Domains)
	}
	// Another service cannot take it.
	res = e.do("POST", "/api/v1/services/api/domains", map[string]string{"name": "www.example.com"})
	if res.status != http.StatusConflict || !strings.Contains(res.errBody(t).Message, `attached to service "web"`) {
		t.Errorf("taking another service's domain: %d %s", res.status, res.body)
	}
	e.must(http.StatusCreated, "POST", "/api/v1/services/api/domains", map[string]string{"name": "api.example.com"})

	// Lists: every domain, or one service's; a name without a certificate
	// has no certificate fields.
	var list struct{ Domains []domainJSON }
	e.must(http.StatusOK, "GET", "/api/v1/domains", nil).decode(t, &list)
	if len(list.Domains) != 2 || list.Domains[0].Name != "api.example.com" || list.Domains[1].Name != "www.example.com" {
		t.Fatalf("all domains = %+v", list.Domains)
	}
	if a := list.Domains[0]; a.Issuer != "" || a.NotAfter != nil || a.DaysLeft != nil || a.Instructions == nil {
		t.Errorf("api.example.com = %+v", a)
	}
	list.Domains = nil
	e.must(http.StatusOK, "GET", "/api/v1/services/web/domains", nil).decode(t, &list)
	if len(list.Domains) != 1 || list.Domains[0].Name != "www.example.com" {
		t.Errorf("web's domains = %+v", list.Domains)
	}
	e.must(http.StatusOK, "GET", "/api/v1/domains?service=api", nil).decode(t, &list)
	if len(list.Domains) != 1 || list.Domains[0].Name != "api.example.com" {
		t.Errorf("?service=api = %+v", list.Domains)
	}
	// A domain is reached through its own service only.
	e.must(http.StatusOK, "GET", "/api/v1/services/web/domains/www.example.com", nil)
	e.must(http.StatusNotFound, "GET", "/api/v1/services/api/domains/www.example.com", nil)

	// A failed check is a 422 that says what was checked and found, and
	// changes nothing.
	before := e.snapshot()
	res = e.do("POST", "/api/v1/services/web/domains/www.example.com/verify", nil)
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("failed verify: %d %s", res.status, res.body)
	}
	eb := res.errBody(t)
	for _, want := range []string{"www.example.com", "TXT _apprun.www.example.com: no record", "/.well-known/apprun-verify/", "connection refused"} {
		if !strings.Contains(eb.Message, want) {
			t.Errorf("message %q does not mention %q", eb.Message, want)
		}
	}
	if eb.Code != codeVerificationFailed {
		t.Errorf("code = %q", eb.Code)
	}
	if after := e.snapshot(); after != before {
		t.Errorf("a failed verify changed the store")
	}
	if len(v.calls) != 1 || v.calls[0].VerifyToken != d.VerifyToken || v.calls[0].Name != "www.example.com" {
		t.Errorf("verifier calls = %+v", v.calls)
	}

	// A passing check verifies; verifying again does not ask again.
	v.ok["www.example.com"] = true
	var got domainJSON
	e.must(http.StatusOK, "POST", "/api/v1/services/web/domains/www.example.com/verify", nil).decode(t, &got)
	if got.Status != spec.DomainVerified || got.VerifiedAt == nil || got.Instructions != nil {
		t.Errorf("verified domain = %+v", got)
	}
	e.must(http.StatusOK, "POST", "/api/v1/services/web/domains/www.example.com/verify", `{}`)
	if len(v.calls) != 2 {
		t.Errorf("verifier called %d times, want 2", len(v.calls))
	}

	// Removing: gone from the service and the table; the name is free.
	e.must(http.StatusNoContent, "DELETE", "/api/v1/services/web/domains/www.example.com", nil)
	svc = spec.Service{}
	e.must(http.StatusOK, "GET", "/api/v1/services/web", nil).decode(t, &svc)
	if len(svc.Domains) != 0 {
		t.Errorf("service domains after remove = %v", svc.Domains)
	}
	e.must(http.StatusNotFound, "DELETE", "/api/v1/services/web/domains/www.example.com", nil)
	e.must(http.StatusCreated, "POST", "/api/v1/services/api/domains", map[string]string{"name": "www.example.com"}).decode(t, &got)
	if got.Status != spec.DomainPending || got.VerifyToken == d.VerifyToken {
		t.Errorf("re-added domain = %+v", got)
	}
}

func TestVerifyDomainClientGone(t *testing.T) {
	// A verifier that outlives the request does not turn into a 422 the
	// client will never read, nor into a verification.
	e := newTestEnv(t, Config{DomainVerifier: blockingVerifier{}})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web", "domains": []string{"www.example.com"}})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", e.ts.URL+"/api/v1/services/web/domains/www.example.com/verify", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if res, err := e.ts.Client().Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("status %d, want the request to time out", res.StatusCode)
	}
	ds, err := e.st.ListDomains(t.Context(), "web")
	if err != nil || len(ds) != 1 || ds[0].Status != spec.DomainPending {
		t.Errorf("domains = %+v, %v", ds, err)
	}
}

type blockingVerifier struct{}

func (blockingVerifier) Verify(ctx context.Context, _ spec.Domain) error {
	<-ctx.Done()
	return ctx.Err()
}
