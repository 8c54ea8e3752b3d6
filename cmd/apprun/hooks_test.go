package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/source/webhook"
	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

func TestHookBodyLimitsAgree(t *testing.T) {
	if web.HookBodyLimit != webhook.MaxBody {
		t.Fatalf("web.HookBodyLimit %d != webhook.MaxBody %d", web.HookBodyLimit, webhook.MaxBody)
	}
	// web.HookEvent converts from webhook.Event field for field.
	_ = web.HookEvent(webhook.Event{})
}

// hookEnv is the real API with the real verifier (hooksAPI) over the real
// store; deployments are recorded in the store and their source fetched
// for real, the build and rollout left out.
type hookEnv struct {
	t         *testing.T
	st        *store.SQLite
	url       string
	token     string
	dataDir   string
	mu        sync.Mutex
	fetched   []string // the commits whose trees were fetched
	fetchErrs []error
	wg        sync.WaitGroup
}

func newHookEnv(t *testing.T) *hookEnv {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	dataDir := t.TempDir()
	st, err := store.Open(context.Background(), store.Config{DataDir: dataDir}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	plain, _, err := st.CreateToken(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	e := &hookEnv{t: t, st: st, token: plain, dataDir: dataDir}
	hooks := hooksAPI{secrets: st.ServiceSecrets, dataDir: dataDir, allowPrivate: true, log: log}
	hooks.deploy = func(ctx context.Context, req deployer.DeployRequest, w io.Writer) (spec.Deployment, error) {
		e.wg.Add(1)
		defer e.wg.Done()
		d, err := st.CreateDeployment(ctx, req.Service, req.Source)
		if err != nil {
			return d, err
		}
		req.Recorded(d)
		dir, cleanup, err := req.Fetch(ctx, w)
		e.mu.Lock()
		defer e.mu.Unlock()
		if err != nil {
			e.fetchErrs = append(e.fetchErrs, err)
			return d, err
		}
		defer cleanup()
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
			e.fetchErrs = append(e.fetchErrs, err)
		}
		e.fetched = append(e.fetched, req.Source.Commit)
		return d, nil
	}
	srv, err := web.New(web.Config{Hooks: hooks}, st, log)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

func (e *hookEnv) api(method, path string, body any) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.url+path, r)
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

// deliver posts a delivery with the given headers.
func (e *hookEnv) deliver(provider, service string, h http.Header, body []byte) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/api/v1/hooks/"+provider+"/"+service, bytes.NewReader(body))
	for k, vs := range h {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data)
}

// signed is a valid push delivery for provider.
func signed(provider, delivery string, body []byte, secret string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	sig := hex.EncodeToString(mac.Sum(nil))
	switch provider {
	case "github":
		h.Set("X-GitHub-Event", "push")
		h.Set("X-GitHub-Delivery", delivery)
		h.Set("X-Hub-Signature-256", "sha256="+sig)
	case "gitlab":
		h.Set("X-Gitlab-Event", "Push Hook")
		h.Set("X-Gitlab-Event-UUID", delivery)
		h.Set("X-Gitlab-Token", secret)
	case "gitea":
		h.Set("X-Gitea-Event", "push")
		h.Set("X-Gitea-Delivery", delivery)
		h.Set("X-Gitea-Signature", sig)
	}
	return h
}

func pushPayload(provider, ref, commit string) []byte {
	v := map[string]any{"ref": ref, "before": strings.Repeat("0", 40), "after": commit,
		"repository": map[string]any{"clone_url": "https://example.com/r.git", "git_http_url": "https://example.com/r.git"}}
	if provider == "gitlab" {
		v["object_kind"] = "push"
		v["checkout_sha"] = commit
	}
	b, _ := json.Marshal(v)
	return b
}

