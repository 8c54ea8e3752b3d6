// Command gitpush benchmarks `git push` to apprun: from the start of the
// push command to the first 200 of the new version through the router,
// for the Go example with a warm build cache and one file changed (the
// version string its handler prints).
//
// It starts a real `apprun serve` (its own data directory, API, router and
// git SSH server on free loopback ports, the local Docker engine), creates
// one service, pushes the example once to warm the build cache (reported
// as "first push", cold), then, each run, changes main.go, commits and
// times, side by side and alternating which goes first:
//
//   - git push over smart HTTP (the token as the password);
//   - git push over SSH (a key added through the API);
//   - `apprun deploy` of the same tree (an archive upload), the path a
//     user without git would take, for comparison.
//
// "serving" is the first 200 whose body names the new version, from a
// poller that GETs the router every 5 ms from the start of the command;
// "exit" is when the command returns (git push waits for the whole
// deployment, old instances drained).
//
//	go run ./bench/gitpush            # 5 runs of each
//	go run ./bench/gitpush -runs 3 -v # -v: the push output
//
// It needs git, ssh, the Docker engine and the builder images (`apprun
// builder bootstrap`). At the end, and on Ctrl-C, it stops the server,
// removes its containers, the service's images and build caches, the
// network and the temporary directory. Commands run with argv, never a
// shell. The server, its API and the cleanup come from
// bench/internal/harness, shared with bench/deploy.
package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/apprun/apprun/bench/internal/harness"
)

// service is where the pushes go (/git/bench-git.git over HTTP and SSH)
// and, as bench-git.localhost, the Host the poller asks the router for.
const service = "bench-git"

func main() {
	os.Exit(harness.Main(harness.Usage{
		Name:    "bench/gitpush",
		Runs:    "runs of each method (median and min are reported)",
		Verbose: "print each command's output",
	}, func(f harness.Flags) harness.Bench { return &bench{flags: f} }))
}

// bench is one run's state: the server, the git repository and what to
// clean up.
type bench struct {
	flags   harness.Flags
	work    string           // temporary directory: binary, data dir, HOME, source, key
	src     *harness.Example // the copy of the example, a git repository
	network string
	srv     *harness.Server
	key     string // the SSH private key's file
	svcID   string
	gitEnv  []string     // the environment of git and apprun deploy
	router  *http.Client // the poller's GETs through the router
	version int
}

// Setup makes the temporary directory, the server, the service, an SSH key
// and the git repository.
func (b *bench) Setup(ctx context.Context) error {
	var err error
	if b.work, err = os.MkdirTemp("", "apprun-bench-gitpush-"); err != nil {
		return err
	}
	b.router = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
	if b.src, err = harness.CopyExample(b.flags.Example, filepath.Join(b.work, "src")); err != nil {
		return err
	}
	// apprun creates the network on its first deploy; the benchmark only
	// names it, to remove it at the end.
	b.network = fmt.Sprintf("apprun-bench-gitpush-%d", os.Getpid())
	if b.srv, err = harness.Start(ctx, harness.Options{Work: b.work, Bin: b.flags.Bin, Network: b.network, Progress: os.Stderr}); err != nil {
		return err
	}
	var svc struct{ ID string }
	if err := b.srv.Call(ctx, "POST", "/api/v1/services", map[string]any{"name": service}, &svc); err != nil {
		return fmt.Errorf("creating the service: %w", err)
	}
	b.svcID = svc.ID
	if err := b.sshKey(ctx); err != nil {
		return err
	}
	home := b.srv.Home
	b.gitEnv = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com",
		"GIT_SSH_COMMAND=ssh -i " + b.key + " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p " + portOf(b.srv.GitSSH),
		"APPRUN_SERVER=" + b.srv.API, "APPRUN_TOKEN=" + b.srv.Token, "APPRUN_CLI_CONFIG=" + filepath.Join(home, "cli.json")}
	if _, err := b.git(ctx, "init", "-q", "-b", "main"); err != nil {
		return err
	}
	return nil
}

func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}

// sshKey makes an ed25519 key pair and adds its public half through the API.
func (b *bench) sshKey(ctx context.Context) error {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	block, err := ssh.MarshalPrivateKey(priv, "bench")
	if err != nil {
		return err
	}
	b.key = filepath.Join(b.work, "id_ed25519")
	if err := os.WriteFile(b.key, pem.EncodeToMemory(block), 0o600); err != nil {
		return err
	}
	spk, err := ssh.NewPublicKey(pub)
	if err != nil {
		return err
	}
	return b.srv.Call(ctx, "POST", "/api/v1/keys", map[string]string{"name": "bench", "publicKey": string(ssh.MarshalAuthorizedKey(spk))}, nil)
}

func (b *bench) git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = b.src.Dir, b.gitEnv
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s: %v\n%s", args[0], err, out)
	}
	return string(out), nil
}

