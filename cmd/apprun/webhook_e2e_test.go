package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A GitHub-style signed push for a repository served over HTTP on
// loopback (by the real git http-backend) deploys exactly the pushed
// commit on a real `apprun serve` with the real builder; the same
// delivery again starts nothing, and a bad signature is refused.
func TestWebhookDeploysPushedCommit(t *testing.T) {
	_, b := buildServer(t) // skips without the engine and the builder images
	b.Close()
	dataDir := t.TempDir()
	network := "apprun-e2e-" + strings.ToLower(randomSuffix(t))
	var svc struct{ ID string }
	// Registered before the server starts, so it runs after the server
	// stopped: a running reconciler would start the instance again.
	t.Cleanup(func() { removeInstallation(t, dataDir, network, svc.ID) })
	srv := startServer(t, dataDir, "APPRUN_DEPLOY_NETWORK="+network, "APPRUN_DEPLOY_START_TIMEOUT=30s", "APPRUN_DEPLOY_STOP_GRACE=2s",
		"APPRUN_GIT_ALLOW_PRIVATE_FETCH=true", "APPRUN_GIT_SSH_ADDR=127.0.0.1:0")
	repoURL, commit := gitHTTPRepo(t, "Basic "+basicAuth("x-access-token", "git-token-e2e"))

	apiJSON(t, srv, "POST", "/api/v1/services", map[string]any{
		"name": "hooked", "source": map[string]any{"repo": repoURL, "branch": "main"},
		"secrets": map[string]string{"GIT_TOKEN": "git-token-e2e"},
	}, http.StatusCreated, &svc)
	var sec struct {
		Secret string
		URLs   map[string]string
	}
	apiJSON(t, srv, "POST", "/api/v1/services/hooked/webhook-secret", nil, http.StatusOK, &sec)
	hookURL := sec.URLs["github"]
	if hookURL != srv.api+"/api/v1/hooks/github/hooked" {
		t.Fatalf("webhook URL %q", hookURL)
	}

	payload := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","before":"%s","after":"%s","deleted":false,`+
		`"repository":{"full_name":"local/app","clone_url":%q},"head_commit":{"id":"%s","message":"the go example"}}`,
		strings.Repeat("0", 40), commit, repoURL, commit))
	send := func(h http.Header) (int, []byte) {
		req, _ := http.NewRequest("POST", hookURL, bytes.NewReader(payload))
		req.Header = h
		res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res.StatusCode, data
	}
	deployments := func() int {
		ds, err := apiGet[struct{ Deployments []json.RawMessage }](srv, srv.token, "/api/v1/services/hooked/deployments")
		if err != nil {
			t.Fatal(err)
		}
		return len(ds.Deployments)
	}

	// A bad signature: 401, nothing recorded.
	bad := signed("github", "e2e-delivery-1", payload, "not-the-secret")
	if code, body := send(bad); code != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", code, body)
	}
	if n := deployments(); n != 0 {
		t.Fatalf("a bad signature recorded %d deployments", n)
	}

	// The push: 202 once the deployment is recorded.
	start := time.Now()
	code, body := send(signed("github", "e2e-delivery-1", payload, sec.Secret))
	if code != http.StatusAccepted {
		t.Fatalf("push: %d %s", code, body)
	}
	var got struct {
		Deployment struct {
			ID, State string
			Source    struct{ Kind, Ref, Commit string }
		}
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Deployment.ID == "" {
		t.Fatalf("push answer: %v %s", err, body)
	}
	if s := got.Deployment.Source; s.Commit != commit || s.Kind != "git" || s.Ref != "refs/heads/main" {
		t.Fatalf("deployment source %+v, want commit %s", s, commit)
	}

	// The same delivery again: nothing new.
	if code, body := send(signed("github", "e2e-delivery-1", payload, sec.Secret)); code != http.StatusOK || !strings.Contains(string(body), `"duplicate":true`) {
		t.Errorf("redelivery: %d %s", code, body)
	}

	// The deployment succeeds with that commit, and the app answers.
	type deployment struct {
		State, Reason string
		Source        struct{ Commit string }
	}
	var d deployment
	waitFor(t, 5*time.Minute, "the webhook deployment to finish", func() bool {
		var err error
		d, err = apiGet[deployment](srv, srv.token, "/api/v1/services/hooked/deployments/"+got.Deployment.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d.State == "succeeded" || d.State == "failed"
	})
	if d.State != "succeeded" || d.Source.Commit != commit {
		t.Fatalf("deployment %s: %s %q, commit %s", got.Deployment.ID, d.State, d.Reason, d.Source.Commit)
	}
	t.Logf("webhook → serving in %s", time.Since(start).Round(time.Millisecond))
	if code, body := routerGet(srv, "hooked"); code != 200 || !strings.Contains(body, "hello from go") {
		t.Errorf("through the router: %d %q", code, body)
	}
	if n := deployments(); n != 1 {
		t.Errorf("%d deployments, want 1", n)
	}
	if strings.Contains(srv.stdout.String(), "git-token-e2e") || strings.Contains(srv.stdout.String(), sec.Secret) {
		t.Error("the server's output has the git token or the webhook secret")
	}
}

// apiJSON sends a JSON request with the server's token and decodes the
// answer, failing unless the status is want.
func apiJSON(t *testing.T, srv *server, method, path string, body any, want int, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, srv.api+path, r)
	req.Header.Set("Authorization", "Bearer "+srv.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}