// TestWebhookThroughTheAPI drives the route with source/webhook behind it
// for each provider: the refusals change nothing, a signed push records a
// deployment whose commit is fetched from a real repository over HTTP
// (with the service's GIT_TOKEN), and a redelivery starts nothing.
func TestWebhookThroughTheAPI(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	e := newHookEnv(t)
	repoURL, commit := gitHTTPRepo(t, "Basic "+basicAuth("x-access-token", "tok-canary-123"))
	code, body := e.api("POST", "/api/v1/services", map[string]any{"name": "web", "source": map[string]any{"repo": repoURL}, "secrets": map[string]string{"GIT_TOKEN": "tok-canary-123"}})
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := e.api("POST", "/api/v1/services", map[string]any{"name": "other"}); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var sec, other struct{ Secret string }
	_, body = e.api("POST", "/api/v1/services/web/webhook-secret", nil)
	json.Unmarshal(body, &sec)
	_, body = e.api("POST", "/api/v1/services/other/webhook-secret", nil)
	json.Unmarshal(body, &other)
	if sec.Secret == "" || other.Secret == "" {
		t.Fatal("no secrets")
	}

	n := 0
	for _, p := range webhook.Providers() {
		good := pushPayload(p, "refs/heads/main", commit)
		sigName := map[string]string{"github": "X-Hub-Signature-256", "gitlab": "X-Gitlab-Token", "gitea": "X-Gitea-Signature"}[p]
		for _, tc := range []struct {
			name   string
			h      http.Header
			body   []byte
			status int
		}{
			{"unsigned", func() http.Header { h := signed(p, "x1", good, sec.Secret); h.Del(sigName); return h }(), good, 401},
			{"empty credential", func() http.Header { h := signed(p, "x1", good, sec.Secret); h.Set(sigName, ""); return h }(), good, 401},
			{"another service's secret", signed(p, "x1", good, other.Secret), good, 401},
			{"uppercase credential", func() http.Header {
				h := signed(p, "x1", good, sec.Secret)
				h.Set(sigName, strings.ToUpper(h.Get(sigName)))
				return h
			}(), good, 401},
			{"body re-serialised", signed(p, "x1", good, sec.Secret), append(append([]byte{}, good...), ' '), map[string]int{"gitlab": 202}[p]},
			{"wrong event", func() http.Header {
				h := signed(p, "x1", good, sec.Secret)
				h.Set(map[string]string{"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event", "gitea": "X-Gitea-Event"}[p], "issues")
				return h
			}(), good, 400},
			{"malformed JSON", signed(p, "x1", []byte(`{"ref":`), sec.Secret), []byte(`{"ref":`), 400},
			{"commit not 40 hex", signed(p, "x1", pushPayload(p, "refs/heads/main", commit[:39]), sec.Secret), pushPayload(p, "refs/heads/main", commit[:39]), 400},
			{"NUL in ref", signed(p, "x1", pushPayload(p, "refs/heads/ma\x00in", commit), sec.Secret), pushPayload(p, "refs/heads/ma\x00in", commit), 400},
			{"another branch", signed(p, "x1", pushPayload(p, "refs/heads/dev", commit), sec.Secret), pushPayload(p, "refs/heads/dev", commit), 200},
			{"a tag", signed(p, "x1", pushPayload(p, "refs/tags/v1", commit), sec.Secret), pushPayload(p, "refs/tags/v1", commit), 200},
		} {
			if tc.status == 0 {
				tc.status = 401
			}
			if p == "gitlab" && tc.name == "body re-serialised" {
				// GitLab signs nothing but sends the secret: a changed
				// body with the right token is GitLab's own delivery.
				continue
			}
			n++
			code, body := e.deliver(p, "web", tc.h, tc.body)
			if code != tc.status {
				t.Errorf("%s %s: %d, want %d: %s", p, tc.name, code, tc.status, body)
			}
		}
	}
	if ds, _ := e.st.ListDeployments(t.Context(), "web"); len(ds) != 0 {
		t.Fatalf("%d refused deliveries (of %d) made deployments", len(ds), n)
	}

	// A signed push per provider: each deploys, each exactly once.
	for i, p := range webhook.Providers() {
		delivery := "delivery-" + p
		good := pushPayload(p, "refs/heads/main", commit)
		code, body := e.deliver(p, "web", signed(p, delivery, good, sec.Secret), good)
		if code != http.StatusAccepted || !strings.Contains(body, commit) {
			t.Fatalf("%s push: %d %s", p, code, body)
		}
		code, body = e.deliver(p, "web", signed(p, delivery, good, sec.Secret), good)
		if code != http.StatusOK || !strings.Contains(body, `"duplicate":true`) {
			t.Errorf("%s redelivery: %d %s", p, code, body)
		}
		if ds, _ := e.st.ListDeployments(t.Context(), "web"); len(ds) != i+1 {
			t.Errorf("after %s: %d deployments, want %d", p, len(ds), i+1)
		}
	}
	e.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.fetchErrs) > 0 || len(e.fetched) != 3 {
		t.Fatalf("fetched %v, errors %v", e.fetched, e.fetchErrs)
	}
	for _, c := range e.fetched {
		if c != commit {
			t.Errorf("fetched %s, want %s", c, commit)
		}
	}
	// The checkouts are cleaned up.
	if ents, _ := os.ReadDir(filepath.Join(e.dataDir, "checkouts")); len(ents) != 0 {
		t.Errorf("checkouts left: %v", ents)
	}
}

