package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apprun/apprun/spec"
)

// deployEnv is a server with a fake deployer and a service named web.
func deployEnv(t *testing.T, cfg Config) (*testEnv, *fakeDeployer) {
	t.Helper()
	fd := &fakeDeployer{}
	cfg.Deployer = fd
	e := newTestEnv(t, cfg)
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web"})
	return e, fd
}

// upload posts an archive with a content type, as the CLI does.
func (e *testEnv) upload(path, contentType string, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.ts.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return e.send(req)
}

func TestDeployStreamsLogThenDeployment(t *testing.T) {
	e, fd := deployEnv(t, Config{})
	for _, ct := range []string{"application/gzip", "application/x-tar", ""} {
		res := e.upload("/api/v1/services/web/deployments", ct, strings.NewReader("archive-bytes"))
		if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("%q: status %d, content type %q: %s", ct, res.status, res.header.Get("Content-Type"), res.body)
		}
		logs, last := readDeployEvents(t, string(res.body))
		want := []string{"-----> Receiving source", "-----> Building", "step one", "partial line", "no newline at the end"}
		if strings.Join(logs, "|") != strings.Join(want, "|") {
			t.Errorf("log lines %q, want %q", logs, want)
		}
		if last.Error != nil || last.Deployment == nil || last.Deployment.ID != "dep_fake" || last.Deployment.State != spec.StateSucceeded {
			t.Fatalf("last event %+v, want the succeeded deployment", last)
		}
		if got := fd.got(); got.service != "web" || string(got.archive) != "archive-bytes" {
			t.Errorf("deployer got %q / %q", got.service, got.archive)
		}
	}
}

func TestDeployFailureEndsWithErrorAndDeployment(t *testing.T) {
	e, fd := deployEnv(t, Config{})
	fd.set(func(f *fakeDeployer) { f.fail = errors.New("health check failed") })
	res := e.do("POST", "/api/v1/services/web/deployments", []byte("x"))
	_, last := readDeployEvents(t, string(res.body))
	if last.Error == nil || last.Error.Code != "deploy_failed" || !strings.Contains(last.Error.Message, "health check failed") {
		t.Fatalf("last event error %+v, want deploy_failed", last.Error)
	}
	if last.Deployment == nil || last.Deployment.State != spec.StateFailed || last.Deployment.Reason == "" {
		t.Fatalf("last event deployment %+v, want the failed deployment with its reason", last.Deployment)
	}

	// A failure before anything was recorded has no deployment to show.
	fd.set(func(f *fakeDeployer) { f.unrecorded = true })
	res = e.do("POST", "/api/v1/services/web/deployments", []byte("x"))
	if _, last = readDeployEvents(t, string(res.body)); last.Error == nil || last.Deployment != nil {
		t.Fatalf("last event %+v, want an error without a deployment", last)
	}
	// Validation problems keep their code and field.
	fd.set(func(f *fakeDeployer) { f.fail = spec.Problems{{Field: "run.network.port", Message: "must be 1-65535"}} })
	res = e.do("POST", "/api/v1/services/web/deployments", []byte("x"))
	if _, last = readDeployEvents(t, string(res.body)); last.Error == nil || last.Error.Code != codeInvalid || last.Error.Field != "run.network.port" {
		t.Fatalf("last event %+v, want invalid naming run.network.port", last)
	}
}

func TestDeployArchiveLimit(t *testing.T) {
	e, _ := deployEnv(t, Config{ArchiveLimit: 16})
	// Declared too long: refused before streaming.
	if res := e.do("POST", "/api/v1/services/web/deployments", bytes.Repeat([]byte("x"), 17)); res.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413: %s", res.status, res.body)
	}
	// Chunked, found too long while reading: the stream ends with too_large.
	res := e.upload("/api/v1/services/web/deployments", "application/gzip", io.MultiReader(bytes.NewReader(bytes.Repeat([]byte("x"), 64))))
	if _, last := readDeployEvents(t, string(res.body)); last.Error == nil || last.Error.Code != codeTooLarge {
		t.Fatalf("last event %+v, want too_large", last)
	}
	// The JSON routes keep the small body limit, not the archive's.
	if res := e.do("PUT", "/api/v1/services/web/formation", `{"web":1}`); res.status != http.StatusOK {
		t.Fatalf("formation under the JSON limit: %d %s", res.status, res.body)
	}
	// An empty chunked body is refused like an empty one.
	if res := e.upload("/api/v1/services/web/deployments", "application/gzip", io.MultiReader()); res.status != http.StatusBadRequest {
		t.Fatalf("empty chunked body: %d %s", res.status, res.body)
	}
}

