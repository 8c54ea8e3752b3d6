package source

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/apprun/apprun/spec"
)

// The test binary is its own pre-receive hook, as apprun is: the hooks
// directory links to os.Executable().
func TestMain(m *testing.M) {
	if IsHook(os.Args[0]) {
		os.Exit(RunHook(context.Background(), os.Stdin, os.Stdout, os.Getenv))
	}
	os.Exit(m.Run())
}

type fakeStore struct {
	mu       sync.Mutex
	services map[string]spec.Service
	keys     map[string]spec.SSHKey
}

func (f *fakeStore) GetService(_ context.Context, name string) (spec.Service, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.services[name]
	if !ok {
		return s, fmt.Errorf("service %q %w", name, spec.ErrNotFound)
	}
	return s, nil
}

func (f *fakeStore) VerifyToken(_ context.Context, plain string) (spec.Token, error) {
	if plain == "good-token" {
		return spec.Token{ID: "tok_test", Name: "test"}, nil
	}
	return spec.Token{}, fmt.Errorf("bad token: %w", spec.ErrUnauthorized)
}

func (f *fakeStore) KeyByFingerprint(_ context.Context, fp string) (spec.SSHKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[fp]
	if !ok {
		return k, fmt.Errorf("key %s %w", fp, spec.ErrNotFound)
	}
	return k, nil
}

type deployCall struct {
	service string
	src     spec.DeploymentSource
	files   map[string]string
}

// fakeDeployer reads the checkout as a builder would, logs a few steps and
// fails when the tree holds a file named FAIL.
type fakeDeployer struct {
	mu    sync.Mutex
	calls []deployCall
}

func (f *fakeDeployer) DeployGit(_ context.Context, service, dir string, src spec.DeploymentSource, log io.Writer) (spec.Deployment, error) {
	files := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			files[rel] = string(b)
		}
		return nil
	})
	f.mu.Lock()
	f.calls = append(f.calls, deployCall{service: service, src: src, files: files})
	f.mu.Unlock()
	fmt.Fprintln(log, "-----> Building")
	fmt.Fprintln(log, "       compiling main.go")
	if _, ok := files["FAIL"]; ok {
		fmt.Fprintln(log, "       error: the build failed")
		return spec.Deployment{ID: "dep_x", State: spec.StateFailed}, fmt.Errorf("deployment failed: the build failed")
	}
	fmt.Fprintln(log, "-----> Revision #1 serves "+service)
	return spec.Deployment{ID: "dep_x", State: spec.StateSucceeded}, nil
}

