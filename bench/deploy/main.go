// Command deploy benchmarks apprun's deploy path against the floor a user
// would otherwise pay: `docker run` of the same image until it answers.
// It starts a real `apprun serve` (its own data directory, API and router on
// free loopback ports, the local Docker engine), creates one service from
// the Go example and, side by side in one run, times:
//
//   - deploy, one file changed (warm build cache): POST of a tar.gz of the
//     source to /api/v1/services/{name}/deployments until the new version
//     answers through the router. The example's main.go is changed before
//     each run (the version string its handler prints, a one-line change
//     in one file), so the body says which version answered;
//   - rollout of a built image: POST .../rollback to the other of the two
//     newest revisions, alternating, until that revision answers through
//     the router;
//   - the floor: `docker run -d --rm -e PORT=8080 --network N --ip IP IMAGE`
//     of the same image (the revision's), then a GET of the container's
//     address every 5 ms until it answers 200.
//
// Each apprun step is reported twice: "serving" is the first 200 from the
// new version through the router (a poller GETs the router every 5 ms from
// the moment the stream says the new instances start), and "done" is the
// end of the deployment's NDJSON stream (which waits for the old instances
// to drain and stop) plus one GET through the router that must answer 200
// from the new version. The floor is timed from the start of `docker run`
// to the first 200. Which of apprun and the floor goes first alternates per
// run. A second table splits the time into phases: apprun's "-----> "
// steps and the build lifecycle's "===> " phases, timed as the stream's
// lines arrive, and the engine's create and start events of the new
// container (and of the floor's), followed with `docker events`.
//
//	go run ./bench/deploy              # 5 runs of each step
//	go run ./bench/deploy -runs 9 -v   # -v: each deployment's steps
//
// It needs the Docker engine and the builder images (`apprun builder
// bootstrap`). apprun's instances and the floor's containers share one
// bridge network the benchmark creates (isolated like apprun's default,
// passed as APPRUN_DEPLOY_NETWORK). At the end, and on Ctrl-C, it stops the
// server (SIGTERM), removes its containers (by the installation's label),
// the images and build cache volumes of the service, the network and the
// temporary directory.
//
// The docker CLI is run with argv, never a shell; the benchmark does not
// import the Docker SDK (see imports_test.go).
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/apprun/apprun/spec"
)

// service is the name of the benchmark's service; the router answers for
// it at Host service+".localhost".
const service = "bench-go"

// pollEvery is the poll period of both the router poller and the floor's.
const pollEvery = 5 * time.Millisecond

func main() {
	os.Exit(run())
}

func run() int {
	runs := flag.Int("runs", 5, "runs of each step (median and min are reported)")
	example := flag.String("example", "examples/go", "the Go example to deploy (its main.go prints \"hello from go\")")
	bin := flag.String("apprun", "", "the apprun binary (default: go build ./cmd/apprun into the temporary directory)")
	verbose := flag.Bool("v", false, "print each deployment's steps with their times")
	flag.Parse()
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench/deploy: -runs must be at least 1")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b := &bench{verbose: *verbose, stamp: time.Now().Unix(), pid: os.Getpid(), versions: map[string]string{}}
	err := b.setup(ctx, *example, *bin)
	if err == nil {
		err = b.measure(ctx, *runs)
	}
	b.cleanup()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted (%w); removed what the run made", err)
		}
		fmt.Fprintln(os.Stderr, "bench/deploy:", err)
		if tail := b.serverTail(40); tail != "" && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "last lines of the server's log:\n%s\n", tail)
		}
		return 1
	}
	return 0
}

// bench is one run's state: the server, the service and what to clean up.
type bench struct {
	verbose bool
	stamp   int64 // the run's start, in versions and names
	pid     int

	work    string // temporary directory: binary, data dir, HOME, source copy
	src     string // the copy of the example that gets deployed
	mainGo  []byte // its main.go, prepared to print benchVersion
	network string
	subnet  netip.Prefix // the network's; floor containers take static IPs from its upper half
	floorN  int

	srv        *exec.Cmd
	srvDone    chan struct{}
	logMu      sync.Mutex
	logLines   []string // the server's stderr, last lines
	api, route string
	token      string
	svcID      string
	install    string

	apiClient *http.Client // API calls
	router    *http.Client // GETs through the router
	direct    *http.Client // the floor's GETs
	floors    []string     // names of floor containers started

	versions map[string]string // revision ID → the version its image serves
	events   *engineEvents
}

