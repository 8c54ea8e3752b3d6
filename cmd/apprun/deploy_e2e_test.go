package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// What a newcomer does: `apprun deploy examples/go` against a real server
// with the real builder, then curl the URL it printed. Then a deploy that
// fails (the app exits at once): the CLI exits non-zero with the reason and
// the first revision keeps serving.
func TestDeployExampleAndCurlIt(t *testing.T) {
	_, b := buildServer(t) // skips without the engine and the builder images
	b.Close()
	dataDir := t.TempDir()
	network := "apprun-e2e-" + strings.ToLower(randomSuffix(t))
	// Registered before the server starts, so it runs after the server
	// stopped: a running reconciler would start the instances again.
	t.Cleanup(func() { removeInstallation(t, dataDir, network, "") })
	srv := startServer(t, dataDir, "APPRUN_DEPLOY_NETWORK="+network, "APPRUN_DEPLOY_START_TIMEOUT=15s", "APPRUN_DEPLOY_STOP_GRACE=2s")
	env := map[string]string{"APPRUN_SERVER": srv.api, "APPRUN_TOKEN": srv.token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}
	src := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "examples", "go"), filepath.Join(src, "hello"))

	code, out, errs := cli(t, env, "", "deploy", filepath.Join(src, "hello"))
	if code != 0 {
		t.Fatalf("apprun deploy: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	all := out + errs
	for _, want := range []string{"-----> Creating service hello", "-----> Building", "-----> Starting revision #1", "-----> Done in"} {
		if !strings.Contains(all, want) {
			t.Errorf("the deploy output lacks %q:\n%s", want, all)
		}
	}
	m := regexp.MustCompile(`http://hello\.localhost:\d+`).FindString(all)
	if m == "" {
		t.Fatalf("no URL in the output:\n%s", all)
	}
	body := curl(t, m)
	if !strings.Contains(body, "hello from go") {
		t.Fatalf("curl %s: %q", m, body)
	}
	t.Cleanup(func() { removeServiceImages(t, srv, "hello") })

	code, out, errs = cli(t, env, "", "ps", "hello")
	if code != 0 || !strings.Contains(out, "running") {
		t.Errorf("apprun ps: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = cli(t, env, "", "logs", "hello")
	if code != 0 || !strings.Contains(out, "web/") {
		t.Errorf("apprun logs: exit %d\n%s", code, out)
	}

	// A revision that exits at once: the deploy fails, exit non-zero, and
	// the URL still answers from revision #1.
	bad := filepath.Join(src, "bad")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(bad, "Dockerfile"), "FROM apprun/run:bookworm\nUSER 1000:1000\nCMD [\"/bin/false\"]\n")
	code, out, errs = cli(t, env, "", "deploy", bad, "--service", "hello")
	if code == 0 {
		t.Fatalf("a crashing deploy exited 0:\n%s%s", out, errs)
	}
	if !strings.Contains(out+errs, "exited with code 1") {
		t.Errorf("the failure does not say why:\n%s%s", out, errs)
	}
	if body := curl(t, m); !strings.Contains(body, "hello from go") {
		t.Errorf("after the failed deploy: %q", body)
	}
}

// curl fetches a *.localhost URL as curl would, resolving the name to
// loopback.
func curl(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+u.Port())
		},
	}}
	resp, err := c.Get(raw)
	if err != nil {
		t.Fatalf("GET %s: %v", raw, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", raw, resp.StatusCode, b)
	}
	return string(b)
}

// removeServiceImages removes the images the service's builds made.
func removeServiceImages(t *testing.T, srv *server, name string) {
	svc, err := apiGet[struct{ ID string }](srv, srv.token, "/api/v1/services/"+name)
	if err != nil || svc.ID == "" {
		return
	}
	removeByServiceID(svc.ID)
}

// removeByServiceID removes the images and build cache volumes of a
// service's builds.
func removeByServiceID(id string) {
	if id == "" {
		return
	}
	out, _ := exec.Command("docker", "images", "-q", "--filter", "reference=apprun/app-"+id).Output()
	for _, img := range strings.Fields(string(out)) {
		_ = exec.Command("docker", "rmi", "-f", img).Run()
	}
	out, _ = exec.Command("docker", "volume", "ls", "-q", "--filter", "name=apprun_app-"+id+"-").Output()
	for _, v := range strings.Fields(string(out)) {
		_ = exec.Command("docker", "volume", "rm", "-f", v).Run()
	}
}

// copyDir copies a small source tree.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "-r", "--", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// Process types from a Procfile: web is routed, worker runs beside it
// without routes, and `apprun scale` sets each count.
func TestDeployProcfileWorkerAndScale(t *testing.T) {
	_, b := buildServer(t)
	b.Close()
	dataDir := t.TempDir()
	network := "apprun-e2e-" + strings.ToLower(randomSuffix(t))
	t.Cleanup(func() { removeInstallation(t, dataDir, network, "") }) // after the server stops
	srv := startServer(t, dataDir, "APPRUN_DEPLOY_NETWORK="+network, "APPRUN_DEPLOY_STOP_GRACE=2s")
	env := map[string]string{"APPRUN_SERVER": srv.api, "APPRUN_TOKEN": srv.token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}
	src := filepath.Join(t.TempDir(), "procs")
	copyDir(t, filepath.Join("..", "..", "examples", "procfile"), src)
	code, out, errs := cli(t, env, "", "deploy", src)
	if code != 0 {
		t.Fatalf("apprun deploy: exit %d\n%s%s", code, out, errs)
	}
	t.Cleanup(func() { removeServiceImages(t, srv, "procs") })
	if !strings.Contains(out+errs, "web=1 worker=1") {
		t.Errorf("the deploy did not start web and worker:\n%s%s", out, errs)
	}
	type inst struct{ Process, State, Address string }
	count := func() map[string]int {
		insts, err := apiGet[struct{ Instances []inst }](srv, srv.token, "/api/v1/services/procs/instances")
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, i := range insts.Instances {
			if i.State == "running" {
				n[i.Process]++
			}
			if i.Process == "worker" && i.Address != "" {
				t.Errorf("a worker has a routed address %s", i.Address)
			}
		}
		return n
	}
	if n := count(); n["web"] != 1 || n["worker"] != 1 {
		t.Errorf("instances after deploy: %v", n)
	}
	if code, out, errs := cli(t, env, "", "scale", "--service", "procs", "worker=2", "web=2"); code != 0 {
		t.Fatalf("apprun scale: exit %d\n%s%s", code, out, errs)
	}
	waitFor(t, 30*time.Second, "web=2 worker=2", func() bool { n := count(); return n["web"] == 2 && n["worker"] == 2 })
	if code, out, errs := cli(t, env, "", "scale", "--service", "procs", "worker=0"); code != 0 {
		t.Fatalf("apprun scale: exit %d\n%s%s", code, out, errs)
	}
	waitFor(t, 30*time.Second, "no worker", func() bool { n := count(); return n["web"] == 2 && n["worker"] == 0 })
	if code, _, errs := cli(t, env, "", "scale", "--service", "procs", "clock=1"); code == 0 || !strings.Contains(errs, "no process type") {
		t.Errorf("scaling a process type the app lacks: exit %d %s", code, errs)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
