package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// What a Heroku user does: create a service, git push the go example over
// smart HTTP, watch the build scroll by as "remote:" lines and curl the URL
// it ends with; push a change over SSH while a prober runs (not one request
// fails); push a commit that does not build: git push fails and the old
// version keeps serving.
func TestGitPushDeploysOverHTTPAndSSH(t *testing.T) {
	_, b := buildServer(t) // skips without the engine and the builder images
	b.Close()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required")
	}
	dataDir := t.TempDir()
	network := "apprun-e2e-" + strings.ToLower(randomSuffix(t))
	// Registered before the server starts, so it runs after the server
	// stopped: a running reconciler would start the instances again.
	t.Cleanup(func() { removeInstallation(t, dataDir, network, "") })
	srv := startServer(t, dataDir, "APPRUN_DEPLOY_NETWORK="+network, "APPRUN_DEPLOY_START_TIMEOUT=30s",
		"APPRUN_DEPLOY_STOP_GRACE=2s", "APPRUN_DEPLOY_DRAIN_TIMEOUT=10s", "APPRUN_GIT_SSH_ADDR=127.0.0.1:0")
	env := map[string]string{"APPRUN_SERVER": srv.api, "APPRUN_TOKEN": srv.token, "APPRUN_CLI_CONFIG": filepath.Join(t.TempDir(), "cli.json")}

	if code, out, errs := cli(t, env, "", "services", "create", "hello"); code != 0 {
		t.Fatalf("services create: %d %s%s", code, out, errs)
	}
	t.Cleanup(func() { removeServiceImages(t, srv, "hello") })
	code, out, errs := cli(t, env, "", "git-remote", "hello", "--json")
	if code != 0 {
		t.Fatalf("git-remote: %d %s%s", code, out, errs)
	}
	httpURL := regexp.MustCompile(`"http": "([^"]+)"`).FindStringSubmatch(out)
	sshURL := regexp.MustCompile(`"ssh": "(ssh://git@127\.0\.0\.1:\d+/hello\.git)"`).FindStringSubmatch(out)
	if httpURL == nil || httpURL[1] != srv.api+"/git/hello.git" || sshURL == nil {
		t.Fatalf("git-remote printed:\n%s", out)
	}

	work := filepath.Join(t.TempDir(), "hello")
	copyDir(t, filepath.Join("..", "..", "examples", "go"), work)
	g := newGitClient(t, work)
	g.must("init", "-q", "-b", "main")
	g.must("add", ".")
	g.must("commit", "-q", "-m", "hello")

	// 1. Smart HTTP, the token as the password.
	authed, _ := url.Parse(httpURL[1])
	authed.User = url.UserPassword("git", srv.token)
	start := time.Now()
	out, ok := g.run("push", authed.String(), "main")
	if !ok {
		t.Fatalf("git push over HTTP failed:\n%s", out)
	}
	t.Logf("first push over HTTP: %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"remote: -----> Deploying main", "remote: -----> Building", "remote: -----> Starting revision #1", "remote: -----> Done in", "main -> main"} {
		if !strings.Contains(out, want) {
			t.Errorf("the push output lacks %q:\n%s", want, out)
		}
	}
	appURL := regexp.MustCompile(`remote:\s+(http://hello\.localhost:\d+)`).FindStringSubmatch(out)
	if appURL == nil {
		t.Fatalf("no URL in the push output:\n%s", out)
	}
	if body := curl(t, appURL[1]); body != "hello from go\n" {
		t.Fatalf("curl %s: %q", appURL[1], body)
	}

	// 2. SSH with a key added through the CLI, a change rolled out while
	// a prober runs.
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e@test", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen (apt-get install openssh-client): %v %s", err, out)
	}
	if code, out, errs := cli(t, env, "", "keys", "add", key+".pub"); code != 0 || !strings.Contains(out, "Added key e2e@test") {
		t.Fatalf("keys add: %d %s%s", code, out, errs)
	}
	if code, out, _ := cli(t, env, "", "keys", "list"); code != 0 || !strings.Contains(out, "SHA256:") {
		t.Errorf("keys list: %d %s", code, out)
	}
	u, _ := url.Parse(sshURL[1])
	g.env = append(g.env, "GIT_SSH_COMMAND=ssh -i "+key+" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p "+u.Port())
	editHello(t, work, "hello from go", "hello from go v2")
	g.must("commit", "-q", "-am", "v2")
	p := startPushProber(appURL[1], 20)
	out, ok = g.run("push", sshURL[1], "main")
	time.Sleep(time.Second) // the prober keeps going after the switch
	okCount, failed, failures, versions := p.finish()
	if !ok {
		t.Fatalf("git push over SSH failed:\n%s", out)
	}
	if !strings.Contains(out, "remote: -----> Done in") || !strings.Contains(out, "revision #2") {
		t.Errorf("the SSH push output:\n%s", out)
	}
	if body := curl(t, appURL[1]); body != "hello from go v2\n" {
		t.Errorf("after the SSH push: %q", body)
	}
	t.Logf("prober during the SSH push: %d ok, %d failed, versions %v", okCount, failed, versions)
	if failed != 0 || okCount < 20 {
		t.Errorf("prober: %d ok, %d failed during the rollout: %v", okCount, failed, failures)
	}

	// 3. A commit that does not compile: the push fails, v2 still serves,
	// and main on the server did not move.
	editHello(t, work, "package main", "package main\n\nthis does not compile")
	g.must("commit", "-q", "-am", "broken")
	out, ok = g.run("push", authed.String(), "main")
	if ok {
		t.Fatalf("a push whose build fails exited 0:\n%s", out)
	}
	if !strings.Contains(out, "remote: -----> Push rejected") || !strings.Contains(out, "pre-receive hook declined") {
		t.Errorf("the failed push does not say why:\n%s", out)
	}
	if body := curl(t, appURL[1]); body != "hello from go v2\n" {
		t.Errorf("after the failed push: %q", body)
	}
	if out, ok := g.run("ls-remote", authed.String(), "refs/heads/main"); !ok || !strings.HasPrefix(out, g.must("rev-parse", "HEAD~1")) {
		t.Errorf("main on the server after the failed push: %s (want HEAD~1)", out)
	}
}

