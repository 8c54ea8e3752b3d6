package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/internal/testapp"
	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
)

// apprun is SIGKILLed at every failpoint of the deployment state machine
// (deployer.Failpoints) and started again: it converges within 60 s to one
// deployment outcome, the serving revision's instances and nothing else,
// with the store intact. APPRUN_FAILPOINT_ITERATIONS (default 1) repeats
// each failpoint.
func TestKilledAtEveryFailpointConverges(t *testing.T) {
	image := testapp.ImageForTest(t)
	iterations := 1
	if s := os.Getenv("APPRUN_FAILPOINT_ITERATIONS"); s != "" {
		iterations, _ = strconv.Atoi(s)
	}
	dataDir := t.TempDir()
	// Two revisions of the test app, recorded before the server starts,
	// so a deploy is a rollout without a build. The build failpoints are
	// reached with a small static site the builder builds.
	svc, revs, token := seedTestApp(t, dataDir, "web", image, "one", "two")
	network := "apprun-fp-" + strings.ToLower(randomSuffix(t))
	env := []string{"APPRUN_DEPLOY_NETWORK=" + network, "APPRUN_DEPLOY_STOP_GRACE=2s", "APPRUN_DEPLOY_DRAIN_TIMEOUT=5s", "APPRUN_DEPLOY_START_TIMEOUT=20s"}
	t.Cleanup(func() { removeInstallation(t, dataDir, network, svc.ID) })

	srv := startServer(t, dataDir, env...)
	if _, err := deployRevision(srv, token, revs[0].ID); err != nil {
		t.Fatalf("first deploy: %v", err)
	}
	current := revs[0]
	n := 0
	for it := range iterations {
		for _, fp := range deployer.Failpoints {
			n++
			target := revs[n%2]
			if target.ID == current.ID {
				target = revs[(n+1)%2]
			}
			srv.stop(t)
			srv = startServer(t, dataDir, append(env, deployer.FailpointEnv+"="+fp)...)
			// A deploy through the build path reaches the build failpoints
			// (the builder is not ready, so it fails after them).
			build := fp == "deploy-building" || fp == "deploy-built"
			if build {
				_, _ = deployArchive(t, srv, token)
			} else {
				_, _ = deployRevision(srv, token, target.ID)
			}
			select {
			case <-srv.done:
			case <-time.After(10 * time.Second):
				if fp == "deploy-built" {
					// The build failed before the failpoint: this engine
					// has no builder images (`apprun builder bootstrap`).
					t.Logf("%s: not reached: the build failed (no builder images?)", fp)
					continue
				}
				t.Fatalf("%s: apprun was not killed at the failpoint", fp)
			}
			start := time.Now()
			srv = startServer(t, dataDir, env...)
			want := convergeAfterKill(t, srv, token, dataDir, fp)
			if want != "" {
				for _, r := range revs {
					if r.ID == want {
						current = r
					}
				}
			}
			t.Logf("iteration %d, %s: converged in %s on revision #%d", it+1, fp, time.Since(start).Round(time.Millisecond), current.Number)
		}
	}
}