func (f *fakeDeployer) last() deployCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return deployCall{}
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeDeployer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type fixture struct {
	srv     *Server
	st      *fakeStore
	dep     *fakeDeployer
	http    *httptest.Server
	dataDir string
	env     []string // for the git client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dataDir := t.TempDir()
	st := &fakeStore{
		services: map[string]spec.Service{"hello": {ID: "svc_aaaaaaaaaaaaaaaaaaaa", Name: "hello", Source: spec.DefaultSource()}},
		keys:     map[string]spec.SSHKey{},
	}
	dep := &fakeDeployer{}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	srv, err := New(Config{
		DataDir: dataDir, Store: st, Deployer: dep, SSHAddr: "127.0.0.1:0",
		ServiceURL: func(name string) string { return "http://" + name + ".localhost:8080" },
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	hs := httptest.NewServer(srv.Wrap(http.NotFoundHandler()))
	t.Cleanup(hs.Close)
	home := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_TERMINAL_PROMPT=0"}
	return &fixture{srv: srv, st: st, dep: dep, http: hs, dataDir: dataDir, env: env}
}

// git runs the git client in dir and returns its combined output and
// whether it exited 0.
func (f *fixture) git(t *testing.T, dir string, extraEnv []string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, f.env...), extraEnv...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func (f *fixture) mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, ok := f.git(t, dir, nil, args...)
	if !ok {
		t.Fatalf("git %v: %s", args, out)
	}
	return strings.TrimSpace(out)
}

// workTree makes a client repository with one commit on main.
func (f *fixture) workTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	f.mustGit(t, dir, "init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink("sub/run.sh", filepath.Join(dir, "link"))
	f.mustGit(t, dir, "add", ".")
	f.mustGit(t, dir, "commit", "-q", "-m", "first")
	return dir
}

func (f *fixture) httpURL(password string) string {
	return strings.Replace(f.http.URL, "http://", "http://git:"+password+"@", 1) + "/git/hello.git"
}

func (f *fixture) repoRef(t *testing.T, ref string) string {
	t.Helper()
	out, _ := f.git(t, f.dataDir, []string{"GIT_DIR=" + f.srv.repoPath("svc_aaaaaaaaaaaaaaaaaaaa")}, "rev-parse", "-q", "--verify", ref)
	return strings.TrimSpace(out)
}

func TestPushOverHTTPDeploysThePushedCommit(t *testing.T) {
	f := newFixture(t)
	work := f.workTree(t)
	head := f.mustGit(t, work, "rev-parse", "HEAD")
	remote := f.httpURL("good-token")

	out, ok := f.git(t, work, nil, "push", remote, "main")
	if !ok {
		t.Fatalf("push: %s", out)
	}
	for _, want := range []string{"remote: -----> Deploying main (" + head[:10] + ") to hello", "remote: -----> Building", "remote:        http://hello.localhost:8080", "remote: -----> Done in"} {
		if !strings.Contains(out, want) {
			t.Errorf("the push output lacks %q:\n%s", want, out)
		}
	}
	c := f.dep.last()
	if c.service != "hello" || c.src != (spec.DeploymentSource{Kind: "git", Ref: "refs/heads/main", Commit: head}) {
		t.Errorf("deployed %+v", c)
	}
	if c.files["main.go"] != "package main\n" || c.files["sub/run.sh"] != "#!/bin/sh\n" {
		t.Errorf("the checkout holds %v", c.files)
	}
	if got := f.repoRef(t, "refs/heads/main"); got != head {
		t.Errorf("main is %q after a deployed push, want %s", got, head)
	}
	// The checkout is removed after the deployment.
	if ents, _ := os.ReadDir(f.srv.checkoutsDir()); len(ents) != 0 {
		t.Errorf("checkouts left behind: %v", ents)
	}

	// A push whose deployment fails is rejected: git exits non-zero and
	// main does not move.
	os.WriteFile(filepath.Join(work, "FAIL"), []byte("x"), 0o644)
	f.mustGit(t, work, "add", "FAIL")
	f.mustGit(t, work, "commit", "-q", "-m", "breaks the build")
	out, ok = f.git(t, work, nil, "push", remote, "main")
	if ok {
		t.Fatalf("a push whose deployment failed exited 0:\n%s", out)
	}
	if !strings.Contains(out, "remote: -----> Push rejected") || !strings.Contains(out, "pre-receive hook declined") {
		t.Errorf("the failed push does not say why:\n%s", out)
	}
	if got := f.repoRef(t, "refs/heads/main"); got != head {
		t.Errorf("main moved to %q after a failed deployment", got)
	}

	// Another branch is stored, not deployed.
	n := f.dep.count()
	out, ok = f.git(t, work, nil, "push", remote, "HEAD:refs/heads/feature")
	if !ok || !strings.Contains(out, "apprun deploys branch main; feature was not deployed") {
		t.Errorf("push of another branch: ok=%v\n%s", ok, out)
	}
	if f.dep.count() != n {
		t.Error("a push of another branch deployed")
	}
	// A ref that looks like an option is data.
	marker := filepath.Join(t.TempDir(), "x")
	out, ok = f.git(t, work, nil, "push", remote, "HEAD:refs/heads/--upload-pack=touch"+marker)
	if !ok || !strings.Contains(out, "--upload-pack=touch"+marker+" was not deployed") {
		t.Errorf("push of an option-like branch: ok=%v\n%s", ok, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the option-like ref ran a command")
	}
	// Deleting the deploy branch is refused.
	out, ok = f.git(t, work, nil, "push", remote, ":main")
	if ok || !strings.Contains(out, "deleting main, the deploy branch of hello, is refused") {
		t.Errorf("deleting main: ok=%v\n%s", ok, out)
	}
	// Fetching works too.
	clone := filepath.Join(t.TempDir(), "clone")
	if out, ok := f.git(t, work, nil, "clone", "-q", remote, clone); !ok {
		t.Fatalf("clone: %s", out)
	}
	if got := f.mustGit(t, clone, "rev-parse", "HEAD"); got != head {
		t.Errorf("clone HEAD %s, want %s", got, head)
	}
}

func TestHTTPAuthAndPaths(t *testing.T) {
	f := newFixture(t)
	get := func(path, password string) *http.Response {
		req, _ := http.NewRequest("GET", f.http.URL+path, nil)
		if password != "" {
			req.SetBasicAuth("anyone", password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, pw := range []string{"", "wrong"} {
		resp := get("/git/hello.git/info/refs?service=git-receive-pack", pw)
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
			t.Errorf("password %q: %d %q", pw, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	if resp := get("/git/hello.git/info/refs?service=git-receive-pack", "good-token"); resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "application/x-git-receive-pack-advertisement" {
		t.Errorf("good token: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for path, want := range map[string]int{
		"/git/nope.git/info/refs?service=git-upload-pack":                     404,
		"/git/%2e%2e.git/info/refs?service=git-upload-pack":                   404,
		"/git/hello.git/info/refs":                                            403,
		"/git/hello.git/HEAD":                                                 404,
		"/git/hello.git/objects/info/packs":                                   404,
		"/git/hello.git/git-receive-pack":                                     405,
		"/git/hello.git/../../etc/passwd":                                     404,
		"/git/hello.git/info/refs?service=git-upload-archive":                 403,
		"/git/svc_aaaaaaaaaaaaaaaaaaaa.git/info/refs?service=git-upload-pack": 404,
	} {
		if resp := get(path, "good-token"); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// A push with a wrong token fails.
	work := f.workTree(t)
	if out, ok := f.git(t, work, nil, "push", f.httpURL("wrong"), "main"); ok {
		t.Errorf("a push with a wrong token succeeded:\n%s", out)
	}
	if f.dep.count() != 0 {
		t.Error("a refused push deployed")
	}
}

func TestPushOverSSH(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("the ssh client is not installed (apt-get install openssh-client)")
	}
	f := newFixture(t)
	keyDir := t.TempDir()
	key := filepath.Join(keyDir, "id")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(key + ".pub")
	pk, _, _, _, err := ssh.ParseAuthorizedKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(f.srv.SSHAddr(), ":")
	sshCmd := []string{"GIT_SSH_COMMAND=ssh -i " + key + " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p " + port}
	remote := "ssh://git@127.0.0.1:" + port + "/hello.git"
	work := f.workTree(t)
	head := f.mustGit(t, work, "rev-parse", "HEAD")

	// An unknown key is refused.
	if out, ok := f.git(t, work, sshCmd, "push", remote, "main"); ok {
		t.Fatalf("a push with an unknown key succeeded:\n%s", out)
	}
	f.st.mu.Lock()
	f.st.keys[ssh.FingerprintSHA256(pk)] = spec.SSHKey{ID: "key_test", Name: "laptop"}
	f.st.mu.Unlock()

	out, ok := f.git(t, work, sshCmd, "push", remote, "main")
	if !ok {
		t.Fatalf("push over ssh: %s", out)
	}
	if !strings.Contains(out, "remote: -----> Building") || !strings.Contains(out, "remote: -----> Done in") {
		t.Errorf("the push output:\n%s", out)
	}
	if c := f.dep.last(); c.src.Commit != head {
		t.Errorf("deployed %+v, want %s", c, head)
	}
	// A failing deployment fails the push.
	os.WriteFile(filepath.Join(work, "FAIL"), []byte("x"), 0o644)
	f.mustGit(t, work, "add", "FAIL")
	f.mustGit(t, work, "commit", "-q", "-m", "breaks")
	if out, ok := f.git(t, work, sshCmd, "push", remote, "main"); ok {
		t.Errorf("a failing push over ssh exited 0:\n%s", out)
	}
	// Only git commands on known services run.
	for _, c := range []string{"id", "git-receive-pack '../x.git'", "git-upload-pack '/nope.git'"} {
		cmd := exec.Command("ssh", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-p", port, "git@127.0.0.1", c)
		cmd.Env = f.env
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "apprun:") {
			t.Errorf("ssh %q: %v %s", c, err, out)
		}
	}
	// The host key is made once, 0600.
	fi, err := os.Stat(filepath.Join(f.dataDir, "ssh", "host_ed25519_key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("host key: %v %v", fi, err)
	}
}

func TestHookRefusesWrongTokenAndForeignPaths(t *testing.T) {
	f := newFixture(t)
	repo, err := f.srv.ensureRepo(context.Background(), "svc_aaaaaaaaaaaaaaaaaaaa", "main")
	if err != nil {
		t.Fatal(err)
	}
	zero, sha := strings.Repeat("0", 40), strings.Repeat("a", 40)
	base := hookRequest{Token: f.srv.token, Service: "hello", ServiceID: "svc_aaaaaaaaaaaaaaaaaaaa", Dir: repo,
		ObjectDir: repo + "/objects/tmp_objdir-incoming-x", AltDirs: repo + "/objects", Quarantine: repo + "/objects/tmp_objdir-incoming-x",
		Updates: []string{zero + " " + sha + " refs/heads/main"}}
	for name, mut := range map[string]func(*hookRequest){
		"other service":      func(r *hookRequest) { r.Service = "other" },
		"replaced service":   func(r *hookRequest) { r.ServiceID = "svc_bbbbbbbbbbbbbbbbbbbb" },
		"bad name":           func(r *hookRequest) { r.Service = "../hello" },
		"dir elsewhere":      func(r *hookRequest) { r.Dir = "/tmp" },
		"object dir outside": func(r *hookRequest) { r.ObjectDir = "/etc" },
		"dotdot quarantine":  func(r *hookRequest) { r.Quarantine = repo + "/objects/../../x" },
		"alternates outside": func(r *hookRequest) { r.AltDirs = repo + "/objects:/srv/other.git/objects" },
		"relative":           func(r *hookRequest) { r.ObjectDir = "objects" },
	} {
		req := base
		mut(&req)
		var out strings.Builder
		w := &frameWriter{enc: json.NewEncoder(&out)}
		if code := f.srv.push(context.Background(), req, w); code == 0 {
			t.Errorf("%s: accepted: %s", name, out.String())
		}
	}
	if f.dep.count() != 0 {
		t.Error("a refused hook deployed")
	}
	// Through the socket: a wrong token is refused before anything else.
	var out strings.Builder
	env := map[string]string{envSocket: f.srv.socketPath(), envToken: "nope", envService: "hello", envServiceID: "svc_aaaaaaaaaaaaaaaaaaaa"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := RunHook(ctx, strings.NewReader(zero+" "+sha+" refs/heads/main\n"), &out, func(k string) string { return env[k] })
	if code == 0 || !strings.Contains(out.String(), "not started by this apprun server") {
		t.Errorf("wrong token: %d %s", code, out.String())
	}
}
