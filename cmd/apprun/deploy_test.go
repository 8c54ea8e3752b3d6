package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/web"
)

func TestCLIDeployCreatesServiceAndLinks(t *testing.T) {
	env, _, fd := deployServer(t)
	dir := filepath.Join(t.TempDir(), "Shop_App")
	writeTree(t, filepath.Join(dir, "main.go"), "package main\n")
	writeTree(t, filepath.Join(dir, ".git", "HEAD"), "ref: refs/heads/main\n")

	code, out, errs := cli(t, env, "", "deploy", dir)
	if code != 0 {
		t.Fatalf("deploy: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	for _, want := range []string{"-----> Creating service shop-app\n", "-----> Uploading source (", "-----> Receiving source\n",
		"built image for shop-app\n", "-----> Deployed shop-app: deployment #1, revision rev_new\n", "       http://shop-app.apps.test\n", "-----> Done in "} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	service, _, archive, _, _ := fd.last()
	if names := tarNames(t, archive); service != "shop-app" || !slices.Equal(names, []string{"main.go"}) {
		t.Errorf("deployed %q with %v, want shop-app with main.go only", service, names)
	}
	// The second deploy finds the service.
	if code, out, _ = cli(t, env, "", "deploy", dir); code != 0 || strings.Contains(out, "Creating") {
		t.Fatalf("second deploy: exit %d\n%s", code, out)
	}

	// --service links the directory: later commands there need no flag.
	if code, out, errs = cli(t, env, "", "deploy", dir, "--service", "shop-staging"); code != 0 || !strings.Contains(out, "-----> Linked "+dir+" to service shop-staging") || !strings.Contains(out, "Creating service shop-staging") {
		t.Fatalf("deploy --service: exit %d\n%s%s", code, out, errs)
	}
	if code, out, _ = cli(t, env, "", "deploy", dir); code != 0 || strings.Contains(out, "Linked") {
		t.Fatalf("deploy after link: exit %d\n%s", code, out)
	}
	if service, _, _, _, _ := fd.last(); service != "shop-staging" {
		t.Errorf("deploy after link went to %q", service)
	}
	// A login keeps the links (it rewrites the same file).
	if code, _, errs := cli(t, env, "", "login"); code != 0 {
		t.Fatalf("login: %s", errs)
	}
	data, err := os.ReadFile(env["APPRUN_CLI_CONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	var saved cliConfig
	if err := json.Unmarshal(data, &saved); err != nil || saved.Links[dir] != "shop-staging" || saved.Token == "" {
		t.Fatalf("cli.json after login: %s (%v)", data, err)
	}

	// --json: only the deployment on stdout, the log on stderr.
	code, out, errs = cli(t, env, "", "deploy", dir, "--json")
	var d spec.Deployment
	if err := json.Unmarshal([]byte(out), &d); code != 0 || err != nil || d.ID == "" || d.State != spec.StateSucceeded {
		t.Fatalf("deploy --json: exit %d, %v\nstdout: %s", code, err, out)
	}
	if !strings.Contains(errs, "-----> Receiving source") {
		t.Errorf("--json: the log is not on stderr:\n%s", errs)
	}
}

func TestCLIDeployFailure(t *testing.T) {
	env, _, fd := deployServer(t)
	dir := filepath.Join(t.TempDir(), "web")
	writeTree(t, filepath.Join(dir, "index.html"), "hi\n")
	fd.set(func(f *fakeDeployer) { f.fail = errors.New("health check failed: connection refused") })

	code, out, errs := cli(t, env, "", "deploy", dir)
	if code != exitError {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitError, out, errs)
	}
	for _, want := range []string{"deployment #1 of web failed", "did not become healthy within 60s", "connection refused"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(out, "Done in") {
		t.Errorf("a failed deployment printed Done:\n%s", out)
	}
	code, out, _ = cli(t, env, "", "deploy", dir, "--json")
	var d spec.Deployment
	if err := json.Unmarshal([]byte(out), &d); code == 0 || err != nil || d.State != spec.StateFailed {
		t.Fatalf("deploy --json failure: exit %d, stdout %s", code, out)
	}

	// Names the CLI cannot make, or that are not names, are usage errors.
	bad := filepath.Join(t.TempDir(), "123")
	writeTree(t, filepath.Join(bad, "x"), "x")
	for _, args := range [][]string{{"deploy", bad}, {"deploy", dir, "--service", "Bad_Name"}, {"deploy", filepath.Join(dir, "index.html")}} {
		if code, _, errs := cli(t, env, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, errs)
		} else if args[1] == bad && !strings.Contains(errs, "--service NAME") {
			t.Errorf("%v: the message does not say what to do: %s", args, errs)
		}
	}
}

func TestCLIRollback(t *testing.T) {
	env, st, fd := deployServer(t)
	if code, _, errs := cli(t, env, "", "services", "create", "web"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := cli(t, env, "", "rollback", "--service", "web"); code != exitConflict || !strings.Contains(errs, "no earlier revision") {
		t.Fatalf("rollback without revisions: exit %d: %s", code, errs)
	}
	revs := seedRevisions(t, st, "web", 2)
	code, out, errs := cli(t, env, "", "rollback", "--service", "web")
	if code != 0 || !strings.Contains(out, "-----> Rolling web back to the previous revision") || !strings.Contains(out, "-----> Rolled back web: deployment #1") || !strings.Contains(out, "http://web.apps.test") {
		t.Fatalf("rollback: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	if _, rev, _, _, _ := fd.last(); rev != "" {
		t.Errorf("deployer got revision %q, want the default", rev)
	}
	if code, out, errs = cli(t, env, "", "rollback", revs[0].ID, "--service", "web"); code != 0 || !strings.Contains(out, "revision "+revs[0].ID) {
		t.Fatalf("rollback REV: exit %d\n%s%s", code, out, errs)
	}
	if _, rev, _, _, _ := fd.last(); rev != revs[0].ID {
		t.Errorf("deployer got revision %q, want %s", rev, revs[0].ID)
	}
	if code, _, errs = cli(t, env, "", "rollback", "rev_nope", "--service", "web"); code != exitNotFound || !strings.Contains(errs, "revision") {
		t.Fatalf("unknown revision: exit %d: %s", code, errs)
	}
	if code, _, errs = cli(t, env, "", "rollback", "--service", "nope"); code != exitNotFound {
		t.Fatalf("unknown service: exit %d: %s", code, errs)
	}
}

func TestCLIScale(t *testing.T) {
	env, _, fd := deployServer(t)
	if code, _, errs := cli(t, env, "", "services", "create", "web"); code != 0 {
		t.Fatal(errs)
	}
	for _, tc := range []struct {
		args    []string
		message string
	}{
		{nil, "TYPE=N"},
		{[]string{"web"}, "want TYPE=N"},
		{[]string{"web=x"}, "whole number from 0 to 100"},
		{[]string{"web=101"}, "whole number from 0 to 100"},
		{[]string{"web=-1"}, "whole number"},
		{[]string{"=2"}, "process type"},
		{[]string{"we b=1"}, "process type"},
		{[]string{"web=1", "web=2"}, "given twice"},
	} {
		args := append([]string{"scale", "--service", "web"}, tc.args...)
		code, _, errs := cli(t, env, "", args...)
		if code != exitUsage || !strings.Contains(errs, tc.message) {
			t.Errorf("%v: exit %d, want %d with %q: %s", tc.args, code, exitUsage, tc.message, errs)
		}
	}
	if _, _, _, f, _ := fd.last(); f != nil {
		t.Fatalf("a refused scale reached the server: %v", f)
	}
	code, out, errs := cli(t, env, "", "scale", "--service", "web", "worker=1", "web=3")
	if code != 0 || !strings.Contains(out, "Scaled web: web=3, worker=1") {
		t.Fatalf("scale: exit %d\n%s%s", code, out, errs)
	}
	if _, _, _, f, _ := fd.last(); f["web"] != 3 || f["worker"] != 1 {
		t.Errorf("deployer got %v", f)
	}
	if code, out, _ = cli(t, env, "", "scale", "--service", "web", "web=0", "--json"); code != 0 || !strings.Contains(out, `"formation": {`) {
		t.Fatalf("scale --json: exit %d\n%s", code, out)
	}
	if code, _, _ = cli(t, env, "", "scale", "--service", "nope", "web=1"); code != exitNotFound {
		t.Fatalf("unknown service: exit %d", code)
	}
}

func TestCLILogs(t *testing.T) {
	env, _, fd := deployServer(t)
	if code, _, errs := cli(t, env, "", "services", "create", "web"); code != 0 {
		t.Fatal(errs)
	}
	at := time.Date(2026, 11, 26, 4, 5, 6, 7_000_000, time.FixedZone("CET", 3600))
	fd.set(func(f *fakeDeployer) {
		f.lines = []web.LogLine{
			{Time: at, Instance: "3f2a1b9c0d", Process: "web", Revision: "rev_1", Line: "listening on :8080"},
			{Time: at.Add(1500 * time.Millisecond), Instance: "ins_abcdefghijklmnop", Process: "worker", Revision: "rev_1", Line: "  indented | with a pipe"},
		}
	})
	code, out, errs := cli(t, env, "", "logs", "web", "--process", "web", "--since", "10m")
	want := "2026-11-26T03:05:06.007Z web/3f2a1b9c0d | listening on :8080\n" +
		"2026-11-26T03:05:07.507Z worker/abcdefghij |   indented | with a pipe\n"
	if code != 0 || out != want {
		t.Fatalf("logs: exit %d\ngot:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errs)
	}
	if _, _, _, _, q := fd.last(); q.Tail != 100 || q.Process != "web" || q.Follow || q.Since.IsZero() {
		t.Errorf("query %+v", q)
	}
	if code, _, _ = cli(t, env, "", "logs", "web", "-f", "--tail", "0"); code != 0 {
		t.Fatalf("logs -f: exit %d", code)
	}
	if _, _, _, _, q := fd.last(); q.Tail != 0 || !q.Follow {
		t.Errorf("query %+v", q)
	}
	// --json prints the lines as sent.
	code, out, _ = cli(t, env, "", "logs", "web", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], `{"time":"2026-11-26T04:05:06.007+01:00"`) {
		t.Fatalf("logs --json: exit %d\n%s", code, out)
	}
	// A failure after the stream started ends the command with it.
	fd.set(func(f *fakeDeployer) { f.logsErr = errors.New("the engine went away") })
	if code, out, errs = cli(t, env, "", "logs", "web"); code == 0 || !strings.Contains(errs, "the engine went away") || !strings.Contains(out, "listening") {
		t.Fatalf("failed logs: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	// Bad parameters are the server's 400s, naming the flag's field.
	if code, _, errs = cli(t, env, "", "logs", "web", "--since", "yesterday"); code != exitInvalid || !strings.Contains(errs, "since") {
		t.Fatalf("bad since: exit %d: %s", code, errs)
	}
	if code, _, _ = cli(t, env, "", "logs", "nope"); code != exitNotFound {
		t.Fatalf("unknown service: exit %d", code)
	}
}

func TestCLIPs(t *testing.T) {
	env, _, fd := deployServer(t)
	if code, _, errs := cli(t, env, "", "services", "create", "web"); code != 0 {
		t.Fatal(errs)
	}
	if code, out, _ := cli(t, env, "", "ps", "web"); code != 0 || !strings.Contains(out, "web has no instances") {
		t.Fatalf("ps without instances: exit %d\n%s", code, out)
	}
	started := time.Now().Add(-3 * time.Minute)
	fd.set(func(f *fakeDeployer) {
		f.instances = []web.InstanceStatus{
			{ID: "bbbbbbbbbb", Name: "apprun-web-worker-bbbbbbbbbb", Process: "worker", RevisionID: "rev_1", State: "running", StartedAt: started},
			{ID: "aaaaaaaaaa", Name: "apprun-web-web-aaaaaaaaaa", Process: "web", RevisionID: "rev_1", State: "running", Address: "172.18.0.5:8080", Ready: true, StartedAt: started, Restarts: 2},
		}
	})
	code, out, errs := cli(t, env, "", "ps", "web")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(rows) != 3 {
		t.Fatalf("ps: exit %d\n%s%s", code, out, errs)
	}
	for i, want := range [][]string{
		{"PROCESS", "INSTANCE", "REVISION", "STATE", "READY", "ADDRESS", "STARTED"},
		{"web", "aaaaaaaaaa", "rev_1", "running", "(2", "restarts)", "yes", "172.18.0.5:8080", "3m", "ago"},
		{"worker", "bbbbbbbbbb", "rev_1", "running", "no", "-", "3m", "ago"},
	} {
		if got := strings.Fields(rows[i]); !slices.Equal(got, want) {
			t.Errorf("row %d = %q, want %q", i, got, want)
		}
	}
	code, out, _ = cli(t, env, "", "ps", "web", "--json")
	var resp struct{ Instances []web.InstanceStatus }
	if err := json.Unmarshal([]byte(out), &resp); code != 0 || err != nil || len(resp.Instances) != 2 {
		t.Fatalf("ps --json: exit %d, %v\n%s", code, err, out)
	}
	if code, _, _ = cli(t, env, "", "ps", "nope"); code != exitNotFound {
		t.Fatalf("unknown service: exit %d", code)
	}
}