// convergeAfterKill waits until no deployment is unfinished, exactly one
// running instance of the serving revision exists and answers through the
// router, and nothing else of the installation runs; it returns the
// serving revision.
func convergeAfterKill(t *testing.T, srv *server, token, dataDir, fp string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		deps, err := apiGet[struct{ Deployments []spec.Deployment }](srv, token, "/api/v1/services/web/deployments")
		if err != nil {
			last = err.Error()
			time.Sleep(200 * time.Millisecond)
			continue
		}
		serving := ""
		unfinished := false
		for _, d := range deps.Deployments {
			if !d.State.Final() {
				unfinished = true
			}
			if serving == "" && d.State == spec.StateSucceeded {
				serving = d.RevisionID
			}
		}
		insts, err := apiGet[struct {
			Instances []struct{ RevisionID, State string }
		}](srv, token, "/api/v1/services/web/instances")
		if err != nil {
			last = err.Error()
			time.Sleep(200 * time.Millisecond)
			continue
		}
		ok := !unfinished && len(insts.Instances) == 1 && insts.Instances[0].RevisionID == serving && insts.Instances[0].State == "running"
		if ok {
			code, body := routerGet(srv, "web")
			if code == 200 && strings.HasPrefix(body, "hello from testapp") {
				if orphans := countOrphans(t, dataDir, serving); orphans == 0 {
					return serving
				} else {
					last = fmt.Sprintf("%d orphan containers", orphans)
				}
			} else {
				last = fmt.Sprintf("router answered %d %q", code, body)
			}
		} else {
			last = fmt.Sprintf("unfinished=%v instances=%+v serving=%s", unfinished, insts.Instances, serving)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("killed at %s: not converged within 60 s: %s", fp, last)
	return ""
}

func deployRevision(srv *server, token, revision string) (string, error) {
	body := strings.NewReader(`{"revision":"` + revision + `"}`)
	return apiStream(srv, token, "/api/v1/services/web/rollback", "application/json", body)
}

func deployArchive(t *testing.T, srv *server, token string) (string, error) {
	// A minimal static site: enough to reach the build and pass it.
	dir := t.TempDir()
	writeFile(t, dir+"/index.html", "hello from testapp static\n")
	body, err := packDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return apiStream(srv, token, "/api/v1/services/web/deployments", "application/gzip", bytes.NewReader(body))
}

func apiStream(srv *server, token, path, ctype string, body io.Reader) (string, error) {
	req, _ := http.NewRequest("POST", srv.api+path, body)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ctype)
	c := &http.Client{Timeout: 2 * time.Minute}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Contains(string(b), `"error"`) {
		return string(b), fmt.Errorf("%s: %d %s", path, resp.StatusCode, b)
	}
	return string(b), err
}

func apiGet[T any](srv *server, token, path string) (T, error) {
	var v T
	req, _ := http.NewRequest("GET", srv.api+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return v, fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

func routerGet(srv *server, service string) (int, string) {
	req, _ := http.NewRequest("GET", srv.router+"/", nil)
	req.Host = service + ".localhost"
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// installationContainers lists the containers of the data dir's
// installation with the docker CLI: ID and revision label.
func installationContainers(t *testing.T, dataDir string) [][2]string {
	t.Helper()
	id, err := os.ReadFile(dataDir + "/installation-id")
	if err != nil {
		return nil
	}
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label="+deployer.LabelInstallation+"="+strings.TrimSpace(string(id)),
		"--format", `{{.ID}} {{.Label "`+deployer.LabelRevision+`"}}`).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	var rows [][2]string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) == 2 {
			rows = append(rows, [2]string{f[0], f[1]})
		}
	}
	return rows
}

func countOrphans(t *testing.T, dataDir, serving string) int {
	n := 0
	for _, c := range installationContainers(t, dataDir) {
		if c[1] != serving {
			n++
		}
	}
	return n
}

func removeInstallation(t *testing.T, dataDir, network, serviceID string) {
	for _, c := range installationContainers(t, dataDir) {
		_ = exec.Command("docker", "rm", "-f", c[0]).Run()
	}
	_ = exec.Command("docker", "network", "rm", network).Run()
	// The images and caches the build failpoints made.
	removeByServiceID(serviceID)
}

// seedTestApp records, before a server starts on dataDir, a service with
// one revision of the test app per version (its "/" names the version)
// and an API token, so a test deploys without a build.
func seedTestApp(t *testing.T, dataDir, name, image string, versions ...string) (spec.Service, []spec.Revision, string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{DataDir: dataDir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := st.CreateService(ctx, spec.NewService(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	var revs []spec.Revision
	for _, v := range versions {
		snap := svc
		snap.Env = map[string]string{"TESTAPP_VERSION": v}
		rev, err := st.CreateRevision(ctx, spec.Revision{ServiceID: svc.ID, Image: image, Kind: "dockerfile", Service: snap})
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	token, _, err := st.CreateToken(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	return svc, revs, token
}