// ---- setup ----

func (b *bench) setup(ctx context.Context, example, bin string) error {
	var err error
	if b.work, err = os.MkdirTemp("", "apprun-bench-deploy-"); err != nil {
		return err
	}
	b.apiClient = &http.Client{}
	b.router = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}
	b.direct = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

	// The source: a copy whose handler prints a version constant, so the
	// body says which revision answered.
	b.src = filepath.Join(b.work, "src")
	if err := copyDir(example, b.src); err != nil {
		return fmt.Errorf("copying %s: %w", example, err)
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

	if bin == "" {
		bin = filepath.Join(b.work, "apprun")
		fmt.Fprintln(os.Stderr, "building apprun ...")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/apprun/apprun/cmd/apprun").CombinedOutput()
		if err != nil {
			return fmt.Errorf("building apprun: %v\n%s", err, out)
		}
	}
	if err := b.makeNetwork(ctx); err != nil {
		return err
	}
	if err := b.startServer(ctx, bin); err != nil {
		return err
	}
	var svc spec.Service
	if err := b.call(ctx, http.MethodPost, "/api/v1/services", map[string]any{"name": service}, &svc); err != nil {
		return fmt.Errorf("creating the service: %w", err)
	}
	b.svcID = svc.ID
	return nil
}

// makeNetwork creates the bridge network both apprun's instances and the
// floor's containers run on. Static IPs need a subnet given at creation, so
// the engine picks a free one first (a throwaway network), and the real
// network takes it with dynamic addresses (apprun's) limited to its lower
// half; the floor's containers get static addresses in the upper half.
func (b *bench) makeNetwork(ctx context.Context) error {
	b.network = fmt.Sprintf("apprun-bench-deploy-%d", b.pid)
	if out, err := docker(ctx, "network", "create", b.network); err != nil {
		return fmt.Errorf("creating a network: %v: %s", err, out)
	}
	out, err := docker(ctx, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}", b.network)
	_, _ = docker(context.WithoutCancel(ctx), "network", "rm", b.network)
	if err != nil {
		return fmt.Errorf("inspecting the network: %v: %s", err, out)
	}
	for f := range strings.FieldsSeq(string(out)) {
		if p, err := netip.ParsePrefix(f); err == nil && p.Addr().Is4() && p.Bits() <= 23 {
			b.subnet = p.Masked()
			break
		}
	}
	if !b.subnet.IsValid() {
		return fmt.Errorf("the engine gave the network no IPv4 subnet of /23 or larger (%q)", strings.TrimSpace(string(out)))
	}
	lower := netip.PrefixFrom(b.subnet.Addr(), b.subnet.Bits()+1)
	if out, err := docker(ctx, "network", "create", "--subnet", b.subnet.String(), "--ip-range", lower.String(),
		"-o", "com.docker.network.bridge.enable_icc=false", b.network); err != nil {
		b.network = ""
		return fmt.Errorf("creating network %s: %v: %s", b.subnet, err, out)
	}
	return nil
}

// floorIP is the n-th static address for a floor container: in the
// subnet's upper half, a different one each time.
func (b *bench) floorIP(n int) string {
	a := b.subnet.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += 1<<(32-b.subnet.Bits()-1) + 10 + uint32(n%200)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
}

var (
	servingRE = regexp.MustCompile(`api=(http://127\.0\.0\.1:\d+) router=(http://127\.0\.0\.1:\d+)`)
	tokenRE   = regexp.MustCompile(`(?m)^\s+(apprun_\S+)$`)
)

