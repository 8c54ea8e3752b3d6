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
// shell.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

const service = "bench-git"

const pollEvery = 5 * time.Millisecond

func main() { os.Exit(run()) }

func run() int {
	runs := flag.Int("runs", 5, "runs of each method (median and min are reported)")
	example := flag.String("example", "examples/go", "the Go example (its main.go prints \"hello from go\")")
	bin := flag.String("apprun", "", "the apprun binary (default: go build ./cmd/apprun into the temporary directory)")
	verbose := flag.Bool("v", false, "print each command's output")
	flag.Parse()
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench/gitpush: -runs must be at least 1")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{verbose: *verbose}
	err := b.setup(ctx, *example, *bin)
	if err == nil {
		err = b.measure(ctx, *runs)
	}
	b.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/gitpush:", err)
		if tail := b.serverTail(30); tail != "" {
			fmt.Fprintf(os.Stderr, "last lines of the server's log:\n%s\n", tail)
		}
		return 1
	}
	return 0
}

type bench struct {
	verbose bool
	work    string
	bin     string
	src     string
	mainGo  []byte
	network string
	dataDir string

	srv      *exec.Cmd
	srvDone  chan struct{}
	logMu    sync.Mutex
	logLines []string
	api      string
	route    string
	token    string
	sshAddr  string
	key      string
	svcID    string
	gitEnv   []string
	router   *http.Client
	version  int
}

var (
	servingRE = regexp.MustCompile(`api=(http://127\.0\.0\.1:\d+) router=(http://127\.0\.0\.1:\d+).* git_ssh=(127\.0\.0\.1:\d+)`)
	tokenRE   = regexp.MustCompile(`(?m)^\s+(apprun_\S+)$`)
)

func (b *bench) setup(ctx context.Context, example, bin string) error {
	var err error
	if b.work, err = os.MkdirTemp("", "apprun-bench-gitpush-"); err != nil {
		return err
	}
	b.router = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
	b.src = filepath.Join(b.work, "src")
	if out, err := exec.CommandContext(ctx, "cp", "-r", "--", example, b.src).CombinedOutput(); err != nil {
		return fmt.Errorf("copying %s: %v %s", example, err, out)
	}
	orig, err := os.ReadFile(filepath.Join(b.src, "main.go"))
	if err != nil {
		return err
	}
	const line = `fmt.Fprintln(w, "hello from go")`
	if !bytes.Contains(orig, []byte(line)) {
		return fmt.Errorf("%s/main.go has no %s line to put the version in", example, line)
	}
	b.mainGo = bytes.Replace(orig, []byte(line), []byte(`fmt.Fprintln(w, "hello from go", benchVersion)`), 1)
	if b.bin = bin; b.bin == "" {
		b.bin = filepath.Join(b.work, "apprun")
		fmt.Fprintln(os.Stderr, "building apprun ...")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", b.bin, "github.com/apprun/apprun/cmd/apprun").CombinedOutput(); err != nil {
			return fmt.Errorf("building apprun: %v\n%s", err, out)
		}
	}
	b.network = fmt.Sprintf("apprun-bench-gitpush-%d", os.Getpid())
	if err := b.startServer(ctx); err != nil {
		return err
	}
	var svc struct{ ID string }
	if err := b.call(ctx, "POST", "/api/v1/services", map[string]any{"name": service}, &svc); err != nil {
		return fmt.Errorf("creating the service: %w", err)
	}
	b.svcID = svc.ID
	if err := b.sshKey(ctx); err != nil {
		return err
	}
	home := filepath.Join(b.work, "home")
	b.gitEnv = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com", "GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com",
		"GIT_SSH_COMMAND=ssh -i " + b.key + " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -p " + portOf(b.sshAddr),
		"APPRUN_SERVER=" + b.api, "APPRUN_TOKEN=" + b.token, "APPRUN_CLI_CONFIG=" + filepath.Join(home, "cli.json")}
	if _, err := b.git(ctx, "init", "-q", "-b", "main"); err != nil {
		return err
	}
	return nil
}

func portOf(addr string) string {
	_, port, _ := strings.Cut(addr, ":")
	return port
}