// commitVersion writes main.go with a new version and commits it: a
// one-line change in one file.
func (b *bench) commitVersion(ctx context.Context) (string, error) {
	b.version++
	v := fmt.Sprintf("v%d-%d", b.version, time.Now().UnixNano())
	if err := b.src.SetVersion(v); err != nil {
		return "", err
	}
	if _, err := b.git(ctx, "add", "-A"); err != nil {
		return "", err
	}
	if _, err := b.git(ctx, "commit", "-q", "-m", v); err != nil {
		return "", err
	}
	return v, nil
}

// method is one way of shipping the commit: the command to run.
type method struct {
	name string
	argv func(b *bench) []string
}

var methods = []method{
	{"git push (HTTP)", func(b *bench) []string {
		u, _ := url.Parse(b.srv.API + "/git/" + service + ".git")
		u.User = url.UserPassword("git", b.srv.Token)
		return []string{"git", "push", "-q", u.String(), "main"}
	}},
	{"git push (SSH)", func(b *bench) []string {
		return []string{"git", "push", "-q", "ssh://git@" + b.srv.GitSSH + "/" + service + ".git", "main"}
	}},
	{"apprun deploy (upload)", func(b *bench) []string {
		return []string{b.srv.Bin, "deploy", ".", "--service", service}
	}},
}

type sample struct{ serving, exit time.Duration }

// ship runs one method for the committed version and returns when it was
// first served and when the command exited.
func (b *bench) ship(ctx context.Context, m method, version string) (sample, error) {
	argv := m.argv(b)
	host := service + ".localhost"
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan time.Duration, 1)
	start := time.Now()
	go func() {
		for {
			select {
			case <-pctx.Done():
				return
			case <-time.After(harness.PollEvery):
			}
			req, _ := http.NewRequestWithContext(pctx, "GET", b.srv.Router+"/", nil)
			req.Host = host
			resp, err := b.router.Do(req)
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(body), version) {
				served <- time.Since(start)
				return
			}
		}
	}()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir, cmd.Env = b.src.Dir, b.gitEnv
	out, err := cmd.CombinedOutput()
	exit := time.Since(start)
	if b.flags.Verbose {
		fmt.Fprintf(os.Stderr, "--- %s %s (%.2fs)\n%s", m.name, version, exit.Seconds(), out)
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s: %v\n%s", m.name, err, out)
	}
	select {
	case s := <-served:
		return sample{serving: s, exit: exit}, nil
	case <-time.After(10 * time.Second):
		return sample{}, fmt.Errorf("%s: version %s did not answer through the router within 10 s of the command's end", m.name, version)
	}
}

// Measure runs each method runs times and prints the table.
func (b *bench) Measure(ctx context.Context) error {
	runs := b.flags.Runs
	v, err := b.commitVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "first push (cold build cache) ...")
	first, err := b.ship(ctx, methods[0], v)
	if err != nil {
		return err
	}
	results := map[string][]sample{}
	for r := 0; r < runs; r++ {
		order := slices.Clone(methods)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, m := range order {
			v, err := b.commitVersion(ctx)
			if err != nil {
				return err
			}
			s, err := b.ship(ctx, m, v)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "run %d %-24s serving %6.2fs exit %6.2fs\n", r+1, m.name, s.serving.Seconds(), s.exit.Seconds())
			results[m.name] = append(results[m.name], s)
		}
	}
	base := median(results[methods[2].name], func(s sample) time.Duration { return s.serving })
	fmt.Println("| method | runs | serving median (s) | serving min (s) | exit median (s) | serving / upload |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	fmt.Printf("| first push, cold build cache (HTTP) | 1 | %.2f | %.2f | %.2f | - |\n", first.serving.Seconds(), first.serving.Seconds(), first.exit.Seconds())
	for _, m := range methods {
		ss := results[m.name]
		med := median(ss, func(s sample) time.Duration { return s.serving })
		fmt.Printf("| %s | %d | %.2f | %.2f | %.2f | %.2f |\n", m.name, len(ss), med.Seconds(),
			minOf(ss, func(s sample) time.Duration { return s.serving }).Seconds(),
			median(ss, func(s sample) time.Duration { return s.exit }).Seconds(), med.Seconds()/base.Seconds())
	}
	return nil
}

func median(ss []sample, f func(sample) time.Duration) time.Duration {
	ds := make([]time.Duration, len(ss))
	for i, s := range ss {
		ds[i] = f(s)
	}
	slices.Sort(ds)
	if len(ds) == 0 {
		return 0
	}
	if len(ds)%2 == 1 {
		return ds[len(ds)/2]
	}
	return (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
}

func minOf(ss []sample, f func(sample) time.Duration) time.Duration {
	m := time.Duration(0)
	for i, s := range ss {
		if d := f(s); i == 0 || d < m {
			m = d
		}
	}
	return m
}

// Server is the server, for the log in an error report.
func (b *bench) Server() *harness.Server { return b.srv }

// Cleanup stops the server and removes what the run made.
func (b *bench) Cleanup() {
	harness.Teardown("bench/gitpush", b.srv, harness.Leftovers{Services: []string{b.svcID}, Network: b.network}, b.work)
}