func (b *bench) startServer(ctx context.Context, bin string) error {
	data, home := filepath.Join(b.work, "data"), filepath.Join(b.work, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", "--data-dir", data, "--api-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--save-cli-login=false")
	cmd.Env = append(os.Environ(), "HOME="+home, "APPRUN_CONFIG=", "APPRUN_BUILD_BOOTSTRAP=false", "APPRUN_DEPLOY_NETWORK="+b.network)
	// Its own process group, so Ctrl-C reaches only the benchmark, which
	// stops the server in order; and SIGTERM if the benchmark dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	var stdout syncBuffer
	cmd.Stdout = &stdout
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
		b.api, b.route = a[0], a[1]
	case <-b.srvDone:
		return errors.New("apprun serve exited before serving")
	case <-time.After(60 * time.Second):
		return errors.New("apprun serve did not start within 60 s")
	case <-ctx.Done():
		return ctx.Err()
	}
	for deadline := time.Now().Add(10 * time.Second); b.token == ""; {
		if m := tokenRE.FindStringSubmatch(stdout.String()); m != nil {
			b.token = m[1]
		} else if time.Now().After(deadline) {
			return fmt.Errorf("apprun serve printed no admin token; stdout:\n%s", stdout.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	id, err := os.ReadFile(filepath.Join(data, "installation-id"))
	if err != nil {
		return fmt.Errorf("reading the installation ID: %w", err)
	}
	b.install = strings.TrimSpace(string(id))
	b.events, err = watchEvents(b.install)
	return err
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

// ---- measuring ----

// timeline is one apprun deployment: when each step line of its stream
// arrived and when the new version first answered, as offsets from the POST.
type timeline struct {
	steps   map[string]time.Duration // by step key (see stepKeys)
	builder time.Duration            // the builder's own "Built ... (X s)"
	serving time.Duration            // first 200 from the new version through the router (the poller)
	end     time.Duration            // the stream's last event
	done    time.Duration            // end + one GET through the router answering 200 from the new version
	dep     spec.Deployment
	start   time.Time
	// lifecycle are the build's "===> PHASE" lines in the order they came;
	// their times are in steps as "lc:PHASE".
	lifecycle []string
}

// floorRun is one `docker run` of the floor, with the engine's events.
type floorRun struct {
	total            time.Duration // docker run start → first 200
	created, started time.Duration // the engine's create and start events, from the docker run start
}

// stepKeys name the deployer's step lines by their prefix.
var stepKeys = []struct{ key, prefix string }{
	{"receiving", "-----> Receiving source"},
	{"building", "-----> Building"},
	{"built", "-----> Built revision"},
	{"starting", "-----> Starting revision"},
	{"healthy", "-----> Healthy"},
	{"routing", "-----> Routing"},
	{"draining", "-----> Draining"},
	{"serves", "-----> Revision #"},
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;]*m`)

var builtRE = regexp.MustCompile(`^-----> Built \S+ \(\S+, ([0-9.]+)s\)`)

// stepEvent is one line of a deployment's NDJSON stream.
type stepEvent struct {
	Log        *string          `json:"log"`
	Deployment *spec.Deployment `json:"deployment"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// deploy POSTs to path (a deployment with an archive body, or a rollback
// with a JSON body), reads the stream to its end, and times the first 200
// through the router whose body contains want.
func (b *bench) deploy(ctx context.Context, label, path, contentType string, body []byte, want string) (timeline, error) {
	t := timeline{steps: map[string]time.Duration{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.api+path, bytes.NewReader(body))
	if err != nil {
		return t, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", contentType)
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	served := make(chan time.Time, 1)
	polling := false

	start := time.Now()
	t.start = start
	resp, err := b.apiClient.Do(req)
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return t, fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var last stepEvent
	for sc.Scan() {
		at := time.Since(start)
		var ev stepEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return t, fmt.Errorf("a stream line is not JSON: %q", clip(sc.Text()))
		}
		if ev.Log == nil {
			last = ev
			t.end = at
			break
		}
		line := ansiRE.ReplaceAllString(*ev.Log, "")
		for _, s := range stepKeys {
			if _, seen := t.steps[s.key]; !seen && strings.HasPrefix(line, s.prefix) {
				t.steps[s.key] = at
				if b.verbose {
					fmt.Fprintf(os.Stderr, "  %s %7.3fs %s\n", label, at.Seconds(), line)
				}
			}
		}
		if name, ok := strings.CutPrefix(line, "===> "); ok {
			if _, seen := t.steps["lc:"+name]; !seen {
				t.steps["lc:"+name] = at
				t.lifecycle = append(t.lifecycle, name)
				if b.verbose {
					fmt.Fprintf(os.Stderr, "  %s %7.3fs %s\n", label, at.Seconds(), line)
				}
			}
		}
		if m := builtRE.FindStringSubmatch(line); m != nil {
			if f, err := strconv.ParseFloat(m[1], 64); err == nil {
				t.builder = time.Duration(f * float64(time.Second))
			}
		}
		// The new instances start: from now on, watch the router.
		if !polling && strings.HasPrefix(line, "-----> Starting revision") {
			polling = true
			go func() {
				if at, err := b.poll(pollCtx, b.router, b.route+"/", service+".localhost", want); err == nil {
					served <- at
				}
			}()
		}
	}
	if err := sc.Err(); err != nil {
		return t, fmt.Errorf("reading the stream: %w", err)
	}
	if last.Error != nil {
		return t, fmt.Errorf("the deployment failed: %s: %s", last.Error.Code, last.Error.Message)
	}
	if last.Deployment == nil {
		return t, errors.New("the stream ended without its last event")
	}
	t.dep = *last.Deployment
	if t.dep.State != spec.StateSucceeded {
		return t, fmt.Errorf("deployment %s ended %s: %s", t.dep.ID, t.dep.State, t.dep.Reason)
	}
	code, got, err := get(ctx, b.router, b.route+"/", service+".localhost")
	t.done = time.Since(start)
	if err != nil {
		return t, fmt.Errorf("GET through the router after the deployment: %w", err)
	}
	if code != http.StatusOK || !strings.Contains(got, want) {
		return t, fmt.Errorf("GET through the router after the deployment answered %d %q, want 200 with %q", code, clip(got), want)
	}
	if !polling {
		return t, errors.New("the stream had no \"Starting revision\" step")
	}
	select {
	case at := <-served:
		t.serving = at.Sub(start)
	case <-time.After(5 * time.Second):
		return t, errors.New("the router poller never saw the new version")
	}
	if b.verbose {
		fmt.Fprintf(os.Stderr, "  %s %7.3fs first 200 from the new version through the router\n", label, t.serving.Seconds())
		fmt.Fprintf(os.Stderr, "  %s %7.3fs stream ended (%s); %7.3fs GET 200\n", label, t.end.Seconds(), t.dep.State, t.done.Seconds())
	}
	return t, nil
}

// poll GETs url with Host host every pollEvery until it answers 200 with a
// body containing want, and returns when that answer arrived.
func (b *bench) poll(ctx context.Context, c *http.Client, url, host, want string) (time.Time, error) {
	for {
		code, body, err := get(ctx, c, url, host)
		if err == nil && code == http.StatusOK && strings.Contains(body, want) {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func get(ctx context.Context, c *http.Client, url, host string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(body), err
}

// floor runs image with `docker run` on the benchmark's network and times
// from the start of the command to the first 200 at the container's
// address; the container is removed after.
func (b *bench) floor(ctx context.Context, image string) (floorRun, error) {
	b.floorN++
	name := fmt.Sprintf("apprun-bench-deploy-%d-%d", b.pid, b.floorN)
	ip := b.floorIP(b.floorN)
	b.floors = append(b.floors, name)
	defer func() { _, _ = docker(context.WithoutCancel(ctx), "rm", "-f", name) }()
	pctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	if out, err := docker(pctx, "run", "-d", "--rm", "--name", name, "--label", "io.apprun.bench=deploy",
		"-e", "PORT=8080", "--network", b.network, "--ip", ip, image); err != nil {
		return floorRun{}, fmt.Errorf("docker run %s: %v: %s", image, err, out)
	}
	at, err := b.poll(pctx, b.direct, "http://"+ip+":8080/", "", "hello from go")
	if err != nil {
		return floorRun{}, fmt.Errorf("%s (%s) never answered 200: %w", name, image, err)
	}
	f := floorRun{total: at.Sub(start)}
	if ev, ok := b.events.wait("name="+name, 2*time.Second); ok {
		f.created, f.started = ev.created.Sub(start), ev.started.Sub(start)
	}
	return f, nil
}

// version writes main.go with a new version and returns it and the
// archive of the source.
func (b *bench) version(n int) (string, []byte, error) {
	v := fmt.Sprintf("v%d-%d", n, b.stamp)
	src := append(slices.Clone(b.mainGo), fmt.Sprintf("\n// benchVersion is set by bench/deploy.\nconst benchVersion = %q\n", v)...)
	if err := os.WriteFile(filepath.Join(b.src, "main.go"), src, 0o644); err != nil {
		return "", nil, err
	}
	archive, err := tarGz(b.src)
	return v, archive, err
}

// result collects one step's runs.
type result struct {
	lines  []timeline
	floors []floorRun
}

func (r *result) serving() []time.Duration {
	return collect(r.lines, func(t timeline) (time.Duration, bool) { return t.serving, true })
}

func (r *result) done() []time.Duration {
	return collect(r.lines, func(t timeline) (time.Duration, bool) { return t.done, true })
}

func (r *result) floor() []time.Duration {
	return collect(r.floors, func(f floorRun) (time.Duration, bool) { return f.total, true })
}

// floorPhase is, per floor run, the time from mark a to mark b ("" is the
// docker run start; "created", "started" the engine's events; "200" the
// first answer).
func (r *result) floorPhase(a, b string) []time.Duration {
	return collect(r.floors, func(f floorRun) (time.Duration, bool) {
		at := func(k string) (time.Duration, bool) {
			switch k {
			case "created":
				return f.created, f.created > 0
			case "started":
				return f.started, f.started > 0
			case "200":
				return f.total, true
			}
			return 0, true
		}
		x, okA := at(a)
		y, okB := at(b)
		return y - x, okA && okB
	})
}

// between is, per run, the time from mark a to mark b: "" is the POST;
// "end" and "done" the stream's end and the GET after it; "serving" the
// first 200 of the new version; "created" and "started" the engine's
// events for the new instance; anything else a step key.
func (r *result) between(a, b string) []time.Duration {
	return collect(r.lines, func(t timeline) (time.Duration, bool) {
		at := func(k string) (time.Duration, bool) {
			switch k {
			case "":
				return 0, true
			case "end":
				return t.end, true
			case "done":
				return t.done, true
			case "serving":
				return t.serving, true
			}
			d, ok := t.steps[k]
			return d, ok
		}
		x, okA := at(a)
		y, okB := at(b)
		return y - x, okA && okB
	})
}

func (r *result) builders() []time.Duration {
	return collect(r.lines, func(t timeline) (time.Duration, bool) { return t.builder, t.builder > 0 })
}

func collect[T any](xs []T, f func(T) (time.Duration, bool)) []time.Duration {
	var out []time.Duration
	for _, x := range xs {
		if d, ok := f(x); ok {
			out = append(out, d)
		}
	}
	return out
}

func (b *bench) measure(ctx context.Context, runs int) error {
	load0 := loadavg()
	began := time.Now().UTC()
	deployPath := "/api/v1/services/" + service + "/deployments"
	deploy := func(n int) (timeline, error) {
		v, archive, err := b.version(n)
		if err != nil {
			return timeline{}, err
		}
		t, err := b.deploy(ctx, fmt.Sprintf("deploy #%d", n), deployPath, "application/gzip", archive, v)
		if err == nil {
			b.versions[t.dep.RevisionID] = v
			b.engineTimes(&t)
		}
		return t, err
	}

	// The first deploy builds with a cold cache (informational, 1 run).
	fmt.Fprintln(os.Stderr, "first deploy (cold build cache) ...")
	var first result
	tl, err := deploy(0)
	if err != nil {
		return fmt.Errorf("first deploy: %w", err)
	}
	img, err := b.revisionImage(ctx, tl.dep.RevisionID)
	if err != nil {
		return err
	}
	fl, err := b.floor(ctx, img)
	if err != nil {
		return err
	}
	first.lines, first.floors = append(first.lines, tl), append(first.floors, fl)
	fmt.Fprintf(os.Stderr, "first deploy: apprun serving %.2fs, done %.2fs; docker run %.3fs\n", tl.serving.Seconds(), tl.done.Seconds(), fl.total.Seconds())

	// Deploys with one file changed, warm cache. The floor runs the image
	// serving at that moment: the new one after apprun, the previous one
	// before (the same app, one string apart).
	var dep result
	for i := 1; i <= runs; i++ {
		var t timeline
		var f floorRun
		var errA, errF error
		if i%2 == 1 {
			if t, errA = deploy(i); errA == nil {
				if img, errA = b.revisionImage(ctx, t.dep.RevisionID); errA == nil {
					f, errF = b.floor(ctx, img)
				}
			}
		} else {
			if f, errF = b.floor(ctx, img); errF == nil {
				if t, errA = deploy(i); errA == nil {
					img, errA = b.revisionImage(ctx, t.dep.RevisionID)
				}
			}
		}
		if err := errors.Join(errA, errF); err != nil {
			return fmt.Errorf("deploy run %d: %w", i, err)
		}
		dep.lines, dep.floors = append(dep.lines, t), append(dep.floors, f)
		fmt.Fprintf(os.Stderr, "deploy #%d: apprun serving %.2fs, done %.2fs (build %.2fs); docker run %.3fs\n",
			i, t.serving.Seconds(), t.done.Seconds(), (t.steps["built"] - t.steps["building"]).Seconds(), f.total.Seconds())
	}

	// Rollouts of built images: back and forth between the two newest
	// revisions.
	var revs struct {
		Revisions []spec.Revision `json:"revisions"`
	}
	if err := b.call(ctx, http.MethodGet, "/api/v1/services/"+service+"/revisions", nil, &revs); err != nil {
		return err
	}
	if len(revs.Revisions) < 2 {
		return fmt.Errorf("the service has %d revisions, want at least 2", len(revs.Revisions))
	}
	pair := [2]spec.Revision{revs.Revisions[1], revs.Revisions[0]} // [0] serves now: roll to [1] first
	var roll result
	for i := 1; i <= runs; i++ {
		target := pair[(i-1)%2]
		v, ok := b.versions[target.ID]
		if !ok {
			return fmt.Errorf("revision %s was not made by this run", target.ID)
		}
		body, _ := json.Marshal(map[string]string{"revision": target.ID})
		rollback := func() (timeline, error) {
			t, err := b.deploy(ctx, fmt.Sprintf("rollout #%d", i), "/api/v1/services/"+service+"/rollback", "application/json", body, v)
			if err == nil {
				b.engineTimes(&t)
			}
			return t, err
		}
		var t timeline
		var f floorRun
		var errA, errF error
		if i%2 == 1 {
			if t, errA = rollback(); errA == nil {
				f, errF = b.floor(ctx, target.Image)
			}
		} else {
			if f, errF = b.floor(ctx, target.Image); errF == nil {
				t, errA = rollback()
			}
		}
		if err := errors.Join(errA, errF); err != nil {
			return fmt.Errorf("rollout run %d: %w", i, err)
		}
		roll.lines, roll.floors = append(roll.lines, t), append(roll.floors, f)
		fmt.Fprintf(os.Stderr, "rollout #%d to revision #%d: apprun serving %.3fs, done %.3fs; docker run %.3fs\n",
			i, target.Number, t.serving.Seconds(), t.done.Seconds(), f.total.Seconds())
	}
	load1 := loadavg()

	fmt.Printf("apprun deploy path vs docker run, %s, %d cores, %s; load average at start %s, at end %s\n\n",
		began.Format("2006-01-02 15:04 MST"), runtime.NumCPU(), runtime.Version(), load0, load1)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "step\truns\tapprun median (s)\tapprun min (s)\tdocker run median (s)\tdocker run min (s)\tapprun/floor (medians)\t(mins)\ttarget\t")
	row := func(name string, a, f []time.Duration, target string) {
		fmt.Fprintf(w, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.2f\t%.2f\t%s\t\n", name, len(a),
			median(a).Seconds(), slices.Min(a).Seconds(), median(f).Seconds(), slices.Min(f).Seconds(),
			median(a).Seconds()/median(f).Seconds(), slices.Min(a).Seconds()/slices.Min(f).Seconds(), target)
	}
	row("first deploy, cold cache: serving", first.serving(), first.floor(), "(informational)")
	row("deploy, 1 file changed: serving", dep.serving(), dep.floor(), "≤ 10 s (absolute)")
	row("deploy, 1 file changed: done + GET", dep.done(), dep.floor(), "≤ 10 s (absolute)")
	row("rollout of a built image: serving", roll.serving(), roll.floor(), "≤ 1.5×")
	row("rollout of a built image: done + GET", roll.done(), roll.floor(), "≤ 1.5×")
	w.Flush()

	fmt.Println()
	fmt.Println("Phases, median of the runs (s): apprun's from its stream's step lines as they arrived and the")
	fmt.Println("engine's container events; docker run's (of the rollout step) from the engine's events:")
	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "phase\tdeploy\trollout\tdocker run\t")
	phase := func(name string, d, r, f []time.Duration) {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", name, fmtMedian(d), fmtMedian(r), fmtMedian(f))
	}
	phase("POST → Building (upload, unpack, record)", dep.between("", "building"), nil, nil)
	phase("build (Building → Built revision)", dep.between("building", "built"), nil, nil)
	phase("  of which the builder's own time", dep.builders(), nil, nil)
	if lc := dep.lines[0].lifecycle; len(lc) > 0 {
		phase("  Building → "+lc[0], dep.between("building", "lc:"+lc[0]), nil, nil)
		for k, name := range lc {
			next, to := "built", "Built revision"
			if k+1 < len(lc) {
				next, to = "lc:"+lc[k+1], lc[k+1]
			}
			phase("  "+name+" → "+to, dep.between("lc:"+name, next), nil, nil)
		}
	}
	phase("→ Starting revision", dep.between("built", "starting"), roll.between("", "starting"), nil)
	phase("→ container created (engine event)", dep.between("starting", "created"), roll.between("starting", "created"), roll.floorPhase("", "created"))
	phase("created → started (engine events)", dep.between("created", "started"), roll.between("created", "started"), roll.floorPhase("created", "started"))
	phase("started → Healthy / first 200 direct", dep.between("started", "healthy"), roll.between("started", "healthy"), roll.floorPhase("started", "200"))
	phase("Healthy → Routing (publish routes)", dep.between("healthy", "routing"), roll.between("healthy", "routing"), nil)
	phase("Routing → first 200 through the router", dep.between("routing", "serving"), roll.between("routing", "serving"), nil)
	phase("Routing → stream end (drain + stop old)", dep.between("routing", "end"), roll.between("routing", "end"), nil)
	phase("stream end → GET 200", dep.between("end", "done"), roll.between("end", "done"), nil)
	phase("total to serving / first 200", dep.serving(), roll.serving(), roll.floor())
	phase("total to done + GET", dep.done(), roll.done(), nil)
	w.Flush()
	return nil
}

// engineTimes adds the engine's create and start events of the new web
// instance of t's deployment to t.steps, as "created" and "started".
func (b *bench) engineTimes(t *timeline) {
	ev, ok := b.events.wait("io.apprun.deployment="+t.dep.ID, 2*time.Second)
	if !ok {
		return
	}
	t.steps["created"] = ev.created.Sub(t.start)
	t.steps["started"] = ev.started.Sub(t.start)
}

// revisionImage is the image of one of the service's revisions.
func (b *bench) revisionImage(ctx context.Context, id string) (string, error) {
	var revs struct {
		Revisions []spec.Revision `json:"revisions"`
	}
	if err := b.call(ctx, http.MethodGet, "/api/v1/services/"+service+"/revisions", nil, &revs); err != nil {
		return "", err
	}
	for _, r := range revs.Revisions {
		if r.ID == id {
			if r.Image == "" {
				return "", fmt.Errorf("revision %s has no image", id)
			}
			return r.Image, nil
		}
	}
	return "", fmt.Errorf("revision %s is not listed", id)
}

// call is one JSON API request.
func (b *bench) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.api+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.apiClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, clip(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// engineEvents follows the engine's container create and start events of
// apprun's web instances (keyed "io.apprun.deployment=ID") and of the
// floor's containers (keyed "name=NAME").
type engineEvents struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	seen map[string]*containerTimes
}

type containerTimes struct{ created, started time.Time }

func watchEvents(install string) (*engineEvents, error) {
	e := &engineEvents{seen: map[string]*containerTimes{}}
	e.cmd = exec.Command("docker", "events", "--format", "{{json .}}",
		"--filter", "type=container", "--filter", "event=create", "--filter", "event=start")
	out, err := e.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("docker events: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev struct {
				Action   string `json:"Action"`
				TimeNano int64  `json:"timeNano"`
				Actor    struct {
					Attributes map[string]string `json:"Attributes"`
				} `json:"Actor"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			a := ev.Actor.Attributes
			var key string
			switch {
			case a["io.apprun.installation"] == install && a["io.apprun.process"] == "web":
				key = "io.apprun.deployment=" + a["io.apprun.deployment"]
			case a["io.apprun.bench"] == "deploy":
				key = "name=" + a["name"]
			default:
				continue
			}
			at := time.Unix(0, ev.TimeNano)
			e.mu.Lock()
			c := e.seen[key]
			if c == nil {
				c = &containerTimes{}
				e.seen[key] = c
			}
			switch {
			case ev.Action == "create" && c.created.IsZero():
				c.created = at
			case ev.Action == "start" && c.started.IsZero():
				c.started = at
			}
			e.mu.Unlock()
		}
	}()
	return e, nil
}

// wait returns the times of key's container once both events arrived.
func (e *engineEvents) wait(key string, timeout time.Duration) (containerTimes, bool) {
	for deadline := time.Now().Add(timeout); ; {
		e.mu.Lock()
		c, ok := e.seen[key]
		var ct containerTimes
		if ok {
			ct = *c
		}
		e.mu.Unlock()
		if ok && !ct.created.IsZero() && !ct.started.IsZero() {
			return ct, true
		}
		if time.Now().After(deadline) {
			return containerTimes{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *engineEvents) stop() {
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
}

// ---- cleanup ----

// cleanup stops the server and removes everything the run made. It runs on
// a fresh context: after Ctrl-C too.
func (b *bench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if b.events != nil {
		b.events.stop()
	}
	if b.srv != nil && b.srv.Process != nil {
		_ = b.srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.srvDone:
		case <-time.After(45 * time.Second):
			fmt.Fprintln(os.Stderr, "bench/deploy: apprun serve did not stop within 45 s of SIGTERM; killing it")
			_ = b.srv.Process.Kill()
			<-b.srvDone
		}
	}
	var ids []string
	for _, filter := range []string{"label=io.apprun.installation=" + b.install, "label=io.apprun.service=" + b.svcID} {
		if strings.HasSuffix(filter, "=") {
			continue // nothing of ours to match
		}
		if out, err := docker(ctx, "ps", "-aq", "--filter", filter); err == nil {
			ids = append(ids, strings.Fields(string(out))...)
		}
	}
	ids = append(ids, b.floors...)
	if len(ids) > 0 {
		slices.Sort(ids)
		_, _ = docker(ctx, append([]string{"rm", "-f"}, slices.Compact(ids)...)...)
	}
	if b.svcID != "" {
		repo := "apprun/app-" + b.svcID
		if out, err := docker(ctx, "images", "--format", "{{.Repository}}:{{.Tag}}", repo); err == nil {
			if tags := strings.Fields(string(out)); len(tags) > 0 {
				if out, err := docker(ctx, append([]string{"rmi", "-f"}, tags...)...); err != nil {
					fmt.Fprintf(os.Stderr, "bench/deploy: removing the images: %v: %s\n", err, out)
				}
			}
		}
		// The builder's cache volumes are named after the image's
		// repository ("apprun-cache-apprun_app-<service ID>-...").
		if out, err := docker(ctx, "volume", "ls", "-q", "--filter", "name=apprun_app-"+b.svcID); err == nil {
			if vols := strings.Fields(string(out)); len(vols) > 0 {
				_, _ = docker(ctx, append([]string{"volume", "rm", "-f"}, vols...)...)
			}
		}
	}
	if b.network != "" {
		if out, err := docker(ctx, "network", "rm", b.network); err != nil {
			fmt.Fprintf(os.Stderr, "bench/deploy: removing network %s: %v: %s\n", b.network, err, out)
		}
	}
	if b.work != "" {
		_ = os.RemoveAll(b.work)
	}
}

// ---- helpers ----

// docker runs the docker CLI with args (no shell) and returns its output.
func docker(ctx context.Context, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, "docker", args...).CombinedOutput()
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtMedian(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", median(ds).Seconds())
}

func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// copyDir copies the regular files and directories of src to dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		}
		return nil // no symlinks or devices in the examples
	})
}

// tarGz is a tar.gz of dir's regular files and directories, without .git.
func tarGz(dir string) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