// gitClient runs the real git client in a work tree with a clean
// environment (no user config).
type gitClient struct {
	t   *testing.T
	dir string
	env []string
}

func newGitClient(t *testing.T, dir string) *gitClient {
	home := t.TempDir()
	return &gitClient{t: t, dir: dir, env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0", "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com",
		"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@example.com"}}
}

func (g *gitClient) run(args ...string) (string, bool) {
	g.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = g.dir, g.env
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func (g *gitClient) must(args ...string) string {
	g.t.Helper()
	out, ok := g.run(args...)
	if !ok {
		g.t.Fatalf("git %v: %s", args, out)
	}
	return strings.TrimSpace(out)
}

func editHello(t *testing.T, dir, from, to string) {
	t.Helper()
	p := filepath.Join(dir, "main.go")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), from) {
		t.Fatalf("main.go lacks %q", from)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), from, to, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pushProber requests a *.localhost URL at a steady rate, each request on
// its own goroutine, and counts the answers that are not a 200 from the
// go example.
type pushProber struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	versions   map[string]int
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startPushProber(raw string, rps int) *pushProber {
	u, _ := url.Parse(raw)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+u.Port())
		},
	}}
	p := &pushProber{stop: make(chan struct{}), versions: map[string]int{}}
	p.wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rps))
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			p.wg.Go(func() {
				resp, err := client.Get(raw)
				body := ""
				code := 0
				if err == nil {
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					body, code = string(b), resp.StatusCode
				}
				p.mu.Lock()
				defer p.mu.Unlock()
				if err == nil && code == 200 && strings.HasPrefix(body, "hello from go") {
					p.ok.Add(1)
					p.versions[strings.TrimSpace(body)]++
					return
				}
				p.failed.Add(1)
				if len(p.failures) < 20 {
					p.failures = append(p.failures, fmt.Sprintf("%s: %d %q %v", time.Now().Format("15:04:05.000"), code, body, err))
				}
			})
		}
	})
	return p
}

func (p *pushProber) finish() (ok, failed int64, failures []string, versions map[string]int) {
	close(p.stop)
	p.wg.Wait()
	return p.ok.Load(), p.failed.Load(), p.failures, p.versions
}
