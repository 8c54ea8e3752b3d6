// Command router benchmarks apprun's router against the reverse proxies a
// user would otherwise put in front of an app, side by side in one run on
// loopback: small responses ("ok"), keep-alive, 1 and 64 connections, load
// from wrk. Every target proxies to the same Go backend:
//
//   - direct: wrk straight to the backend (the baseline);
//   - apprun: router.New + Publish of one service + Serve;
//   - httputil: a tuned httputil.ReverseProxy (1024 idle connections per
//     host), the anchor of docs/targets.md;
//   - caddy: `reverse_proxy` from a generated Caddyfile (admin off, no TLS,
//     no access log);
//   - nginx: an upstream with keepalive 64, access_log off,
//     worker_processes auto, in the foreground under its own prefix.
//
// The backend, apprun and httputil run as child processes (this binary
// re-executed with -role), so no proxy shares the backend's process or the
// load generator's; Caddy and nginx are the system binaries, started with
// configs in a temporary directory. Targets run one after another, each
// with a warm-up, and the table gives requests/s, p50 and p99, and the
// ratios to direct.
//
//	apt-get install -y wrk nginx-light caddy
//	go run ./bench/router                       # proxies, then -routes 10000
//	go run ./bench/router -d 10s -conns 1,64 -routes 10000
//	go run ./bench/router -targets direct,apprun -cpuprofile /tmp/router.pprof
//	go run ./bench/router -proxies=false -routes 10000   # route table only
//
// With -routes N it also publishes N services into an in-process router and
// prints the time of one more Publish (new service, and update of an
// existing one; median of 50) and the heap per route.
//
// Everything listens on 127.0.0.1 only; every child is stopped and the
// temporary directory removed on exit (and on Ctrl-C).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/apprun/apprun/router"
	"github.com/apprun/apprun/spec"
)

// host is the Host header every request carries: the service's default host
// under apprun's default apps domain. The backend, Caddy and nginx ignore it.
const host = "bench.localhost"

func main() {
	role := flag.String("role", "", "internal: run as a child (backend, apprun, httputil)")
	listen := flag.String("listen", "", "internal: child's listen address")
	backend := flag.String("backend", "", "internal: backend address for a proxy child")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the apprun router process (all its runs, warm-ups included) to this file")
	dur := flag.Duration("d", 10*time.Second, "duration of each measured wrk run")
	warm := flag.Duration("warmup", 2*time.Second, "warm-up wrk run before each measured one")
	rounds := flag.Int("rounds", 1, "times to run the whole sequence of targets; with more than one, each round's table is printed and then the median of each figure")
	conns := flag.String("conns", "1,64", "comma-separated connection counts")
	targets := flag.String("targets", "direct,apprun,httputil,caddy,nginx", "comma-separated targets; direct is the baseline and always runs")
	proxies := flag.Bool("proxies", true, "run the proxy benchmark")
	routes := flag.Int("routes", 10000, "services in the table for the route-update benchmark; 0 skips it")
	flag.Parse()

	switch *role {
	case "backend":
		runBackend(*listen)
		return
	case "apprun":
		runApprun(*listen, *backend, *cpuprofile)
		return
	case "httputil":
		runHTTPUtil(*listen, *backend)
		return
	case "":
	default:
		fatal(fmt.Errorf("unknown role %q", *role))
	}

	if *proxies {
		cs, err := parseConns(*conns)
		if err != nil {
			fatal(err)
		}
		names := strings.Split(*targets, ",")
		if !slices.Contains(names, "direct") {
			names = append([]string{"direct"}, names...)
		}
		if err := benchProxies(names, cs, *rounds, *dur, *warm, *cpuprofile); err != nil {
			fatal(err)
		}
	}
	if *routes > 0 {
		if *proxies {
			fmt.Println()
		}
		if err := benchRoutes(*routes); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench/router:", err)
	os.Exit(1)
}

func parseConns(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad connection count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// ---- children ----

// waitSignal blocks until SIGTERM or SIGINT.
func waitSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}

func runBackend(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fatal(err)
	}
	body := []byte("ok")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})}
	go srv.Serve(ln)
	waitSignal()
	srv.Close()
}