// TestHookDeployFailsBeforeRecording: a deploy refused before it is
// recorded (no builder, an unknown service) is an error, and DeployCommit
// does not wait for a Recorded that never comes.
func TestHookDeployFailsBeforeRecording(t *testing.T) {
	h := hooksAPI{log: slog.New(slog.NewTextHandler(io.Discard, nil)), deploy: func(ctx context.Context, req deployer.DeployRequest, w io.Writer) (spec.Deployment, error) {
		return spec.Deployment{}, errStub
	}}
	called := false
	done := make(chan error, 1)
	go func() {
		done <- h.DeployCommit(t.Context(), spec.Service{Name: "web"}, web.HookEvent{Commit: strings.Repeat("a", 40)}, func(spec.Deployment) { called = true })
	}()
	select {
	case err := <-done:
		if err != errStub || called {
			t.Fatalf("err %v, recorded %v", err, called)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("DeployCommit did not return")
	}
}

var errStub = io.ErrUnexpectedEOF

func TestHooksSetupCommand(t *testing.T) {
	url, token := apiServer(t)
	env := map[string]string{"APPRUN_SERVER": url, "APPRUN_TOKEN": token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}
	if code, out, errs := cli(t, env, "", "services", "create", "web"); code != 0 {
		t.Fatalf("create: %d %s%s", code, out, errs)
	}
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		g := &globals{io: &stdio{in: strings.NewReader(""), out: &out, err: &errb}, getenv: func(k string) string { return env[k] }}
		root := &cobra.Command{Use: "apprun", SilenceErrors: true, SilenceUsage: true}
		root.PersistentFlags().BoolVar(&g.json, "json", false, "")
		root.AddCommand(newHooksCmd(g))
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(&errb)
		err := root.ExecuteContext(t.Context())
		return out.String(), err
	}
	out, err := run("hooks", "setup", "web")
	if err != nil {
		t.Fatalf("hooks setup: %v", err)
	}
	for _, want := range []string{"-----> Webhook secret for web", url + "/api/v1/hooks/github/web", url + "/api/v1/hooks/gitlab/web", url + "/api/v1/hooks/gitea/web"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	out, err = run("hooks", "setup", "web", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Secret string
		URLs   map[string]string
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Secret) != 64 || len(resp.URLs) != 3 {
		t.Errorf("--json: %v %s", err, out)
	}
	if _, err := run("hooks", "setup", "nope"); err == nil || exitCode(err) != exitNotFound {
		t.Errorf("missing service: %v", err)
	}
}

func basicAuth(user, pass string) string {
	return base64Std(user + ":" + pass)
}

// gitHTTPRepo commits examples/go to a fresh repository, serves it over
// smart HTTP with the real git http-backend on loopback (requiring auth
// as the Authorization header when it is not ""), and returns its URL and
// the commit.
func gitHTTPRepo(t *testing.T, auth string) (string, string) {
	t.Helper()
	root := t.TempDir()
	work := filepath.Join(t.TempDir(), "work")
	copyDir(t, filepath.Join("..", "..", "examples", "go"), work)
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(work, "init", "-q", "-b", "main")
	git(work, "add", "-A")
	git(work, "commit", "-q", "-m", "the go example")
	commit := git(work, "rev-parse", "HEAD")
	git(root, "clone", "-q", "--bare", work, filepath.Join(root, "app.git"))
	execPath := git(root, "--exec-path")
	h := &cgi.Handler{
		Path:   filepath.Join(execPath, "git-http-backend"),
		Env:    []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
		Stderr: io.Discard,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if auth != "" && r.Header.Get("Authorization") != auth {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/app.git", commit
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestPollerDeploysNewHead: a service with source.poll is polled at once,
// its branch head fetched and deployed, and not again while it stays.
func TestPollerDeploysNewHead(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	e := newHookEnv(t)
	repoURL, commit := gitHTTPRepo(t, "")
	if code, body := e.api("POST", "/api/v1/services", map[string]any{"name": "polled", "source": map[string]any{"repo": repoURL, "poll": "30s"}}); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	h := hooksAPI{secrets: e.st.ServiceSecrets, dataDir: e.dataDir, allowPrivate: true, log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	h.deploy = func(ctx context.Context, req deployer.DeployRequest, w io.Writer) (spec.Deployment, error) {
		d, err := e.st.CreateDeployment(ctx, req.Service, req.Source)
		if err != nil {
			return d, err
		}
		req.Recorded(d)
		dir, cleanup, err := req.Fetch(ctx, w)
		if err == nil {
			cleanup()
			_ = dir
		}
		return d, err
	}
	p := newPoller(h, e.st, slog.New(slog.NewTextHandler(t.Output(), nil)))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	waitFor(t, 20*time.Second, "a polled deployment", func() bool {
		ds, _ := e.st.ListDeployments(t.Context(), "polled")
		return len(ds) == 1
	})
	time.Sleep(6 * time.Second) // a tick or so: nothing more, the head is deployed
	cancel()
	<-done
	ds, _ := e.st.ListDeployments(t.Context(), "polled")
	if len(ds) != 1 || ds[0].Source.Commit != commit || ds[0].Source.Ref != "refs/heads/main" {
		t.Fatalf("deployments %+v", ds)
	}
}

func TestAllowPrivateFetchSetting(t *testing.T) {
	for v, want := range map[string]bool{"": false, "true": true, "1": true, "false": false} {
		c, err := loadServerConfig("", func(k string) string {
			if k == "APPRUN_GIT_ALLOW_PRIVATE_FETCH" {
				return v
			}
			return ""
		})
		if err != nil || c.Git.AllowPrivateFetch != want {
			t.Errorf("%q: %v %v", v, c.Git.AllowPrivateFetch, err)
		}
	}
	if _, err := loadServerConfig("", func(k string) string {
		if k == "APPRUN_GIT_ALLOW_PRIVATE_FETCH" {
			return "sometimes"
		}
		return ""
	}); err == nil {
		t.Error("a bad value is accepted")
	}
	path := filepath.Join(t.TempDir(), "apprun.yaml")
	if err := os.WriteFile(path, []byte("git:\n  allowPrivateFetch: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := loadServerConfig(path, func(string) string { return "" }); err != nil || !c.Git.AllowPrivateFetch {
		t.Errorf("from the file: %v %v", c.Git.AllowPrivateFetch, err)
	}
}
