package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/apprun/apprun/spec"
)

// fakeHooks verifies GitHub-style signatures with the standard library
// (the real verifier, source/webhook, is wired and tested through this
// route in cmd/apprun) and records deployments in the store as the
// deployer would.
type fakeHooks struct {
	st interface {
		CreateDeployment(ctx context.Context, service string, src spec.DeploymentSource) (spec.Deployment, error)
	}
	mu       sync.Mutex
	deployed []HookEvent
	// fail makes DeployCommit fail before recording.
	fail error
}

func (f *fakeHooks) Verify(provider string, h http.Header, body []byte, secret string) error {
	if secret == "" {
		return errors.New("no secret")
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	got, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
	sig, err := hex.DecodeString(got)
	if !ok || err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return errors.New("X-Hub-Signature-256 does not match the body")
	}
	return nil
}

func (f *fakeHooks) Parse(provider string, h http.Header, body []byte) (HookEvent, error) {
	var p struct{ Ref, After string }
	if err := json.Unmarshal(body, &p); err != nil {
		return HookEvent{}, errors.New("malformed webhook payload")
	}
	ev := HookEvent{Provider: provider, DeliveryID: h.Get("X-GitHub-Delivery"), EventType: h.Get("X-GitHub-Event"), Ref: p.Ref, Commit: p.After}
	ev.Branch, _ = strings.CutPrefix(p.Ref, "refs/heads/")
	if ev.Branch == p.Ref {
		ev.Branch = ""
	}
	ev.Deleted = p.After == strings.Repeat("0", 40)
	return ev, nil
}

func (f *fakeHooks) DeployCommit(ctx context.Context, svc spec.Service, ev HookEvent, recorded func(spec.Deployment)) error {
	if f.fail != nil {
		return f.fail
	}
	d, err := f.st.CreateDeployment(ctx, svc.Name, spec.DeploymentSource{Kind: "git", Ref: ev.Ref, Commit: ev.Commit})
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.deployed = append(f.deployed, ev)
	f.mu.Unlock()
	recorded(d)
	return nil
}

func (f *fakeHooks) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.deployed)
}

const hookCommit = "0123456789abcdef0123456789abcdef01234567"

// hook sends a GitHub-style delivery signed with secret.
func (e *testEnv) hook(path, secret, event, delivery, body string) response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	return e.send(req)
}

func pushJSON(ref, commit string) string {
	return `{"ref":"` + ref + `","after":"` + commit + `"}`
}

