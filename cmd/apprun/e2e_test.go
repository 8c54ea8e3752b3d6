package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary compiles cmd/apprun once per test binary run.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "apprun-bin-*")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "apprun")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// server is `apprun serve` running as a real process.
type server struct {
	cmd    *exec.Cmd
	api    string
	router string
	https  string // "https://127.0.0.1:PORT", or "" without HTTPS
	token  string // printed on first start only
	stdout *syncBuffer
	done   chan error
}

var servingRE = regexp.MustCompile(`api=(http://127\.0\.0\.1:\d+) router=(http://127\.0\.0\.1:\d+) https=(https://127\.0\.0\.1:\d+)?`)

func startServer(t *testing.T, dataDir string, env ...string) *server {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatalf("building apprun: %v", err)
	}
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--api-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--save-cli-login=false")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "APPRUN_CONFIG=", "APPRUN_BUILD_BOOTSTRAP=false",
		"APPRUN_HTTPS_ADDR=127.0.0.1:0", "APPRUN_GIT_SSH_ADDR=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...)
	stdout := &syncBuffer{}
	cmd.Stdout = stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting apprun serve: %v", err)
	}
	s := &server{cmd: cmd, stdout: stdout, done: make(chan error, 1)}
	apiCh := make(chan []string, 1)
	var logs bytes.Buffer
	var logsMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logsMu.Lock()
			logs.WriteString(sc.Text() + "\n")
			logsMu.Unlock()
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				apiCh <- m[1:]
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case addrs := <-apiCh:
		s.api, s.router, s.https = addrs[0], addrs[1], addrs[2]
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		logsMu.Lock()
		defer logsMu.Unlock()
		t.Fatalf("apprun serve did not start in 30s; logs:\n%s", logs.String())
	}
	if m := regexp.MustCompile(`(?m)^\s+(apprun_\S+)$`).FindStringSubmatch(stdout.String()); m != nil {
		s.token = m[1]
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("apprun serve exited with %v after SIGTERM", err)
		}
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("apprun serve did not stop within 20s of SIGTERM")
	}
}

// cli runs one CLI command in-process against srv and returns its exit
// code, stdout and stderr.
func cli(t *testing.T, env map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &stdio{in: strings.NewReader(stdin), out: &out, err: &errb}, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func TestServeCLIRoundTripAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the apprun binary")
	}
	dataDir := t.TempDir()
	srv := startServer(t, dataDir)
	if srv.token == "" {
		t.Fatalf("first start printed no admin token; stdout:\n%s", srv.stdout.String())
	}
	env := map[string]string{"APPRUN_SERVER": srv.api, "APPRUN_TOKEN": srv.token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}

	if code, out, errs := cli(t, env, "", "networks", "create", "db", "--internal"); code != 0 {
		t.Fatalf("networks create: exit %d\n%s%s", code, out, errs)
	}
	// Every writable field set to a value that is not its default.
	want := map[string]any{
		"name": "shop",
		"port": 9090,
		"env":  map[string]any{"LOG_LEVEL": "debug", "FEATURE": "on"},
		"scaling": map[string]any{
			"maxConcurrency": 42, "minInstances": 0, "maxInstances": 7,
		},
		"healthCheck": map[string]any{
			"protocol": "HTTP", "path": "/healthz", "interval": 7, "timeout": 3, "healthyThreshold": 2, "unhealthyThreshold": 4,
		},
		"instanceSize": map[string]any{"cpu": 0.5, "memoryMB": 512},
		"networks":     []any{"db"},
		"domains":      []any{"shop.example.com"},
		"source":       map[string]any{"repo": "https://git.example.com/shop.git", "branch": "release", "autoDeploy": false},
	}
	file := filepath.Join(t.TempDir(), "shop.json")
	body, _ := json.Marshal(want)
	if err := os.WriteFile(file, body, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := cli(t, env, "", "services", "create", "-f", file, "--secret", "API_KEY=canary-7d1f", "--json")
	if code != 0 {
		t.Fatalf("services create: exit %d\n%s%s", code, out, errs)
	}
	if strings.Contains(out, "canary-7d1f") {
		t.Fatalf("create answer shows a secret value:\n%s", out)
	}

	check := func(stage string) map[string]any {
		t.Helper()
		code, out, errs := cli(t, env, "", "services", "get", "shop", "--json")
		if code != 0 {
			t.Fatalf("%s: services get: exit %d\n%s%s", stage, code, out, errs)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: services get --json is not JSON: %v\n%s", stage, err, out)
		}
		for k, v := range want {
			if !reflect.DeepEqual(normalize(got[k]), normalize(v)) {
				t.Errorf("%s: field %s = %v, want %v", stage, k, got[k], v)
			}
		}
		if !reflect.DeepEqual(got["secretNames"], []any{"API_KEY"}) {
			t.Errorf("%s: secretNames = %v, want [API_KEY]", stage, got["secretNames"])
		}
		return got
	}
	before := check("before restart")

	srv.stop(t)
	srv2 := startServer(t, dataDir)
	if srv2.token != "" {
		t.Errorf("second start printed a new admin token")
	}
	env["APPRUN_SERVER"] = srv2.api
	after := check("after restart")
	for _, k := range []string{"id", "createdAt", "updatedAt"} {
		if before[k] != after[k] {
			t.Errorf("%s changed across restart: %v → %v", k, before[k], after[k])
		}
	}

	// The human output shows the settings, never a secret value.
	code, out, _ = cli(t, env, "", "services", "get", "shop")
	if code != 0 || !strings.Contains(out, "0 to 7 instances, 42 concurrent") || strings.Contains(out, "canary-7d1f") {
		t.Errorf("services get (table): exit %d\n%s", code, out)
	}

	// The router answers app traffic: a host no service owns is a clear 404.
	req, _ := http.NewRequest("GET", srv2.router+"/", nil)
	req.Host = "nothing-here.localhost"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("router for an unknown host: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// The Traefik export answers (empty until the deployer publishes).
	req, _ = http.NewRequest("GET", srv2.api+"/api/v1/traefik/config", nil)
	req.Header.Set("Authorization", "Bearer "+srv.token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("traefik config: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// A token made by `apprun admin token create` works, and is all it prints.
	code, out, errs = cli(t, env, "", "admin", "token", "create", "--data-dir", dataDir, "--name", "ci")
	if code != 0 || !regexp.MustCompile(`^apprun_\S+\n$`).MatchString(out) {
		t.Fatalf("admin token create: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	env2 := map[string]string{"APPRUN_SERVER": srv2.api, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}
	if code, out, errs := cli(t, env2, "", "login", "--token", strings.TrimSpace(out)); code != 0 {
		t.Fatalf("login with the new token: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := cli(t, env2, "", "services", "list"); code != 0 || !strings.Contains(out, "shop") {
		t.Fatalf("services list after login: exit %d\n%s%s", code, out, errs)
	}
}

// syncBuffer is a bytes.Buffer that the process's output copier and the
// test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// normalize makes JSON numbers and nested values comparable.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