func runApprun(addr, backend, cpuprofile string) {
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	r, err := router.New(router.Config{AppsDomain: "localhost"}, slog.New(slog.DiscardHandler))
	if err != nil {
		fatal(err)
	}
	if err := r.Publish(spec.ServiceRoutes{
		Service:   "bench",
		Revisions: []spec.RevisionRoutes{{ID: "r1", Instances: []string{backend}}},
	}); err != nil {
		fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fatal(err)
	}
	go r.Serve(ln)
	waitSignal()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.Shutdown(ctx)
}

// runHTTPUtil is the anchor of docs/targets.md: httputil.ReverseProxy with
// a transport that keeps enough idle connections.
func runHTTPUtil(addr, backend string) {
	u := &url.URL{Scheme: "http", Host: backend}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fatal(err)
	}
	srv := &http.Server{Handler: p}
	go srv.Serve(ln)
	waitSignal()
	srv.Close()
}

// ---- orchestration ----

type child struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited
}

// stop ends the child's process group: SIGTERM, then SIGKILL after 5 s.
func (c *child) stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	pgid := c.cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-c.done
	}
	c.log.Close()
}

func start(dir, name string, env []string, prog string, args ...string) (*child, error) {
	lf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(prog, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: lf, done: make(chan struct{})}
	go func() { cmd.Wait(); close(c.done) }()
	return c, nil
}