func TestWebhookDeploysOnce(t *testing.T) {
	hooks := &fakeHooks{}
	e := newTestEnv(t, Config{Hooks: hooks})
	hooks.st = e.st
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web", "source": map[string]any{"repo": "https://git.example.com/acme/web.git"}})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "api", "source": map[string]any{"repo": "https://git.example.com/acme/api.git", "autoDeploy": false}})

	// No secret yet: refused, even correctly "signed" with an empty one.
	if res := e.hook("/api/v1/hooks/github/web", "", "push", "d0", pushJSON("refs/heads/main", hookCommit)); res.status != http.StatusUnauthorized ||
		!strings.Contains(res.errBody(t).Message, "no webhook secret configured for this service") {
		t.Fatalf("no secret: %d %s", res.status, res.body)
	}

	var sec webhookSecret
	e.must(http.StatusOK, "POST", "/api/v1/services/web/webhook-secret", nil).decode(t, &sec)
	if len(sec.Secret) != 64 {
		t.Fatalf("secret %q", sec.Secret)
	}
	for _, p := range hookProviders {
		if want := e.ts.URL + "/api/v1/hooks/" + p + "/web"; sec.URLs[p] != want {
			t.Errorf("url %s = %q, want %q", p, sec.URLs[p], want)
		}
	}
	var other webhookSecret
	e.must(http.StatusOK, "POST", "/api/v1/services/api/webhook-secret", `{}`).decode(t, &other)

	path := "/api/v1/hooks/github/web"
	body := pushJSON("refs/heads/main", hookCommit)
	// Refused deliveries first: none may deploy or record the delivery.
	for _, tc := range []struct {
		name, secret, event, delivery, body string
		status                              int
	}{
		{"another service's secret", other.Secret, "push", "d1", body, 401},
		{"a secret one character short", sec.Secret[1:], "push", "d1", body, 401},
		{"malformed payload", sec.Secret, "push", "d1", `{"ref":`, 400},
		{"another branch", sec.Secret, "push", "d1", pushJSON("refs/heads/dev", hookCommit), 200},
		{"a tag", sec.Secret, "push", "d1", pushJSON("refs/tags/v1", hookCommit), 200},
		{"a deleted branch", sec.Secret, "push", "d1", pushJSON("refs/heads/main", strings.Repeat("0", 40)), 200},
		{"a ping", sec.Secret, "ping", "d1", `{"zen":"Keep it logically awesome."}`, 200},
	} {
		res := e.hook(path, tc.secret, tc.event, tc.delivery, tc.body)
		if res.status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, res.status, tc.status, res.body)
		}
	}
	if n := hooks.count(); n != 0 {
		t.Fatalf("%d deployments from refused or ignored deliveries", n)
	}
	// A bad signature changes a byte of the body the signature was made
	// over.
	req, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(strings.Replace(body, "0123", "0124", 1)))
	m := hmac.New(sha256.New, []byte(sec.Secret))
	m.Write([]byte(body))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", "d1")
	if res := e.send(req); res.status != http.StatusUnauthorized {
		t.Errorf("one byte changed: %d %s", res.status, res.body)
	}

	// The push: 202 with the recorded deployment.
	res := e.hook(path, sec.Secret, "push", "d1", body)
	if res.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", res.status, res.body)
	}
	var got hookResult
	res.decode(t, &got)
	if got.Deployment == nil || got.Deployment.ID == "" || got.Deployment.Source.Commit != hookCommit || got.Deployment.Source.Kind != "git" {
		t.Fatalf("push answer: %s", res.body)
	}
	if loc := res.header.Get("Location"); loc != "/api/v1/services/web/deployments/"+got.Deployment.ID {
		t.Errorf("Location = %q", loc)
	}
	// The same delivery again: nothing starts.
	res = e.hook(path, sec.Secret, "push", "d1", body)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), `"duplicate":true`) {
		t.Errorf("redelivery: %d %s", res.status, res.body)
	}
	if n := hooks.count(); n != 1 {
		t.Errorf("%d deployments, want 1", n)
	}
	ds, _ := e.st.ListDeployments(t.Context(), "web")
	if len(ds) != 1 {
		t.Errorf("%d deployments in the store, want 1", len(ds))
	}

	// autoDeploy off: valid, ignored.
	res = e.hook("/api/v1/hooks/github/api", other.Secret, "push", "d2", body)
	if res.status != http.StatusOK || !strings.Contains(string(res.body), "autoDeploy") {
		t.Errorf("autoDeploy off: %d %s", res.status, res.body)
	}

	// A new secret replaces the old one.
	var rotated webhookSecret
	e.must(http.StatusOK, "POST", "/api/v1/services/web/webhook-secret", nil).decode(t, &rotated)
	if rotated.Secret == sec.Secret {
		t.Fatal("the secret did not change")
	}
	if res := e.hook(path, sec.Secret, "push", "d3", body); res.status != http.StatusUnauthorized {
		t.Errorf("old secret after rotation: %d %s", res.status, res.body)
	}
	if n := hooks.count(); n != 1 {
		t.Errorf("%d deployments, want 1", n)
	}
	for _, s := range []string{sec.Secret, other.Secret, rotated.Secret} {
		if strings.Contains(e.logs.String(), s) {
			t.Error("the log contains a webhook secret")
		}
	}
}

func TestWebhookRefusals(t *testing.T) {
	hooks := &fakeHooks{fail: errors.New("the builder is down")}
	e := newTestEnv(t, Config{Hooks: hooks})
	hooks.st = e.st
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web", "source": map[string]any{"repo": "https://git.example.com/acme/web.git"}})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "norepo"})
	var sec, norepo webhookSecret
	e.must(http.StatusOK, "POST", "/api/v1/services/web/webhook-secret", nil).decode(t, &sec)
	e.must(http.StatusOK, "POST", "/api/v1/services/norepo/webhook-secret", nil).decode(t, &norepo)
	body := pushJSON("refs/heads/main", hookCommit)

	// Without source.repo there is nothing to fetch from.
	if res := e.hook("/api/v1/hooks/github/norepo", norepo.Secret, "push", "d1", body); res.status != http.StatusConflict || res.errBody(t).Field != "source.repo" {
		t.Errorf("no repo: %d %s", res.status, res.body)
	}
	// A deploy that fails before it is recorded is an error, not a 202.
	if res := e.hook("/api/v1/hooks/github/web", sec.Secret, "push", "d1", body); res.status != http.StatusInternalServerError {
		t.Errorf("failed deploy: %d %s", res.status, res.body)
	}
	// Oversized, signed: 413 before anything is verified.
	big := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", HookBodyLimit) + `"}`
	if res := e.hook("/api/v1/hooks/github/web", sec.Secret, "push", "d2", big); res.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: %d %s", res.status, res.body)
	}
	// Without Hooks the server says so, but only to a caller that got
	// past the secret check.
	e2 := newTestEnv(t, Config{})
	e2.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web"})
	if res := e2.hook("/api/v1/hooks/github/web", "", "push", "d1", body); res.status != http.StatusUnauthorized {
		t.Errorf("no hooks, no secret: %d %s", res.status, res.body)
	}
	var s2 webhookSecret
	e2.must(http.StatusOK, "POST", "/api/v1/services/web/webhook-secret", nil).decode(t, &s2)
	if res := e2.hook("/api/v1/hooks/github/web", s2.Secret, "push", "d1", body); res.status != http.StatusServiceUnavailable {
		t.Errorf("no hooks: %d %s", res.status, res.body)
	}
}