func TestRollback(t *testing.T) {
	e, fd := deployEnv(t, Config{})
	// One revision: nothing earlier to go back to, said before streaming.
	_, first := seedDeployment(t, e, "web")
	res := e.do("POST", "/api/v1/services/web/rollback", `{}`)
	if res.status != http.StatusConflict || res.errBody(t).Field != "revision" {
		t.Fatalf("one revision: %d %s", res.status, res.body)
	}
	seedDeployment(t, e, "web")

	for _, body := range []string{`{}`, `{"revision":""}`} {
		res = e.must(http.StatusOK, "POST", "/api/v1/services/web/rollback", body)
		logs, last := readDeployEvents(t, string(res.body))
		if len(logs) != 1 || last.Deployment == nil || last.Deployment.Source.Kind != "revision" {
			t.Fatalf("%s: logs %q, last %+v", body, logs, last)
		}
		if got := fd.got(); got.revision != "" {
			t.Errorf("%s: deployer got revision %q, want the default", body, got.revision)
		}
	}
	e.must(http.StatusOK, "POST", "/api/v1/services/web/rollback", map[string]string{"revision": first.ID})
	if got := fd.got(); got.revision != first.ID || got.service != "web" {
		t.Errorf("deployer got %q/%q, want web/%s", got.service, got.revision, first.ID)
	}

	fd.set(func(f *fakeDeployer) { f.fail = errors.New("the revision's image is gone") })
	res = e.must(http.StatusOK, "POST", "/api/v1/services/web/rollback", map[string]string{"revision": first.ID})
	if _, last := readDeployEvents(t, string(res.body)); last.Error == nil || last.Deployment == nil {
		t.Fatalf("failed rollback: %+v", last)
	}
}

func TestDeleteUndeploys(t *testing.T) {
	e, fd := deployEnv(t, Config{})
	e.must(http.StatusNoContent, "DELETE", "/api/v1/services/web", nil)
	if got := fd.got().undeployed; len(got) != 1 || got[0] != "web" {
		t.Fatalf("undeployed %v", got)
	}
	// An Undeploy failure is logged, not answered: the service is gone.
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "api"})
	fd.set(func(f *fakeDeployer) { f.undeployErr = errors.New("engine unreachable") })
	e.must(http.StatusNoContent, "DELETE", "/api/v1/services/api", nil)
	if !strings.Contains(e.logs.String(), "engine unreachable") {
		t.Error("the Undeploy failure was not logged")
	}
	e.must(http.StatusNotFound, "GET", "/api/v1/services/api", nil)
	// A missing service is a 404 and no Undeploy.
	e.must(http.StatusNotFound, "DELETE", "/api/v1/services/api", nil)
	if got := fd.got().undeployed; len(got) != 2 {
		t.Fatalf("undeployed %v", got)
	}
}

// deployRoutes are the routes that need a deployer, with a body each would
// accept.
var deployRoutes = []struct {
	method, path string
	body         any
}{
	{"POST", "/deployments", []byte("archive")},
	{"POST", "/rollback", `{}`},
	{"PUT", "/formation", `{"web":1}`},
	{"GET", "/logs", nil},
	{"GET", "/instances", nil},
}

func TestDeployRoutesWithoutDeployer(t *testing.T) {
	e := newTestEnv(t, Config{})
	e.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web"})
	for _, r := range deployRoutes {
		res := e.do(r.method, "/api/v1/services/web"+r.path, r.body)
		if res.status != http.StatusServiceUnavailable || res.errBody(t).Code != codeUnavailable {
			t.Errorf("%s %s: %d %s, want 503", r.method, r.path, res.status, res.body)
		}
	}
	// DELETE still works without one.
	e.must(http.StatusNoContent, "DELETE", "/api/v1/services/web", nil)
}

func TestDeployRoutesUnknownService(t *testing.T) {
	e, fd := deployEnv(t, Config{})
	for _, r := range deployRoutes {
		for _, name := range []string{"nope", "Bad_Name"} {
			res := e.do(r.method, "/api/v1/services/"+name+r.path, r.body)
			if res.status != http.StatusNotFound || !strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s on %s: %d %s, want a JSON 404", r.method, r.path, name, res.status, res.body)
			}
		}
	}
	if got := fd.got(); got.service != "" {
		t.Errorf("the deployer was called for %q", got.service)
	}
}