// freePort returns a loopback address nothing listens on (at the moment).
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// ready waits until addr answers 200 "ok" to a request for host.
func ready(addr string, c *child) error {
	cl := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Host = host
		resp, err := cl.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && string(b) == "ok" {
				cl.CloseIdleConnections()
				return nil
			}
			err = fmt.Errorf("status %d, body %q", resp.StatusCode, b)
		}
		last = err
		select {
		case <-c.done:
			return fmt.Errorf("%s exited before answering: %v", c.name, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s at %s not ready: %v", c.name, addr, last)
}

type result struct {
	target   string
	conns    int
	rps      float64
	p50, p99 time.Duration
	errs     string
}

func benchProxies(names []string, conns []int, rounds int, dur, warm time.Duration, cpuprofile string) error {
	for _, bin := range []string{"wrk", "caddy", "nginx"} {
		if _, err := exec.LookPath(bin); err != nil && (bin == "wrk" || slices.Contains(names, bin)) {
			return fmt.Errorf("%s not found (apt-get install -y wrk nginx-light caddy)", bin)
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "apprun-bench-router-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	var children []*child
	stopAll := func() {
		for i := len(children) - 1; i >= 0; i-- {
			children[i].stop()
		}
		children = nil
	}
	defer stopAll()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		if _, ok := <-sig; ok {
			stopAll()
			os.RemoveAll(dir)
			os.Exit(130)
		}
	}()

	backend, err := freePort()
	if err != nil {
		return err
	}
	b, err := start(dir, "backend", nil, self, "-role", "backend", "-listen", backend)
	if err != nil {
		return err
	}
	children = append(children, b)
	if err := ready(backend, b); err != nil {
		return err
	}
	addrs := map[string]string{"direct": backend}

	for _, name := range names {
		if name == "direct" {
			continue
		}
		addr, err := freePort()
		if err != nil {
			return err
		}
		var c *child
		switch name {
		case "apprun":
			args := []string{"-role", "apprun", "-listen", addr, "-backend", backend}
			if cpuprofile != "" {
				abs, err := filepath.Abs(cpuprofile)
				if err != nil {
					return err
				}
				args = append(args, "-cpuprofile", abs)
			}
			c, err = start(dir, name, nil, self, args...)
		case "httputil":
			c, err = start(dir, name, nil, self, "-role", "httputil", "-listen", addr, "-backend", backend)
		case "caddy":
			c, err = startCaddy(dir, addr, backend)
		case "nginx":
			c, err = startNginx(dir, addr, backend)
		default:
			return fmt.Errorf("unknown target %q", name)
		}
		if err != nil {
			return err
		}
		children = append(children, c)
		if err := ready(addr, c); err != nil {
			out, _ := os.ReadFile(c.log.Name())
			return fmt.Errorf("%w\n%s", err, out)
		}
		addrs[name] = addr
	}

	var all [][]result
	for round := range rounds {
		var results []result
		for _, n := range conns {
			for _, name := range names {
				addr := addrs[name]
				fmt.Fprintf(os.Stderr, "round %d: %-8s c=%-3d warm-up %v, run %v\n", round+1, name, n, warm, dur)
				if warm > 0 {
					if _, err := runWrk(addr, n, warm); err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
				}
				r, err := runWrk(addr, n, dur)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				r.target, r.conns = name, n
				results = append(results, r)
			}
		}
		if rounds > 1 {
			printTable(os.Stdout, fmt.Sprintf("round %d of %d", round+1, rounds), results)
			fmt.Println()
		}
		all = append(all, results)
	}
	title := "one round"
	if rounds > 1 {
		title = fmt.Sprintf("median of %d rounds", rounds)
	}
	printTable(os.Stdout, title, medians(all))
	return nil
}

// medians returns, for each row, the median of each figure over the rounds
// (the mean of the middle two for an even count); ratios are then taken
// between medians.
func medians(all [][]result) []result {
	med := func(vs []float64) float64 {
		slices.Sort(vs)
		n := len(vs)
		if n%2 == 1 {
			return vs[n/2]
		}
		return (vs[n/2-1] + vs[n/2]) / 2
	}
	out := slices.Clone(all[0])
	for i := range out {
		var rps, p50, p99 []float64
		var errs []string
		for _, rs := range all {
			rps = append(rps, rs[i].rps)
			p50 = append(p50, float64(rs[i].p50))
			p99 = append(p99, float64(rs[i].p99))
			if rs[i].errs != "" {
				errs = append(errs, rs[i].errs)
			}
		}
		out[i].rps = med(rps)
		out[i].p50 = time.Duration(med(p50))
		out[i].p99 = time.Duration(med(p99))
		out[i].errs = strings.Join(errs, "; ")
	}
	return out
}

func startCaddy(dir, addr, backend string) (*child, error) {
	_, port, _ := net.SplitHostPort(addr)
	cd := filepath.Join(dir, "caddy")
	if err := os.MkdirAll(cd, 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`{
	admin off
	auto_https off
	storage file_system %s
}

http://:%s {
	bind 127.0.0.1
	reverse_proxy %s
}
`, filepath.Join(cd, "data"), port, backend)
	file := filepath.Join(cd, "Caddyfile")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	env := []string{"HOME=" + cd, "XDG_CONFIG_HOME=" + filepath.Join(cd, "config"), "XDG_DATA_HOME=" + filepath.Join(cd, "data")}
	return start(dir, "caddy", env, "caddy", "run", "--config", file, "--adapter", "caddyfile")
}

func startNginx(dir, addr, backend string) (*child, error) {
	p := filepath.Join(dir, "nginx")
	for _, d := range []string{"logs", "tmp"} {
		if err := os.MkdirAll(filepath.Join(p, d), 0o755); err != nil {
			return nil, err
		}
	}
	conf := fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path %[1]s/tmp/body;
	proxy_temp_path %[1]s/tmp/proxy;
	upstream backend {
		server %[2]s;
		keepalive 64;
	}
	server {
		listen %[3]s;
		location / {
			proxy_pass http://backend;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host $host;
		}
	}
}
`, p, backend, addr)
	file := filepath.Join(p, "nginx.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	return start(dir, "nginx", nil, "nginx", "-p", p, "-e", filepath.Join(p, "logs", "error.log"), "-c", file)
}

var (
	reRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reLat = regexp.MustCompile(`(?m)^\s+(50|99)(?:\.000)?%\s+([0-9.]+)(us|ms|s)\s*$`)
	reErr = regexp.MustCompile(`(?m)^\s*(Socket errors:.*|Non-2xx or 3xx responses:.*)$`)
)

func runWrk(addr string, conns int, d time.Duration) (result, error) {
	threads := min(2, conns)
	cmd := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(conns),
		"-d"+strconv.Itoa(int(d.Round(time.Second)/time.Second))+"s", "--latency",
		"-H", "Host: "+host, "http://"+addr+"/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	return parseWrk(string(out))
}

func parseWrk(out string) (result, error) {
	var r result
	m := reRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec in wrk output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, m := range reLat.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		d := time.Duration(v * float64(unit))
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if r.p50 == 0 || r.p99 == 0 {
		return r, fmt.Errorf("no latency distribution in wrk output:\n%s", out)
	}
	var errs []string
	for _, m := range reErr.FindAllStringSubmatch(out, -1) {
		errs = append(errs, strings.TrimSpace(m[1]))
	}
	r.errs = strings.Join(errs, "; ")
	return r, nil
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

func printTable(w io.Writer, title string, rs []result) {
	direct := map[int]result{}
	for _, r := range rs {
		if r.target == "direct" {
			direct[r.conns] = r
		}
	}
	fmt.Fprintf(w, "Proxies, small responses, keep-alive, wrk on 127.0.0.1 (%d CPUs, %s), %s\n\n", runtime.NumCPU(), runtime.Version(), title)
	fmt.Fprintln(w, "| target | conns | req/s | % of direct | p50 | p99 | p50 added vs direct | errors |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
	for _, r := range rs {
		d := direct[r.conns]
		added := "—"
		if r.target != "direct" {
			added = fmt.Sprintf("%+.0f µs", float64(r.p50-d.p50)/float64(time.Microsecond))
		}
		errs := r.errs
		if errs == "" {
			errs = "0"
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f %% | %s | %s | %s | %s |\n",
			r.target, r.conns, r.rps, 100*r.rps/d.rps, us(r.p50), us(r.p99), added, errs)
	}
}

// ---- route table ----

func routesFor(name string, i int) spec.ServiceRoutes {
	return spec.ServiceRoutes{
		Service: name,
		Revisions: []spec.RevisionRoutes{{
			ID:        "r1",
			Instances: []string{fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255)},
		}},
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func benchRoutes(n int) error {
	r, err := router.New(router.Config{AppsDomain: "localhost"}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	before := heap()
	t0 := time.Now()
	for i := range n {
		if err := r.Publish(routesFor(fmt.Sprintf("svc-%05d", i), i)); err != nil {
			return err
		}
	}
	fill := time.Since(t0)
	after := heap()

	const samples = 50
	timeIt := func(f func(i int) error) ([]time.Duration, error) {
		ds := make([]time.Duration, samples)
		for i := range samples {
			t := time.Now()
			if err := f(i); err != nil {
				return nil, err
			}
			ds[i] = time.Since(t)
		}
		slices.Sort(ds)
		return ds, nil
	}
	add, err := timeIt(func(i int) error { return r.Publish(routesFor(fmt.Sprintf("new-%02d", i), n+i)) })
	if err != nil {
		return err
	}
	upd, err := timeIt(func(i int) error {
		return r.Publish(routesFor(fmt.Sprintf("svc-%05d", i*(n/samples)), n+samples+i))
	})
	if err != nil {
		return err
	}
	// Keep r reachable until after the heap was measured.
	runtime.KeepAlive(r)

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "Route table, %d services (1 revision, 1 instance each), in-process\n\n", n)
	fmt.Fprintln(w, "| measure | value | target |")
	fmt.Fprintln(w, "| --- | ---: | ---: |")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "| Publish of a new service, median of %d | %s (max %s) | ≤ 10 ms |\n", samples, ms(add[samples/2]), ms(add[samples-1]))
	fmt.Fprintf(w, "| Publish updating a service, median of %d | %s (max %s) | ≤ 10 ms |\n", samples, ms(upd[samples/2]), ms(upd[samples-1]))
	fmt.Fprintf(w, "| heap per route (after GC) | %.2f KB | ≤ 10 KB |\n", float64(after-before)/float64(n)/1024)
	fmt.Fprintf(w, "| publishing all %d, one by one | %s (%s each) | |\n", n, ms(fill), ms(fill/time.Duration(n)))
	return errors.Join(w.Flush())
}