func (b *bench) startServer(ctx context.Context) error {
	b.dataDir = filepath.Join(b.work, "data")
	home := filepath.Join(b.work, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	cmd := exec.Command(b.bin, "serve", "--data-dir", b.dataDir, "--api-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--save-cli-login=false")
	cmd.Env = append(os.Environ(), "HOME="+home, "APPRUN_CONFIG=", "APPRUN_BUILD_BOOTSTRAP=false",
		"APPRUN_DEPLOY_NETWORK="+b.network, "APPRUN_GIT_SSH_ADDR=127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	var stdout bytes.Buffer
	var stdoutMu sync.Mutex
	cmd.Stdout = writerFunc(func(p []byte) (int, error) { stdoutMu.Lock(); defer stdoutMu.Unlock(); return stdout.Write(p) })
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting apprun serve: %w", err)
	}
	b.srv, b.srvDone = cmd, make(chan struct{})
	addrs := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			b.logMu.Lock()
			b.logLines = append(b.logLines, sc.Text())
			if len(b.logLines) > 400 {
				b.logLines = slices.Delete(b.logLines, 0, 200)
			}
			b.logMu.Unlock()
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addrs <- m[1:]:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(b.srvDone)
	}()
	select {
	case a := <-addrs:
		b.api, b.route, b.sshAddr = a[0], a[1], a[2]
	case <-b.srvDone:
		return errors.New("apprun serve exited before serving")
	case <-time.After(60 * time.Second):
		return errors.New("apprun serve did not start within 60 s")
	case <-ctx.Done():
		return ctx.Err()
	}
	for deadline := time.Now().Add(10 * time.Second); b.token == ""; {
		stdoutMu.Lock()
		m := tokenRE.FindStringSubmatch(stdout.String())
		stdoutMu.Unlock()
		if m != nil {
			b.token = m[1]
		} else if time.Now().After(deadline) {
			return errors.New("apprun serve printed no admin token")
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

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
	return b.call(ctx, "POST", "/api/v1/keys", map[string]string{"name": "bench", "publicKey": string(ssh.MarshalAuthorizedKey(spk))}, nil)
}

func (b *bench) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.api+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (b *bench) git(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir, cmd.Env = b.src, b.gitEnv
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
	src := append(slices.Clone(b.mainGo), []byte("\nconst benchVersion = \""+v+"\"\n")...)
	if err := os.WriteFile(filepath.Join(b.src, "main.go"), src, 0o644); err != nil {
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
		u, _ := url.Parse(b.api + "/git/" + service + ".git")
		u.User = url.UserPassword("git", b.token)
		return []string{"git", "push", "-q", u.String(), "main"}
	}},
	{"git push (SSH)", func(b *bench) []string {
		return []string{"git", "push", "-q", "ssh://git@" + b.sshAddr + "/" + service + ".git", "main"}
	}},
	{"apprun deploy (upload)", func(b *bench) []string {
		return []string{b.bin, "deploy", ".", "--service", service}
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
			case <-time.After(pollEvery):
			}
			req, _ := http.NewRequestWithContext(pctx, "GET", b.route+"/", nil)
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
	cmd.Dir, cmd.Env = b.src, b.gitEnv
	out, err := cmd.CombinedOutput()
	exit := time.Since(start)
	if b.verbose {
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

func (b *bench) measure(ctx context.Context, runs int) error {
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

func (b *bench) serverTail(n int) string {
	b.logMu.Lock()
	defer b.logMu.Unlock()
	l := b.logLines
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// cleanup stops the server and removes what the run made.
func (b *bench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if b.srv != nil && b.srv.Process != nil {
		_ = b.srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.srvDone:
		case <-time.After(30 * time.Second):
			_ = b.srv.Process.Kill()
			<-b.srvDone
		}
	}
	if b.dataDir != "" {
		if id, err := os.ReadFile(filepath.Join(b.dataDir, "installation-id")); err == nil {
			out, _ := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label=io.apprun.installation="+strings.TrimSpace(string(id))).Output()
			for _, c := range strings.Fields(string(out)) {
				_ = exec.CommandContext(ctx, "docker", "rm", "-f", c).Run()
			}
		}
	}
	if b.svcID != "" {
		out, _ := exec.CommandContext(ctx, "docker", "images", "-q", "--filter", "reference=apprun/app-"+b.svcID).Output()
		for _, img := range strings.Fields(string(out)) {
			_ = exec.CommandContext(ctx, "docker", "rmi", "-f", img).Run()
		}
		out, _ = exec.CommandContext(ctx, "docker", "volume", "ls", "-q", "--filter", "name=apprun_app-"+b.svcID+"-").Output()
		for _, v := range strings.Fields(string(out)) {
			_ = exec.CommandContext(ctx, "docker", "volume", "rm", "-f", v).Run()
		}
	}
	if b.network != "" {
		_ = exec.CommandContext(ctx, "docker", "network", "rm", b.network).Run()
	}
	if b.work != "" {
		os.RemoveAll(b.work)
	}
}
